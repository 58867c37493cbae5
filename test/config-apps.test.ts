import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import {
  changeRebuilds,
  interpolate,
  parsePreviewConfig,
  resolveAppUrls,
  type AppConfig,
  type ConfigProblem,
  type PreviewConfig,
} from "../src/config/index.js";
import { renderFieldDocs } from "../src/config/docs.js";
import { compileGlob } from "../src/config/glob.js";
import { APP_FIELDS, REPOSITORY_FIELDS, previewSchema } from "../src/config/schema.js";
import { appName } from "../src/model/app-name.js";

// Several apps per pull request (issue 15): the `apps:` block of .preview.yml.

// The reference for the globs of `paths` (installed with the project's dependencies), loaded
// untyped: only its matcher is used, to hold src/config/glob.ts to the syntax users know.
const picomatch = createRequire(import.meta.url)("picomatch") as (glob: string, options: { dot: boolean }) => (path: string) => boolean;

function parsed(text: string): { config: PreviewConfig; apps?: AppConfig[] } {
  const result = parsePreviewConfig(text);
  if (!result.ok) throw new Error(`expected a valid config, got: ${JSON.stringify(result.problems)}`);
  return result;
}

function apps(text: string): AppConfig[] {
  const result = parsed(text);
  if (!result.apps) throw new Error("expected apps");
  return result.apps;
}

/** Each problem as "LINE: MESSAGE". */
function problems(text: string): string[] {
  const result = parsePreviewConfig(text);
  if (result.ok) throw new Error("expected problems, the config was valid");
  return result.problems.map((p: ConfigProblem) => `${p.line}: ${p.message}`);
}

/** What a file without apps: parses to, for the same fields. */
const single = (text: string) => parsed(text).config;

describe("a .preview.yml with apps:", () => {
  const twoApps = `
ttl: 3d
max_previews: 4
trigger:
  labels: [preview]
forks: off
apps:
  api:
    dockerfile: services/api/Dockerfile
    context: services/api
    paths: [services/api/**, packages/shared/**]
    port: 8080
    secrets: [STRIPE_KEY]
    hooks:
      release: npm run migrate
  web:
    dockerfile: apps/web/Dockerfile
    context: .
    port: 3000
    env:
      API_URL: \${apps.api.url}
`;

  it("gives each app, in the file's order, its own fields with their defaults and the repository's fields", () => {
    const [api, web] = apps(twoApps);
    expect(api.name).toBe("api");
    expect(web.name).toBe("web");
    // Each app reads as the same fields would at the top level of a file without apps:.
    const repository = "ttl: 3d\nmax_previews: 4\ntrigger:\n  labels: [preview]\nforks: off\n";
    expect(api.config).toEqual(
      single(`${repository}dockerfile: services/api/Dockerfile\ncontext: services/api\nport: 8080\nsecrets: [STRIPE_KEY]\nhooks:\n  release: npm run migrate\n`),
    );
    expect(web.config).toEqual(single(`${repository}dockerfile: apps/web/Dockerfile\ncontext: .\nport: 3000\nenv:\n  API_URL: \${apps.api.url}\n`));
    expect(api.config).toMatchObject({ ttlMs: 3 * 86_400_000, max_previews: 4, forks: "off", trigger: { labels: ["preview"], drafts: false }, hooks: { release: "npm run migrate", timeoutMs: 600_000 } });
    expect(web.config).toMatchObject({ port: 3000, secrets: [], hooks: { timeout: "10m" }, resources: { memory: "256mb" }, dockerfileNamed: true });
    expect(web.config.hooks.release).toBeUndefined();
  });

  it("keeps paths beside the config of the apps that have them", () => {
    const [api, web] = apps(twoApps);
    expect(api.paths).toEqual(["services/api/**", "packages/shared/**"]);
    expect(web).not.toHaveProperty("paths");
    expect(api.config).not.toHaveProperty("paths");
  });

  it("gives `config` as the first app's, the very same object", () => {
    const result = parsed(twoApps);
    expect(result.config).toBe(result.apps?.[0].config);
  });

  it("gives each app a config of its own, sharing no section with another", () => {
    const [api, web] = apps(twoApps);
    expect(api.config.trigger).toEqual(web.config.trigger);
    expect(api.config.trigger).not.toBe(web.config.trigger);
  });

  it("reads three apps, one written with nothing after its name, which gets every default", () => {
    const three = apps(`
notify: comment
max_previews: 9
database:
  neon:
    project: proud-fog-123456
apps:
  web:
    port: 3000
    env:
      API_URL: \${apps.api.url}
  api:
    region: cdg
    resources:
      memory: 1gb
    env:
      SELF: \${PREVIEW_URL}
  worker:
`);
    expect(three.map((app) => app.name)).toEqual(["web", "api", "worker"]);
    const database = { provider: "neon", neon: { project: "proud-fog-123456" }, env: "DATABASE_URL" };
    expect(three[2].config).toEqual({ ...single(""), notify: "comment", max_previews: 9, database });
    expect(three[1].config).toMatchObject({ region: "cdg", port: 8080, resources: { memory: "1gb", memoryMb: 1024 }, notify: "comment", max_previews: 9, database });
    expect(three[0].config).toMatchObject({ port: 3000, notify: "comment", max_previews: 9, database, dockerfileNamed: false });
    expect(three[0].config).not.toHaveProperty("region");
  });

  it("means what it always meant without apps:, even with text that looks like a reference", () => {
    const result = parsed("port: 3000\nenv:\n  API_URL: ${apps.api.url}\n");
    expect(result.apps).toBeUndefined();
    expect(result.config.env).toEqual({ API_URL: "${apps.api.url}" });
    // `apps:` with nothing after it is not set, like every other field.
    expect(parsed("port: 3000\napps:\n")).toEqual({ ok: true, config: single("port: 3000\n") });
  });
});

describe("an invalid .preview.yml with apps:", () => {
  it("points each field of one app left at the top level at its line, and judges its value no further", () => {
    expect(
      problems(`ttl: 3d
port: lots
env:
  A: b
hooks:
  timeout: 5m
apps:
  api:
    port: 8080
`),
    ).toEqual([
      "2: port: with apps:, each app has its own port; move it under the apps that need it, like apps.api.port",
      "3: env: with apps:, each app has its own env; move it under the apps that need it, like apps.api.env",
      "5: hooks: with apps:, each app has its own hooks; move it under the apps that need it, like apps.api.hooks",
    ]);
  });

  it("points a repository's field written under an app at its line", () => {
    expect(problems("apps:\n  api:\n    port: 8080\n    forks: trusted\n    max_previews: 2\n")).toEqual([
      "4: apps.api.forks: forks applies to the whole repository, not to one app; write it once at the top level of the file",
      "5: apps.api.max_previews: max_previews applies to the whole repository, not to one app; write it once at the top level of the file",
    ]);
  });

  it("judges each app's fields as the top level's, naming the app", () => {
    expect(
      problems(`apps:
  api:
    port: 0
    context: ../other
    dockerFile: api.Dockerfile
    health:
      timeout: 20m
  web:
    env:
      DEBUG: true
`),
    ).toEqual([
      "3: apps.api.port: must be a whole number between 1 and 65535 (got 0)",
      '4: apps.api.context: "../other" points outside the repository; use a path inside it',
      '5: unknown field "dockerFile" in apps.api (did you mean "dockerfile"?)',
      '7: apps.api.health.timeout: "20m" is too long; the most allowed is 15m',
      '10: apps.web.env.DEBUG: must be a string; put the value in quotes, like DEBUG: "true" (got true)',
    ]);
  });

  it("says where a misspelt app field goes when it is written at the top level", () => {
    expect(problems("dockerFile: x\napps:\n  api:\n")).toEqual(['1: unknown field "dockerFile" (did you mean "dockerfile"? With apps:, it goes under each app)']);
  });

  it("accepts app names that fit a Fly name and refuses the others at the name", () => {
    expect(apps("apps:\n  a:\n  web-admin:\n  api2:\n  a-twenty-char-name-1:\n").map((app) => app.name)).toEqual(["a", "web-admin", "api2", "a-twenty-char-name-1"]);
    const hint = 'is not an app name; use lowercase letters, digits and "-", starting with a letter, at most 20 characters, like "api" or "web-admin"';
    expect(problems("apps:\n  Web:\n  2api:\n  api-:\n  web--admin:\n  a-twenty-one-chars-xx:\n  web_admin:\n")).toEqual(
      ["Web", "2api", "api-", "web--admin", "a-twenty-one-chars-xx", "web_admin"].map((name, index) => `${index + 2}: apps: "${name}" ${hint}`),
    );
  });

  it("refuses an apps: that names no app, or is not a mapping", () => {
    expect(problems("apps: {}\n")).toEqual(["1: apps: must name at least one app, like apps: {web: {port: 3000}}; leave apps out for a single app"]);
    const eleven = Array.from({ length: 11 }, (_, i) => `  app${i}: {port: 3000}\n`).join("");
    expect(problems(`apps:\n${eleven}`)).toEqual(["1: apps: names more than 10 apps, the most a pull request's preview can have; keep the apps a reviewer needs together"]);
    expect(apps(`apps:\n${eleven.split("\n").slice(1).join("\n")}`)).toHaveLength(10);
    expect(problems("apps: [web, api]\n")).toEqual(['1: apps: must be a mapping of fields, written as indented "name: value" lines (got a list)']);
    expect(problems("apps:\n  web: 3000\n")).toEqual(['2: apps.web: must be a mapping of fields, written as indented "name: value" lines (got 3000)']);
  });

  it("says that paths belong to an app under apps:", () => {
    expect(problems("port: 3000\npaths: [src/**]\n")).toEqual([
      "2: paths: only an app under apps: has paths (the files that rebuild it); a file without apps: rebuilds its one app on every push",
    ]);
  });

  it("points each path pattern that cannot work at its own place", () => {
    expect(problems('apps:\n  api:\n    paths:\n      - "!services/web/**"\n      - /services/api/**\n      - services/../x/**\n      - "services/{api"\n      - ""\n      - 7\n')).toEqual([
      '4: apps.api.paths[0]: "!services/web/**" excludes files, which paths cannot: list the files whose changes rebuild the app, like "services/api/**"',
      '5: apps.api.paths[1]: "/services/api/**" is an absolute path; write it relative to the repository root, like "services/api/**"',
      '6: apps.api.paths[2]: "services/../x/**" uses "..", which no changed file\'s path has; write it relative to the repository root, like "services/api/**"',
      '7: apps.api.paths[3]: "services/{api" has a "{" without its "}"',
      "8: apps.api.paths[4]: must not be empty",
      '9: apps.api.paths[5]: must be a string; put the value in quotes, like - "7" (got 7)',
    ]);
    expect(problems("apps:\n  api:\n    paths: []\n")).toEqual(["3: apps.api.paths: must list at least one path; leave paths out to rebuild the app on every push"]);
    expect(problems("apps:\n  api:\n    paths: services/api/**\n")[0]).toMatch(/^3: apps.api.paths: must be a list/);
  });

  it("gives every app the pull request's Fly Postgres database, as it does a Neon branch", () => {
    const [api, web] = apps("database:\n  fly_postgres:\n    cluster: acme-db\n  env: PG_URL\napps:\n  api:\n  web:\n");
    const database = { provider: "fly_postgres", fly_postgres: { cluster: "acme-db" }, env: "PG_URL" };
    expect(api.config.database).toEqual(database);
    expect(web.config.database).toEqual(database);
  });

  it("refuses a database variable that an app also sets, at database.env, naming the app's line", () => {
    expect(problems("database:\n  fly_postgres:\n    cluster: acme-db\n  env: PG_URL\napps:\n  api:\n    env:\n      PG_URL: x\n  web:\n    secrets: [PG_URL]\n")).toEqual([
      '4: database.env: "PG_URL" is also set by apps.api.env (line 8); the preview would get two values for it: give database.env another name, or remove it from apps.api.env',
      '4: database.env: "PG_URL" is also listed in apps.web.secrets (line 10); the preview would get two values for it: give database.env another name, or remove it from apps.web.secrets',
    ]);
  });
});

describe("${apps.NAME.url}", () => {
  it("refuses a reference to an app the file does not have, on the line of the value", () => {
    expect(problems("apps:\n  api:\n  web:\n    env:\n      OK: ${apps.api.url}\n      API_URL: ${apps.apii.url}/v1\n")).toEqual([
      '6: apps.web.env.API_URL: ${apps.apii.url} names no app: there is no "apii" under apps:; the apps are api, web',
    ]);
  });

  it("refuses a cycle of apps referring to each other, on the line of each reference in it", () => {
    expect(
      problems(`apps:
  api:
    env:
      WEB_URL: \${apps.web.url}
  web:
    build_args:
      API_URL: \${apps.api.url}
  worker:
    env:
      API_URL: \${apps.api.url}
`),
    ).toEqual([
      "4: apps.api.env.WEB_URL: ${apps.web.url} makes a cycle of apps referring to each other's URLs (api → web → api); remove the reference on one side",
      "7: apps.web.build_args.API_URL: ${apps.api.url} makes a cycle of apps referring to each other's URLs (web → api → web); remove the reference on one side",
    ]);
    expect(problems("apps:\n  a:\n    env:\n      B: ${apps.b.url}\n  b:\n    env:\n      C: ${apps.c.url}\n  c:\n    env:\n      A: x ${apps.a.url}\n")).toEqual([
      "4: apps.a.env.B: ${apps.b.url} makes a cycle of apps referring to each other's URLs (a → b → c → a); remove the reference on one side",
      "7: apps.b.env.C: ${apps.c.url} makes a cycle of apps referring to each other's URLs (b → c → a → b); remove the reference on one side",
      "10: apps.c.env.A: ${apps.a.url} makes a cycle of apps referring to each other's URLs (c → a → b → c); remove the reference on one side",
    ]);
  });

  it("refuses an app's reference to itself, pointing at ${PREVIEW_URL}", () => {
    expect(problems("apps:\n  web:\n    env:\n      SELF: ${apps.web.url}\n")).toEqual([
      "4: apps.web.env.SELF: ${apps.web.url} is this app's own URL, a cycle of one app; write ${PREVIEW_URL} instead",
    ]);
  });

  it("refuses a ${apps.…} that is not ${apps.NAME.url}", () => {
    const found = problems("apps:\n  api:\n  web:\n    env:\n      A: ${apps.api}\n      B: ${apps.api.host}\n      C: ${apps.api.url\n      D: ok\n");
    expect(found).toEqual(
      ["${apps.api}", "${apps.api.host}", "${apps.api.url"].map(
        (text, index) => `${index + 5}: apps.web.env.${"ABC"[index]}: "${text}" is not a reference to an app's URL; write \${apps.NAME.url}, NAME being an app under apps: (api, web)`,
      ),
    );
  });

  it("leaves other placeholders, and unknown ones, to interpolate as before", () => {
    const [web] = apps("apps:\n  web:\n    env:\n      A: ${PREVIEW_URL}\n      B: ${HOME}\n      C: ${APPS.api.url}\n");
    expect(web.config.env).toEqual({ A: "${PREVIEW_URL}", B: "${HOME}", C: "${APPS.api.url}" });
  });

  it("resolves to the other app's preview URL, for the pull request, in env and build_args", () => {
    const parsedApps = apps(
      "apps:\n  api:\n    env:\n      SELF: ${PREVIEW_URL}\n  web:\n    env:\n      API_URL: ${apps.api.url}/v1\n      BOTH: ${apps.api.url} ${apps.worker.url}\n    build_args:\n      NEXT_PUBLIC_API: ${apps.api.url}\n  worker:\n",
    );
    const resolved = resolveAppUrls(parsedApps, { owner: "Acme", repo: "shop", number: 42 });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
    const [api, web, worker] = resolved.apps;
    expect(web.config.env).toEqual({ API_URL: "https://pr-42-api-acme-shop.fly.dev/v1", BOTH: "https://pr-42-api-acme-shop.fly.dev https://pr-42-worker-acme-shop.fly.dev" });
    expect(web.config.build_args).toEqual({ NEXT_PUBLIC_API: "https://pr-42-api-acme-shop.fly.dev" });
    expect(api.config.env).toEqual({ SELF: "${PREVIEW_URL}" });
    expect(worker).toEqual(parsedApps[2]);
    // The URL is the one the app is deployed at, whatever the name's length.
    const long = resolveAppUrls(parsedApps, { owner: "a-very-long-organisation-name", repo: "an-even-longer-repository-name", number: 7 });
    if (!long.ok) throw new Error(JSON.stringify(long.problems));
    expect(long.apps[1].config.env.API_URL).toBe(`https://${appName("a-very-long-organisation-name", "an-even-longer-repository-name", 7, "api")}.fly.dev/v1`);
    // The parsed apps are left as they were.
    expect(parsedApps[1].config.env.API_URL).toBe("${apps.api.url}/v1");
  });

  it("is resolved before the placeholders, so a branch name holding one is inserted literally", () => {
    const [, web] = apps("apps:\n  api:\n  web:\n    env:\n      REF: ${HEAD_REF}\n");
    const resolved = resolveAppUrls([{ name: "api", config: web.config }, web], { owner: "acme", repo: "shop", number: 1 });
    if (!resolved.ok) throw new Error("unexpected problems");
    const vars = { PR_NUMBER: "1", PREVIEW_URL: "https://x", APP_NAME: "x", HEAD_SHA: "abc", HEAD_REF: "feature/${apps.api.url}" };
    expect(interpolate(resolved.apps[1].config.env, vars)).toEqual({ REF: "feature/${apps.api.url}" });
  });

  it("gives the problems parsing gives when handed apps that did not come from a parse", () => {
    const [web] = apps("apps:\n  web:\n");
    const config = { ...web.config, env: { A: "${apps.nope.url}" } };
    expect(resolveAppUrls([{ name: "web", config }], { owner: "acme", repo: "shop", number: 1 })).toEqual({
      ok: false,
      problems: [{ app: "web", field: "env", key: "A", message: 'apps.web.env.A: ${apps.nope.url} names no app: there is no "nope" under apps:; the apps are web' }],
    });
  });
});

describe("paths", () => {
  const paths = ["services/api/**", "packages/shared/**", "Dockerfile.*"];

  it("rebuild an app when a changed file matches one of its globs, dotfiles included", () => {
    expect(changeRebuilds(paths, ["README.md", "services/api/src/index.ts"])).toBe(true);
    expect(changeRebuilds(paths, ["services/api/.env.example"])).toBe(true);
    expect(changeRebuilds(paths, ["packages/shared/a/b/c.ts"])).toBe(true);
    expect(changeRebuilds(paths, ["Dockerfile.api"])).toBe(true);
    expect(changeRebuilds(paths, ["services/apix/index.ts", "services/web/api/x.ts", "docs/Dockerfile.api"])).toBe(false);
    expect(changeRebuilds(paths, [])).toBe(false);
  });

  it("rebuild an app without paths on every change", () => {
    expect(changeRebuilds(undefined, ["README.md"])).toBe(true);
    expect(changeRebuilds(undefined, [])).toBe(true);
  });

  it("read ./ at the start as the repository root", () => {
    expect(changeRebuilds(["./services/api/**"], ["services/api/x.ts"])).toBe(true);
  });

  const matches = (glob: string, path: string) => {
    const compiled = compileGlob(glob);
    if (!compiled.ok) throw new Error(compiled.problem);
    return compiled.matches(path);
  };

  it("read *, **, ?, sets and braces as picomatch does, names starting with a dot included", () => {
    const globs = ["services/api/**", "**/*.ts", "src/*.{ts,tsx}", "a/**/b", "**", "*", "a/*/c", "?at.md", "[ch]at.md", "[^c]at.md", "[a-c]*/x", "{a,b/{c,d}}/**", "a*b*c", "**/.env*", "docs/**/*.md", "x/**/**/y"];
    const files = ["services/api/index.ts", "services/api", "services/apix/a", "src/a.ts", "src/a.tsx", "src/a.js", "src/deep/a.ts", "a/b", "a/x/y/b", "a/b/c", "a/bb/c", "cat.md", "hat.md", "bat.md", "at.md", "b/x", "d/x", "a/z", "b/c/z", "b/d/q/r", "b/e/z", "abc", "aXbYc", "ab/c", ".env", "web/.env.local", "docs/a.md", "docs/x/.hidden/b.md", "x/y", "x/1/2/y", ".github/workflows/ci.yml"];
    for (const glob of globs) {
      const reference = picomatch(glob, { dot: true });
      for (const file of files) expect(matches(glob, file), `${glob} ${file}`).toBe(reference(file));
    }
  });

  it("match every other character as itself, as a Next.js route group needs", () => {
    expect(matches("app/(shop)/**", "app/(shop)/cart/page.tsx")).toBe(true);
    expect(matches("app/(shop)/**", "app/shop/cart/page.tsx")).toBe(false);
    expect(matches("a+(b|c)", "a+(b|c)")).toBe(true);
    expect(matches("a\\*b", "a*b")).toBe(true);
    expect(matches("a\\*b", "axb")).toBe(false);
    expect(matches("{a}", "{a}")).toBe(true);
    // As in a shell and in .gitignore (picomatch reads it otherwise).
    expect(matches("[!c]at.md", "hat.md")).toBe(true);
    expect(matches("[!c]at.md", "cat.md")).toBe(false);
  });

  it("refuse a glob that names no file or stands for too many", () => {
    expect(compileGlob("a/[bc")).toEqual({ ok: false, problem: 'has a "[" without its "]"' });
    expect(compileGlob("./")).toEqual({ ok: false, problem: "names no file" });
    expect(compileGlob("{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}")).toEqual({ ok: false, problem: "stands for more than 64 globs through its {…}; list fewer" });
  });

  it("match in time proportional to the glob and the path, not exponential in them, as a RegExp can be", () => {
    // Each of these takes picomatch's RegExp longer than a minute.
    const hostile: Array<[string, string]> = [
      [`${"*a".repeat(12)}b`, "a".repeat(40)],
      [`${Array(30).fill("*a*").join("/")}/b`, `${Array(30).fill("a".repeat(60)).join("/")}/c`],
      [`${"**/".repeat(200)}${"*a".repeat(200)}b`, `${"a/".repeat(500)}${"a".repeat(1000)}`],
    ];
    const started = performance.now();
    for (const [glob, path] of hostile) expect(matches(glob, path)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("the schema, on which field is whose", () => {
  it("names the repository's fields in the description of apps, which editors show", () => {
    const description = previewSchema.properties?.apps?.description ?? "";
    for (const field of REPOSITORY_FIELDS) expect(description, field).toContain(`\`${field}\``);
  });

  it("lists each app's fields in the reference, linked to their top-level sections, and describes paths there", () => {
    const docs = renderFieldDocs(previewSchema);
    const [, fields] = /### `apps\.NAME`\n[\s\S]*?- Fields: (.*)/.exec(docs) ?? [];
    expect(fields).toBe([...APP_FIELDS.map((field) => `[\`${field}\`](#${field})`), "[`paths`](#appsnamepaths)"].join(", "));
    expect(docs).toContain("### `apps.NAME.paths`");
    expect(docs).not.toContain("### `apps.NAME.port`");
  });
});

describe("docs/monorepos.md", () => {
  const docs = readFileSync(new URL("../docs/monorepos.md", import.meta.url), "utf8");

  it("has a worked example that is valid, and reads as the text says", () => {
    const [, example] = /## A worked example\n\n```yaml\n([\s\S]*?)```/.exec(docs) ?? [];
    const [api, web, worker] = apps(example);
    expect([api.name, web.name, worker.name]).toEqual(["api", "web", "worker"]);
    expect(worker.paths).toBeUndefined();
    expect(web.config).toMatchObject({ ttl: "3d", trigger: { labels: ["preview"] } });
    const resolved = resolveAppUrls([api, web, worker], { owner: "acme", repo: "shop", number: 42 });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
    expect(resolved.apps[1].config.env.API_URL).toBe("https://pr-42-api-acme-shop.fly.dev");
    expect(resolved.apps[2].config.env.API_URL).toBe("https://pr-42-api-acme-shop.fly.dev");
    for (const app of ["api", "web", "worker"]) expect(docs).toContain(`\`${appName("acme", "shop", 42, app)}\``);
  });

  it("shows the problems an invalid file really gets", () => {
    const [, file, output] = /A file that mixes them up[\s\S]*?```text\n([\s\S]*?)```\n\n```text\n([\s\S]*?)```/.exec(docs) ?? [];
    expect(problems(file.replace(/^\d+ {2}/gm, "")).map((line) => `- line ${line}\n`).join("")).toBe(output);
  });
});

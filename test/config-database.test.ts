import { describe, expect, it } from "vitest";
import { PREVIEW_VARIABLES, parsePreviewConfig, type ConfigProblem, type DatabaseConfig } from "../src/config/index.js";
import { previewSchema } from "../src/config/schema.js";

function database(text: string): DatabaseConfig | undefined {
  const result = parsePreviewConfig(text);
  if (!result.ok) throw new Error(`expected a valid config, got: ${JSON.stringify(result.problems)}`);
  return result.config.database;
}

/** Each problem as "line:column: message", the way an annotation places it. */
function problems(text: string): string[] {
  const result = parsePreviewConfig(text);
  if (result.ok) throw new Error("expected problems, the config was valid");
  return result.problems.map((p: ConfigProblem) => `${p.line}:${p.column}: ${p.message}`);
}

describe("a database block in .preview.yml", () => {
  it("a Neon branch: the project, its parent and the secret holding the API key, named as the file names them", () => {
    const text = `port: 3000
database:
  neon:
    project: proud-fog-123456
    parent: main
    api_key_secret: NEON_API_KEY
  env: DATABASE_URL
`;
    expect(database(text)).toStrictEqual({
      provider: "neon",
      neon: { project: "proud-fog-123456", parent: "main", api_key_secret: "NEON_API_KEY" },
      env: "DATABASE_URL",
    });
  });

  it("leaves parent and api_key_secret unset when the file does, so the project's default branch and the server's key are used", () => {
    expect(database("database:\n  neon:\n    project: proud-fog-123456\n")).toStrictEqual({
      provider: "neon",
      neon: { project: "proud-fog-123456" },
      env: "DATABASE_URL",
    });
    // Written with nothing after them: not set, like any other field.
    expect(database("database:\n  neon:\n    project: proud-fog-123456\n    parent:\n    api_key_secret:\n  env:\n")).toStrictEqual({
      provider: "neon",
      neon: { project: "proud-fog-123456" },
      env: "DATABASE_URL",
    });
  });

  it("a Fly Postgres cluster, with the variable the preview gets", () => {
    expect(database("database:\n  fly_postgres:\n    cluster: acme-preview-db\n  env: POSTGRES_URL\n")).toStrictEqual({
      provider: "fly_postgres",
      fly_postgres: { cluster: "acme-preview-db" },
      env: "POSTGRES_URL",
    });
  });

  it("no database block, or one with nothing in it, means no database", () => {
    expect(database("port: 3000\n")).toBeUndefined();
    expect(database("database:\n")).toBeUndefined();
  });

  it("accepts the longest names Neon and Fly allow", () => {
    expect(database(`database:\n  neon:\n    project: ${"p".repeat(60)}\n    parent: ${"b".repeat(256)}\n`)).toMatchObject({ neon: { project: "p".repeat(60) } });
    expect(database(`database:\n  fly_postgres:\n    cluster: ${"c".repeat(63)}\n`)).toMatchObject({ fly_postgres: { cluster: "c".repeat(63) } });
  });

  it("accepts a branch name with slashes, spaces and any letters", () => {
    expect(database('database:\n  neon:\n    project: proud-fog-123456\n    parent: "release/2.0 — été"\n')).toMatchObject({
      neon: { parent: "release/2.0 — été" },
    });
  });
});

describe("a database block that does not give exactly one provider", () => {
  it("both neon and fly_postgres: one message, on the database line", () => {
    expect(
      problems(`port: 3000
database:
  neon:
    project: proud-fog-123456
  fly_postgres:
    cluster: acme-preview-db
`),
    ).toEqual(["2:1: database: give exactly one of neon or fly_postgres, not both"]);
  });

  it("neither: the same message, without ajv's oneOf or required wording", () => {
    expect(problems("port: 3000\ndatabase:\n  env: DATABASE_URL\n")).toEqual(["2:1: database: give exactly one of neon or fly_postgres"]);
    expect(problems("database: {}\n")).toEqual(["1:1: database: give exactly one of neon or fly_postgres"]);
  });

  it("an unknown provider: named at its own line, and the providers there are", () => {
    expect(problems("database:\n  planetscale:\n    url: x\n")).toEqual([
      "1:1: database: give exactly one of neon or fly_postgres",
      '2:3: unknown field "planetscale" in database; fields allowed here: neon, fly_postgres, env',
    ]);
  });

  it("a misspelt provider: the one that was meant", () => {
    expect(problems("database:\n  neno:\n    project: proud-fog-123456\n")).toEqual([
      "1:1: database: give exactly one of neon or fly_postgres",
      '2:3: unknown field "neno" in database (did you mean "neon"?)',
    ]);
  });

  it("a database that is not a mapping: only the type, not a word about providers", () => {
    expect(problems("database: neon\n")).toEqual(['1:11: database: must be a mapping of fields, written as indented "name: value" lines (got "neon")']);
  });
});

describe("a database block with a wrong value", () => {
  it("a provider without its required field: named, with an example, on the provider's line", () => {
    expect(problems("database:\n  neon:\n    parent: main\n")).toEqual(["2:3: database.neon: project is missing; add it, like project: proud-fog-123456"]);
    // `neon:` with nothing after it is a Neon block lacking its project, not a missing provider.
    expect(problems("database:\n  neon:\n")).toEqual(["2:3: database.neon: project is missing; add it, like project: proud-fog-123456"]);
    expect(problems("database:\n  fly_postgres: {}\n")).toEqual(["2:3: database.fly_postgres: cluster is missing; add it, like cluster: acme-preview-db"]);
  });

  it("explains each malformed name in plain words, at its value", () => {
    expect(
      problems(`database:
  neon:
    project: Proud Fog
    parent: "main\\n"
    api_key_secret: neon-api-key
  env: 1DATABASE_URL
`),
    ).toEqual([
      '3:14: database.neon.project: "Proud Fog" is not a Neon project id; use the project\'s id (not its name), like "proud-fog-123456": lowercase letters, digits and "-", at most 60 characters',
      '4:13: database.neon.parent: "main\\n" is not a Neon branch name; it must not contain control characters such as tabs or line breaks',
      '5:21: database.neon.api_key_secret: "neon-api-key" is not a valid name; use letters, digits and _, not starting with a digit',
      '6:8: database.env: "1DATABASE_URL" is not a valid name; use letters, digits and _, not starting with a digit',
    ]);
  });

  it("refuses names longer than Neon and Fly allow, and an empty branch name", () => {
    expect(problems(`database:\n  neon:\n    project: ${"p".repeat(61)}\n`)[0]).toMatch(/^3:14: database.neon.project: "p+" is not a Neon project id;/);
    expect(problems(`database:\n  neon:\n    project: p\n    parent: ${"b".repeat(257)}\n`)).toEqual(["4:13: database.neon.parent: is too long; at most 256 characters"]);
    expect(problems('database:\n  neon:\n    project: p\n    parent: ""\n')).toEqual(["4:13: database.neon.parent: must not be empty"]);
    expect(problems(`database:\n  fly_postgres:\n    cluster: ${"c".repeat(64)}\n`)[0]).toMatch(/^3:14: database.fly_postgres.cluster: "c+" is not a Fly app name;/);
  });

  it("refuses a cluster name Fly would not have made", () => {
    for (const cluster of ["Acme-DB", "-acme", "acme_db", "acme.db"]) {
      expect(problems(`database:\n  fly_postgres:\n    cluster: ${cluster}\n`), cluster).toEqual([
        `3:14: database.fly_postgres.cluster: "${cluster}" is not a Fly app name; use lowercase letters, digits and "-", at most 63 characters and not starting with "-", like "acme-preview-db"`,
      ]);
    }
  });

  it("refuses an unknown field inside a provider", () => {
    expect(problems("database:\n  neon:\n    project: p\n    branch: main\n")).toEqual(['4:5: unknown field "branch" in database.neon; fields allowed here: project, parent, api_key_secret']);
  });
});

describe("the variable database.env names", () => {
  it("may not be one of the ${…} placeholders of env", () => {
    for (const name of ["PR_NUMBER", "PREVIEW_URL", "APP_NAME", "HEAD_SHA", "HEAD_REF"]) {
      expect(problems(`database:\n  fly_postgres:\n    cluster: acme\n  env: ${name}\n`), name).toEqual([
        `4:8: database.env: "${name}" is the name of one of fly-preview's placeholders (\${PR_NUMBER}, \${PREVIEW_URL}, \${APP_NAME}, \${HEAD_SHA}, \${HEAD_REF}); a variable of that name would be mistaken for it: use another name, like DATABASE_URL`,
      ]);
    }
  });

  it("says so in its description, which editors show, naming every placeholder", () => {
    const description = previewSchema.properties?.database?.properties?.env?.description ?? "";
    for (const name of PREVIEW_VARIABLES) expect(description).toContain(`\`${name}\``);
  });

  it("may not also be set by env or listed in secrets: the message names the other line", () => {
    expect(
      problems(`env:
  NODE_ENV: production
  PG_URL: postgres://localhost/dev
secrets:
  - STRIPE_KEY
  - PG_URL
database:
  neon:
    project: proud-fog-123456
  env: PG_URL
`),
    ).toEqual([
      '10:8: database.env: "PG_URL" is also set by env (line 3); the preview would get two values for it: give database.env another name, or remove it from env',
      '10:8: database.env: "PG_URL" is also listed in secrets (line 6); the preview would get two values for it: give database.env another name, or remove it from secrets',
    ]);
  });

  it("clashes by its default too, placed on the database line since database.env is not written", () => {
    // The likely case: a repository that stored its own DATABASE_URL, now asking for a database.
    expect(problems("secrets: [STRIPE_KEY, DATABASE_URL]\ndatabase:\n  fly_postgres:\n    cluster: acme-preview-db\n")).toEqual([
      '2:1: database.env: "DATABASE_URL" (the default) is also listed in secrets (line 1); the preview would get two values for it: set database.env to another name, or remove it from secrets',
    ]);
    expect(database("secrets: [DATABASE_URL]\ndatabase:\n  fly_postgres:\n    cluster: acme-preview-db\n  env: APP_DATABASE_URL\n")).toMatchObject({
      env: "APP_DATABASE_URL",
    });
  });

  it("is compared exactly, as the preview's environment is", () => {
    expect(database("env:\n  database_url: x\ndatabase:\n  neon:\n    project: p\n")).toMatchObject({ env: "DATABASE_URL" });
  });

  it("is checked along with the file's other problems, all reported at once", () => {
    expect(problems("port: 0\nsecrets: [DATABASE_URL]\ndatabase:\n  neon:\n    project: p\n")).toEqual([
      "1:7: port: must be a whole number between 1 and 65535 (got 0)",
      '3:1: database.env: "DATABASE_URL" (the default) is also listed in secrets (line 2); the preview would get two values for it: set database.env to another name, or remove it from secrets',
    ]);
  });
});

import { parse, stringify, TomlError } from "smol-toml";

export interface FlyTomlInput {
  app: string;
  region: string;
  /** Relative to the generated fly.toml's directory, which is how flyctl resolves it. */
  dockerfile: string;
  port: number;
  /** For example "512mb". */
  memory: string;
  cpus: number;
  cpuKind: string;
  env?: Record<string, string>;
  /** Text of the repository's own fly.toml, used as the starting point. */
  base?: string;
}

type Table = Record<string, unknown>;

/**
 * The fly.toml a preview is deployed with. It is always generated, never the user's
 * file edited in place, so a preview cannot change what their production deploy uses.
 */
export function renderFlyToml(input: FlyTomlInput): string {
  const base = input.base === undefined ? {} : parseBase(input.base);
  // Previews get no volumes, and flyctl refuses to start a machine whose mount has
  // no volume. [[services]] goes too: the preview is served through [http_service]
  // alone, and a service on the same ports would clash with it.
  const { mounts: _mounts, services: _services, ...kept } = base;
  // The preview builds the pull request's code, so a prebuilt image or a buildpack
  // setting in the user's [build] would deploy something else.
  const { image: _image, builder: _builder, buildpacks: _buildpacks, ...build } = table(base, "build");

  const config: Table = {
    ...kept,
    app: input.app,
    primary_region: input.region,
    build: { ...build, dockerfile: input.dockerfile },
    env: { ...table(base, "env"), PREVIEW: "true", ...input.env },
    http_service: {
      ...table(base, "http_service"),
      internal_port: input.port,
      force_https: true,
      auto_stop_machines: "stop",
      auto_start_machines: true,
      min_machines_running: 0,
    },
    vm: [{ memory: input.memory, cpu_kind: input.cpuKind, cpus: input.cpus }],
  };
  return indentTables(stringify(config));
}

function parseBase(text: string): Table {
  try {
    return parse(text) as Table;
  } catch (error) {
    if (error instanceof TomlError) {
      const problem = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new Error(`The repository's fly.toml is not valid TOML: ${problem} (line ${error.line}, column ${error.column})`);
    }
    throw error;
  }
}

function table(config: Table, key: string): Table {
  const value = config[key];
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`The repository's fly.toml has "${key}" that is not a table; write it as [${key}]`);
  }
  return value as Table;
}

// Matches the layout of flyctl's own fly.toml files: keys indented under their table.
// Safe line by line because smol-toml writes every string on one line, escaping newlines.
function indentTables(text: string): string {
  let inTable = false;
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("[")) inTable = true;
    lines.push(inTable && !line.startsWith("[") ? `  ${line}` : line);
  }
  return `${lines.join("\n")}\n`;
}

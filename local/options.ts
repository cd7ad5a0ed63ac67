import * as path from "node:path";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";

/** Where the local pipeline keeps its state; everything lives under one data directory by default. */
export interface DataPaths {
  readonly dataDir: string;
  readonly database: string;
  /** Segments of spooled log entries: the durable record of every answered request. */
  readonly spoolDir: string;
  /** The running server's address and query token (mode 0600). */
  readonly serverFile: string;
}

export function dataPaths(dataDir: string, database?: string): DataPaths {
  const dir = path.resolve(dataDir);
  return {
    dataDir: dir,
    database: path.resolve(database ?? path.join(dir, "pixel.duckdb")),
    spoolDir: path.join(dir, "spool"),
    serverFile: path.join(dir, "server.json"),
  };
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const DATA_OPTIONS = {
  "data-dir": { type: "string", default: ".data" },
  db: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

export const DATA_USAGE = `  --data-dir DIR   spool, database and server file (default .data)
  --db FILE        DuckDB file (default DIR/pixel.duckdb)
  -h, --help       this help`;

export const SERVER_USAGE = `Usage: npm start -- [options]
Runs the pixel pipeline on this machine: the pixel, its log, the function's code and DuckDB.
  --host HOST      address to listen on (default $HOST or 127.0.0.1)
  --port PORT      port, 0 for any free one (default $PORT or 8080)
  --stack NAME     read settings from Pulumi.NAME.yaml (default dev)
${DATA_USAGE}`;

export const QUERY_USAGE = `Usage: npm run --silent query -- [options] "SQL"
Runs one read-only SQL statement on the local database and prints each row as a JSON line.
${DATA_USAGE}`;

export interface ServerOptions {
  readonly help: boolean;
  readonly host: string;
  readonly port: number;
  readonly stack: string;
  readonly paths: DataPaths;
}

export function parseServerArgs(args: readonly string[], env: NodeJS.ProcessEnv): ServerOptions {
  const { values } = usageErrors(() =>
    parseArgs({
      args: [...args],
      options: {
        ...DATA_OPTIONS,
        host: { type: "string", default: env.HOST || "127.0.0.1" },
        port: { type: "string", default: env.PORT || "8080" },
        stack: { type: "string", default: "dev" },
      },
      strict: true,
    }),
  );
  if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) {
    throw new UsageError(`--port (or PORT) must be a number from 0 to 65535, got ${JSON.stringify(values.port)}`);
  }
  return {
    help: values.help,
    host: values.host,
    port: Number(values.port),
    stack: values.stack,
    paths: dataPaths(values["data-dir"], values.db),
  };
}

export interface QueryOptions {
  readonly help: boolean;
  readonly sql: string;
  readonly paths: DataPaths;
}

export function parseQueryArgs(args: readonly string[]): QueryOptions {
  const { values, positionals } = usageErrors(() =>
    parseArgs({ args: [...args], options: DATA_OPTIONS, allowPositionals: true, strict: true }),
  );
  if (!values.help && positionals.length !== 1) {
    throw new UsageError(`pass the SQL as one argument in quotes, got ${positionals.length} arguments`);
  }
  return { help: values.help, sql: positionals[0] ?? "", paths: dataPaths(values["data-dir"], values.db) };
}

/** parseArgs throws plain TypeErrors for unknown options and missing values: they are usage errors. */
function usageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

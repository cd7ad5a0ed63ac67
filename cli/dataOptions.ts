import * as path from "node:path";
import { DEFAULT_DATA_DIR, dataPaths } from "../local/paths";
import type { DataPaths } from "../local/paths";
import { readServerFile } from "../local/serverFile";
import { PROJECT_ROOT } from "./stackFile";
import { userPath } from "./userPath";

/** The options of every command that reads or writes the local pipeline's files. */
export const DATA_OPTIONS = {
  "data-dir": { type: "string" },
  db: { type: "string" },
} as const;

export const DATA_USAGE = `  --data-dir DIR   spool, database and server file (default ${DEFAULT_DATA_DIR} in the project's
                   directory); DIR and FILE are relative to the directory you run npm from
  --db FILE        DuckDB file (default DIR/pixel.duckdb)`;

/** The default data directory is the project's, wherever npm runs; a directory the user names is theirs. */
export function pathsFrom(values: { "data-dir"?: string; db?: string }): DataPaths {
  const dataDir = values["data-dir"] === undefined ? path.join(PROJECT_ROOT, DEFAULT_DATA_DIR) : userPath(values["data-dir"]);
  return dataPaths(dataDir, values.db === undefined ? undefined : userPath(values.db));
}

/** DuckDB's words when another process holds the database file's lock. */
const DATABASE_LOCKED = /Could not set lock on file/;

/**
 * When `error` is DuckDB refusing the database because another process holds it, and that process
 * is the npm start whose server file is in the data directory, a message naming that server and
 * the ways on: what to do instead is `insteadOf`. Anything else is left as it is.
 */
export async function explainDatabaseInUse(error: unknown, paths: DataPaths, insteadOf: string): Promise<unknown> {
  if (!(error instanceof Error) || !DATABASE_LOCKED.test(error.message)) return error;
  const server = await readServerFile(paths.serverFile).catch(() => undefined);
  if (!server || server.database !== paths.database || !isRunning(server.pid)) return error;
  return new Error(
    `the data directory ${paths.dataDir} is in use by the npm start running as process ${server.pid} at ${server.url}: ` +
      `DuckDB lets one process write ${paths.database}. ${insteadOf} ` +
      `To read its data while it runs, use npm run query -- --data-dir ${paths.dataDir} "SQL".`,
  );
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

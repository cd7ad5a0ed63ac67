import * as path from "node:path";
import { DEFAULT_DATA_DIR, dataPaths } from "../local/paths";
import type { DataPaths } from "../local/paths";
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

import { DEFAULT_DATA_DIR, dataPaths } from "../local/paths";
import type { DataPaths } from "../local/paths";

/** The options of every command that reads or writes the local pipeline's files. */
export const DATA_OPTIONS = {
  "data-dir": { type: "string" },
  db: { type: "string" },
} as const;

export const DATA_USAGE = `  --data-dir DIR   spool, database and server file (default ${DEFAULT_DATA_DIR})
  --db FILE        DuckDB file (default DIR/pixel.duckdb)`;

export function pathsFrom(values: { "data-dir"?: string; db?: string }): DataPaths {
  return dataPaths(values["data-dir"] ?? DEFAULT_DATA_DIR, values.db);
}

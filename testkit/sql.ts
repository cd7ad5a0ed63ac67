import { DuckDBInstance } from "@duckdb/node-api";
import type { DuckDBConnection } from "@duckdb/node-api";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { WildcardDialect } from "../core/views";
import { toJsonRows } from "../local/database";
import type { JsonRow } from "../local/database";
import { duckDbDialect, sqlString } from "../local/duckdbSchema";

/**
 * An emulation, not BigQuery: the per-tenant-day SQL run in DuckDB. The wildcard `<prefix>*`
 * becomes a UNION ALL BY NAME over the given tables whose names start with the prefix, each
 * with its `_TABLE_SUFFIX`, as BigQuery documents the pseudo-column; the four functions DuckDB
 * names differently are mapped one to one. Everything else in the text runs as generated.
 */
export function duckDbWildcardDialect(tables: readonly string[]): WildcardDialect {
  return {
    ...duckDbDialect,
    tablesStartingWith(prefix) {
      const selects = tables
        .filter((table) => table.startsWith(prefix))
        .map((table) => `SELECT *, ${sqlString(table.slice(prefix.length))} AS _TABLE_SUFFIX FROM "${table}"`);
      return `(${selects.join(" UNION ALL BY NAME ")})`;
    },
    wildcardColumns: "* EXCLUDE (_TABLE_SUFFIX)",
    concatMapped: (list, element, body) => `array_to_string(list_transform(${list}, ${element} -> ${body}), '')`,
    hexOfAscii: (character) => `printf('%02X', ascii(${character}))`,
    textFromHex: (hex) => `decode(from_hex(${hex}))`,
    dateFromDigits: (digits) => `CAST(strptime(${digits}, '%Y%m%d') AS DATE)`,
  };
}

/** A real DuckDB file in a temporary directory, removed again by `close`. */
export async function openDuckDbFile(): Promise<{ connection: DuckDBConnection; dir: string; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "pixel-analytics-"));
  const instance = await DuckDBInstance.create(path.join(dir, "test.duckdb"));
  const connection = await instance.connect();
  return {
    connection,
    dir,
    async close() {
      connection.closeSync();
      instance.closeSync();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function rowsOf(connection: DuckDBConnection, sql: string): Promise<JsonRow[]> {
  return toJsonRows(await connection.runAndReadAll(sql));
}

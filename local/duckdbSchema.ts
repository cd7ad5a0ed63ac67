import { parseTableSuffix } from "../core/layout";
import type { SchemaField } from "../core/schema";
import type { RollupDialect } from "../core/rollups";
import type { SqlDialect } from "../core/views";

/**
 * The cloud's table layout in DuckDB terms. Pure: SQL text is built here and run by database.ts.
 * Table and column names come from the validated settings and the tenant encoding, whose
 * alphabet is [A-Za-z0-9_]; they are quoted anyway.
 */
export const DUCKDB_TYPES: Readonly<Record<SchemaField["type"], string>> = {
  STRING: "VARCHAR",
  INT64: "BIGINT",
  FLOAT64: "DOUBLE",
  BOOL: "BOOLEAN",
  TIMESTAMP: "TIMESTAMP",
  DATE: "DATE",
};

/** Deduplication key: the stable insertId, which BigQuery only deduplicates on a best-effort basis. */
const KEY_COLUMN = "insert_id";

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal; DuckDB's parser cannot take a NUL inside quotes, so NULs become chr(0). */
export function sqlString(value: string): string {
  return value
    .split("\0")
    .map((part) => `'${part.replace(/'/g, "''")}'`)
    .join(" || chr(0) || ");
}

/** `<template><suffix>`: the name BigQuery gives a table created through templateSuffix. */
export function dayTableName(templateTable: string, tableSuffix: string): string {
  return templateTable + tableSuffix;
}

/** The inverse of dayTableName. */
export function tableSuffixOf(templateTable: string, dayTable: string): string {
  return dayTable.slice(templateTable.length);
}

/** The views' dialect here: every table and view is in the one database, so names stay unqualified. */
export const duckDbDialect: SqlDialect = { identifier: quoteIdentifier, table: quoteIdentifier, string: sqlString };

/** The rollups' dialect: DuckDB's current_timestamp has a time zone; the rollups keep UTC, as BigQuery's TIMESTAMP. */
export const duckDbRollupDialect: RollupDialect = { ...duckDbDialect, currentTimestamp: "CAST(timezone('UTC', current_timestamp) AS TIMESTAMP)" };

export function createViewSql(name: string, query: string): string {
  return `CREATE OR REPLACE VIEW ${quoteIdentifier(name)} AS\n${query}`;
}

export interface DayTable {
  readonly name: string;
  readonly tenant: string;
  /** "YYYY-MM-DD" */
  readonly date: string;
}

/** The tenant and UTC day of a table named `<template>_<encoded tenant>_<YYYYMMDD>`, or undefined for any other table. */
export function parseDayTableName(templateTable: string, name: string): DayTable | undefined {
  if (!name.startsWith(`${templateTable}_`)) return undefined;
  const parsed = parseTableSuffix(tableSuffixOf(templateTable, name));
  return parsed && { name, ...parsed };
}

/** Creates a table with the template's columns; the template table and every day table use it. */
export function createTableSql(table: string, schema: readonly SchemaField[]): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table)} (${[...columnDefinitions(schema), `PRIMARY KEY (${quoteIdentifier(KEY_COLUMN)})`].join(", ")})`;
}

function columnDefinitions(schema: readonly SchemaField[]): string[] {
  return schema.map((field) => `${quoteIdentifier(field.name)} ${DUCKDB_TYPES[field.type]}${field.mode === "REQUIRED" ? " NOT NULL" : ""}`);
}

/** Creates a rollup table (core/rollups.ts); its rows have no key of their own, since its dimensions may be NULL. */
export function createRollupTableSql(table: string, schema: readonly SchemaField[]): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table)} (${columnDefinitions(schema).join(", ")})`;
}

/**
 * Brings an existing table up to the template, as BigQuery does for compatible changes: an
 * attribute added to the config becomes a new NULLABLE column. Changed types are not touched;
 * rows that no longer fit are rejected when inserted.
 */
export function addMissingColumnsSql(table: string, schema: readonly SchemaField[]): string[] {
  return schema
    .filter((field) => field.mode === "NULLABLE")
    .map((field) => `ALTER TABLE ${quoteIdentifier(table)} ADD COLUMN IF NOT EXISTS ${quoteIdentifier(field.name)} ${DUCKDB_TYPES[field.type]}`);
}

/**
 * Inserts a whole batch bound as one parameter, the JSON text of `rowsParameter`: binding one
 * parameter per value costs the loader far more than DuckDB's JSON parser does. Every value
 * arrives as text and is cast to its column's type, as BigQuery casts the JSON of insertAll; a
 * value that does not fit fails the statement. A row whose insert_id is already stored is skipped.
 */
export function insertRowsSql(table: string, columns: readonly string[]): string {
  const values = columns.map((_, index) => `row[${index + 1}]`);
  return `INSERT OR IGNORE INTO ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(", ")}) SELECT ${values.join(", ")} FROM (SELECT unnest(json_transform_strict($1, '[["VARCHAR"]]')) AS row)`;
}

/** JSON.stringify escapes an unpaired surrogate (paired ones stay raw); a literal backslash before "ud8" only costs the slow path. */
const ESCAPED_SURROGATE = /\\ud[89a-f]/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/gu;

/**
 * The parameter of insertRowsSql: a JSON array with one array of values, in `columns` order, per
 * row. DuckDB's JSON parser refuses unpaired surrogates, so they become U+FFFD, as they did when
 * each string was bound as a value.
 */
export function rowsParameter<T extends object>(columns: readonly (keyof T & string)[], rows: readonly T[]): string {
  const values = rows.map((row) => columns.map((column) => row[column] ?? null));
  const json = JSON.stringify(values);
  if (!ESCAPED_SURROGATE.test(json)) return json;
  return JSON.stringify(values, (_key, value: unknown) => (typeof value === "string" ? value.replace(LONE_SURROGATE, "\uFFFD") : value));
}

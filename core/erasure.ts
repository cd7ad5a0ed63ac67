/**
 * What erasing one tenant removes, as names and SQL: the pure half of `npm run erase`
 * (cli/erase.ts), shared by BigQuery and the local DuckDB file. No I/O.
 */
import type { CoreSettings } from "./config/coreSettings";
import { EVENT_DATE_COLUMN, PARTITIONED_TABLE, parseTableSuffix, TENANT_COLUMN } from "./layout";
import { rollupTables } from "./rollups";
import { entryNamesTenant } from "./tenantErasure";
import { parseTimestamp } from "./timestamp";
import type { DayRange } from "./rollups";
import type { SqlDialect } from "./views";

/**
 * The first and last day an event can have: the core accepts timestamps of the years 1 to 9999
 * (timestamp.ts). A DELETE over them covers every row the tenant can have, rows older than the
 * retention the stack has now included, while its constant bounds are the partition filter that
 * requirePartitionFilter demands of DML too. BigQuery bills a DELETE by the bytes it reads; the
 * tables are clustered by tenant, so it reads the tenant's blocks, not the other tenants'.
 */
export const EARLIEST_DAY = "0001-01-01";
export const LATEST_DAY = "9999-12-31";

/** The days an erasure covers: all of them, or those before `before` (YYYY-MM-DD, not included). */
export function erasureDays(before?: string): DayRange {
  if (before === undefined) return { from: EARLIEST_DAY, to: LATEST_DAY };
  const dayBefore = new Date(Date.parse(`${before}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return { from: EARLIEST_DAY, to: dayBefore };
}

/**
 * Whether `table` is one of the tenant's day tables (per-tenant-day), of a day the erasure
 * covers. The name must be `<template>_<encoded tenant>_<YYYYMMDD>` and its tenant decode to
 * exactly `tenant`: a prefix never matches, so erasing `acme` leaves `acme_eu`'s tables (encoded
 * `acmeX5Feu`) and those of `acmeX` (encoded `acmeX58`) alone.
 */
export function isTenantDayTable(table: string, templateTable: string, tenant: string, days: DayRange): boolean {
  if (!table.startsWith(`${templateTable}_`)) return false;
  const parsed = parseTableSuffix(table.slice(templateTable.length));
  return parsed !== undefined && parsed.tenant === tenant && parsed.date >= days.from && parsed.date <= days.to;
}

/** One table's rows of the tenant: a DELETE and the count of what it would delete, with the same condition. */
export interface TenantRowsStatements {
  readonly table: string;
  readonly count: string;
  readonly delete: string;
}

/**
 * The tables whose rows carry the tenant in a column: the partitioned table (partitioned layout
 * only; per-tenant-day keeps the tenant in the table's name) and every rollup table. Each
 * statement has the event_date range: the partition filter that requirePartitionFilter demands
 * of DML too.
 */
export function tenantRowsStatements(settings: CoreSettings, dialect: SqlDialect, tenant: string, days: DayRange): TenantRowsStatements[] {
  const condition = [
    `${dialect.identifier(EVENT_DATE_COLUMN)} BETWEEN DATE ${dialect.string(days.from)} AND DATE ${dialect.string(days.to)}`,
    `${dialect.identifier(TENANT_COLUMN)} = ${dialect.string(tenant)}`,
  ].join(" AND ");
  const tables = [...(settings.layout === "partitioned" ? [PARTITIONED_TABLE] : []), ...rollupTables(settings).map((table) => table.name)];
  return tables.map((table) => ({
    table,
    count: `SELECT COUNT(*) AS row_count FROM ${dialect.table(table)} WHERE ${condition}`,
    delete: `DELETE FROM ${dialect.table(table)} WHERE ${condition}`,
  }));
}

/**
 * Whether the erasure removes a log entry given as text (a spooled line, a stored refusal's entry,
 * a dead letter): it names the tenant as tenantErasure.ts reads entries, and its timestamp is of a
 * day the erasure covers. An entry without a readable timestamp has no day to keep it by, so it
 * goes. A refusal's stored entry may have been cut short and be JSON no longer: its requestUrl and
 * timestamp are then read from the text.
 */
export function entryErased(text: string, settings: Pick<CoreSettings, "tenantAttribute">, tenant: string, days: DayRange): boolean {
  const entry = parsedOrCutEntry(text);
  if (!entryNamesTenant(entry, tenant, settings.tenantAttribute)) return false;
  const day = parseTimestamp((entry as { timestamp?: unknown } | null)?.timestamp)?.iso.slice(0, 10);
  return day === undefined || (day >= days.from && day <= days.to);
}

/** A JSON string field of an entry whose text was cut and so is no longer JSON. */
const CUT_FIELD = (name: string) => new RegExp(`"${name}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*")`);
const CUT_REQUEST_URL = CUT_FIELD("requestUrl");
const CUT_TIMESTAMP = CUT_FIELD("timestamp");

function parsedOrCutEntry(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { httpRequest: { requestUrl: cutField(text, CUT_REQUEST_URL) }, timestamp: cutField(text, CUT_TIMESTAMP) };
  }
}

function cutField(text: string, pattern: RegExp): string | undefined {
  const quoted = pattern.exec(text)?.[1];
  try {
    return quoted === undefined ? undefined : (JSON.parse(quoted) as string);
  } catch {
    return undefined;
  }
}

/** What one run removed (or, dry, would remove): every count the report and the audit line give. */
export interface ErasureCounts {
  /** Day tables dropped, with the rows they held. */
  dayTables: number;
  dayTableRows: number;
  /** Rows deleted, by table (events_partitioned, rollup_*). */
  readonly rows: Record<string, number>;
  /** Messages of the dead-letter subscription. */
  deadLetters: number;
  /** Local only: refusals whose stored entry named the tenant, and spooled lines removed. */
  refusals: number;
  spoolLines: number;
  /** The archive: objects read, objects rewritten, entries removed. */
  archiveObjects: number;
  archiveRewritten: number;
  archiveEntries: number;
}

export function noErasure(): ErasureCounts {
  return { dayTables: 0, dayTableRows: 0, rows: {}, deadLetters: 0, refusals: 0, spoolLines: 0, archiveObjects: 0, archiveRewritten: 0, archiveEntries: 0 };
}

/** Whether anything of the tenant was found (objects merely read do not count). */
export function foundAnything(counts: ErasureCounts): boolean {
  return counts.dayTables + counts.deadLetters + counts.refusals + counts.spoolLines + counts.archiveEntries + Object.values(counts.rows).reduce((sum, rows) => sum + rows, 0) > 0;
}

/**
 * Whether `account` (gcloud's, e.g. "ops@example.com") is in the all-tenants row access policy,
 * whose grantees are allTenantsReaders. With tenantReaders set, the rollups (and, partitioned, the
 * event table) have row access policies: DML on them needs that TRUE filter, and a count by anyone
 * else sees only the rows of their own policies, so a dry run would find too little. A group's
 * members cannot be known here: "maybe" then.
 */
export function allTenantsCoverage(allTenantsReaders: readonly string[], account: string | undefined): "listed" | "maybe" | "not-listed" {
  if (account === undefined) return "maybe";
  const domain = account.slice(account.lastIndexOf("@") + 1);
  if (allTenantsReaders.some((member) => member === `user:${account}` || member === `serviceAccount:${account}` || member === `domain:${domain}`)) return "listed";
  return allTenantsReaders.some((member) => member.startsWith("group:")) ? "maybe" : "not-listed";
}

import type { AttributeSpec } from "./attributes";
import { LOAD_LEDGER_TABLE } from "./batchLoad";
import { templateSchema } from "./schema";
import type { Row, SchemaField } from "./schema";
import { decodeTenant } from "./tenant";

/**
 * How events are stored. `per-tenant-day` (the default) streams with templateSuffix into
 * `<template>_<tenant>_<YYYYMMDD>` tables that BigQuery creates on demand. `partitioned` streams
 * into one table partitioned by event date and clustered by tenant and event type: the layout
 * Google recommends over date-sharded tables at scale. The views on top are the same.
 */
export const LAYOUTS = ["per-tenant-day", "partitioned"] as const;
export type Layout = (typeof LAYOUTS)[number];

/** The views every stack declares. None starts with `<template>_`, so no wildcard over day tables reaches them. */
export const VIEWS = {
  events: "events",
  dedup: "events_dedup",
  dailyCounts: "daily_counts",
  dailyPages: "daily_pages",
  dailyCampaigns: "daily_campaigns",
  dailyDevices: "daily_devices",
  dailyCountries: "daily_countries",
  dailyTotals: "daily_totals",
} as const;

/**
 * The rollup tables (core/rollups.ts): each daily_* view reads one. Tables, not views, so a report
 * reads a few kilobytes of aggregates instead of every raw row of its range on each refresh.
 */
export const ROLLUPS = {
  counts: "rollup_counts",
  pages: "rollup_pages",
  campaigns: "rollup_campaigns",
  devices: "rollup_devices",
  countries: "rollup_countries",
  totals: "rollup_totals",
} as const;

/**
 * The partitioned layout's one table. Like the views, it must not start with the template's
 * name, or the per-tenant-day `events` view's wildcard `<template>*` would read it too.
 */
export const PARTITIONED_TABLE = "events_partitioned";

/** Every table and view name the program declares besides the template; the settings keep the template name clear of them. */
export const DECLARED_TABLE_NAMES: readonly string[] = [...Object.values(VIEWS), PARTITIONED_TABLE, ...Object.values(ROLLUPS), LOAD_LEDGER_TABLE];

export const TENANT_COLUMN = "tenant";
export const EVENT_DATE_COLUMN = "event_date";

/**
 * What per-tenant-day keeps in a table's name: the views derive these two columns from it, and
 * the partitioned table stores them. Attributes may not use these names.
 */
export const TABLE_NAME_COLUMNS: readonly SchemaField[] = [
  { name: TENANT_COLUMN, type: "STRING", mode: "REQUIRED", description: "The tenant, exactly as in the pixel URL; the first clustering column." },
  { name: EVENT_DATE_COLUMN, type: "DATE", mode: "REQUIRED", description: "The UTC day of event_timestamp; the partitioning column." },
];

/** The partitioned table's schema: the template's columns, then the tenant and the day. */
export function partitionedSchema(attributes: readonly AttributeSpec[]): SchemaField[] {
  return [...templateSchema(attributes), ...TABLE_NAME_COLUMNS];
}

/** The columns of the tables a layout stores rows in: a day table takes the template's, the partitioned table adds the tenant and day. */
export function storedSchema(layout: Layout, attributes: readonly AttributeSpec[]): SchemaField[] {
  return layout === "partitioned" ? partitionedSchema(attributes) : templateSchema(attributes);
}

const TABLE_SUFFIX = /^_([A-Za-z0-9]+)_(\d{4})(\d{2})(\d{2})$/;

/** The tenant and day ("YYYY-MM-DD") of a suffix `_<encoded tenant>_<YYYYMMDD>`; undefined for anything the core cannot produce. */
export function parseTableSuffix(suffix: string): { tenant: string; date: string } | undefined {
  const match = TABLE_SUFFIX.exec(suffix);
  const tenant = match ? decodeTenant(match[1]) : undefined;
  return match && tenant !== undefined ? { tenant, date: `${match[2]}-${match[3]}-${match[4]}` } : undefined;
}

/**
 * The row as the partitioned table stores it: the core's row plus the tenant and day that
 * per-tenant-day keeps in the table name. Both come from the table suffix, so the layouts agree
 * exactly; the tenant attribute's own column is cut to maxValueLength, the suffix never is.
 */
export function partitionedRow(row: Row, tableSuffix: string): Row {
  const parsed = parseTableSuffix(tableSuffix);
  if (!parsed) throw new Error(`${JSON.stringify(tableSuffix)} is not a table suffix the core produces`);
  return { ...row, [TENANT_COLUMN]: parsed.tenant, [EVENT_DATE_COLUMN]: parsed.date };
}

/** The row as the layout stores it: what the function writes and `npm run parse` shows. */
export function storedRow(layout: Layout, event: { tableSuffix: string; row: Row }): Row {
  return layout === "partitioned" ? partitionedRow(event.row, event.tableSuffix) : event.row;
}

/** The table an event ends up in: its day table, or the partitioned table. */
export function storedTableName(layout: Layout, templateTable: string, tableSuffix: string): string {
  return layout === "partitioned" ? PARTITIONED_TABLE : templateTable + tableSuffix;
}

/** The table the function streams into: the template, to which BigQuery adds the suffix, or the partitioned table. */
export function insertTableName(layout: Layout, templateTable: string): string {
  return layout === "partitioned" ? PARTITIONED_TABLE : templateTable;
}

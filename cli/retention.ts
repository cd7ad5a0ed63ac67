// npm run retention -- --stack <name> [--dry-run] [--yes]
// Gives the day tables that existed before the stack had a retention their expiration: the
// dataset's default reaches only tables created after it was set. docs/privacy.md explains the retention.
import { createInterface } from "node:readline/promises";
import { BigQuery } from "@google-cloud/bigquery";
import type { Dataset } from "@google-cloud/bigquery";
import { oldestKeptDay } from "../core/config/retention";
import { PARTITIONED_TABLE, parseTableSuffix } from "../core/layout";
import { rollupTables } from "../core/rollups";
import type { CoreSettings } from "../core/config/coreSettings";
import { isUtcDay } from "../core/views";
import { defineCommand, EXIT, runCommand, UsageError } from "./runner";
import type { ParsedArgs } from "./runner";
import { readStack } from "./stackFile";

export const RETENTION_USAGE = `Usage: npm run retention -- --stack NAME [--dry-run] [--yes]
Sets the expiration of every existing day table (<template>_<tenant>_<YYYYMMDD>) of the stack's
dataset to its day plus the stack's retentionDays, as new day tables get from the dataset, and
reports the partitions (events_partitioned, the rollups) that the next pulumi up lets expire. It
deletes no table itself: BigQuery does, at each table's expiration; a table already past it
expires an hour after the run. Tables that already expire then are left alone, so a second run
changes nothing.
  --stack NAME     settings from Pulumi.NAME.yaml (required)
  --dry-run        say what would change, and how many tables, rows and bytes would expire at once
  --yes            change without asking
  --project ID     BigQuery project (default gcp:project of the stack)
  --dataset ID     BigQuery dataset (default the stack's datasetId, else pixel_NAME)
  -h, --help       this help`;

const RETENTION_ARGS = {
  options: {
    stack: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    yes: { type: "boolean", default: false },
    project: { type: "string" },
    dataset: { type: "string" },
  },
} as const;

const DAY_MS = 86_400_000;
/** BigQuery refuses an expiration in the past: a table past its retention gets this much from the run. */
export const PAST_RETENTION_GRACE_MS = 60 * 60 * 1000;
/** tables.list pages: BigQuery's own limit is 1000 tables. */
const TABLES_PAGE = 1000;

/** A day table and the expiration it gets. */
export interface DayTableChange {
  readonly table: string;
  readonly day: string;
  /** Milliseconds since the epoch; undefined: it never expired. */
  readonly from?: number;
  readonly to: number;
  /** Past its retention already: it goes an hour after the run. */
  readonly expiresAtOnce: boolean;
}

/**
 * The expirations to set: each table named exactly `<template>_<encoded tenant>_<YYYYMMDD>` (views,
 * rollups and other tables are not touched, however they are named) expires at its day's UTC
 * midnight plus the retention, as its partition would; a table already past that gets `now` plus
 * the grace. Tables that already expire then are left out.
 */
export function dayTableChanges(
  tables: readonly { readonly tableId: string; readonly expirationTime?: string }[],
  templateTable: string,
  retentionDays: number,
  now: number,
): DayTableChange[] {
  const changes: DayTableChange[] = [];
  for (const table of tables) {
    const day = dayOf(table.tableId, templateTable);
    if (day === undefined) continue;
    const due = Date.parse(day) + retentionDays * DAY_MS;
    const expiresAtOnce = due <= now;
    const to = expiresAtOnce ? now + PAST_RETENTION_GRACE_MS : due;
    const from = table.expirationTime === undefined ? undefined : Number(table.expirationTime);
    if (from === due || (expiresAtOnce && from !== undefined && from <= to)) continue;
    changes.push({ table: table.tableId, day, ...(from === undefined ? {} : { from }), to, expiresAtOnce });
  }
  return changes;
}

/** The UTC day of a day table of this template; undefined for any other table. */
function dayOf(tableId: string, templateTable: string): string | undefined {
  if (!tableId.startsWith(templateTable)) return undefined;
  const day = parseTableSuffix(tableId.slice(templateTable.length))?.date;
  return day !== undefined && isUtcDay(day) ? day : undefined;
}

/** Every table of the dataset, page by page. */
export async function listTables(dataset: Dataset): Promise<{ tableId: string; expirationTime?: string }[]> {
  const tables: { tableId: string; expirationTime?: string }[] = [];
  let pageToken: string | undefined;
  do {
    const [page, next] = await dataset.getTables({ autoPaginate: false, maxResults: TABLES_PAGE, ...(pageToken ? { pageToken } : {}) });
    for (const table of page) {
      const metadata = table.metadata as { type?: string; expirationTime?: string };
      if (metadata.type === undefined || metadata.type === "TABLE") tables.push({ tableId: table.id!, ...(metadata.expirationTime ? { expirationTime: metadata.expirationTime } : {}) });
    }
    pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
  } while (pageToken);
  return tables;
}

export interface RetentionReport {
  readonly dayTables: number;
  readonly changes: readonly DayTableChange[];
  /** Of the tables that expire at once: their rows and bytes, from tables.get. */
  readonly atOnce: { readonly tables: number; readonly rows: number; readonly bytes: number };
  readonly applied: boolean;
}

/** Plans, and unless `dryRun` sets, the day tables' expirations; reads the size of those that would go at once. */
export async function applyRetention(dataset: Dataset, options: { templateTable: string; retentionDays: number; now: number; dryRun: boolean }): Promise<RetentionReport> {
  const tables = await listTables(dataset);
  const dayTables = tables.filter((table) => dayOf(table.tableId, options.templateTable) !== undefined).length;
  const changes = dayTableChanges(tables, options.templateTable, options.retentionDays, options.now);
  const atOnce = { tables: 0, rows: 0, bytes: 0 };
  for (const change of changes.filter((candidate) => candidate.expiresAtOnce)) {
    const [metadata] = await dataset.table(change.table).getMetadata();
    const size = metadata as { numRows?: string; numBytes?: string };
    atOnce.tables++;
    atOnce.rows += Number(size.numRows ?? 0);
    atOnce.bytes += Number(size.numBytes ?? 0);
  }
  if (!options.dryRun) {
    for (const change of changes) await dataset.table(change.table).setMetadata({ expirationTime: String(change.to) });
  }
  return { dayTables, changes, atOnce, applied: !options.dryRun };
}

/** The partitions past the retention of one partitioned table: they expire at the stack's next update. */
export interface ExpiringPartitions {
  readonly table: string;
  readonly days: number;
  readonly first: string;
  readonly last: string;
  readonly rows: number;
  readonly bytes: number;
}

/** The partitioned tables the program declares with the retention as their partition expiration: the rollups, and events_partitioned. */
export function partitionedTables(settings: CoreSettings): string[] {
  return [...(settings.layout === "partitioned" ? [PARTITIONED_TABLE] : []), ...rollupTables(settings).map((table) => table.name)];
}

/**
 * The day partitions of `tables` before `oldestKept`, from INFORMATION_SCHEMA.PARTITIONS (which
 * reads metadata and bills nothing), summed per table.
 */
export async function expiringPartitions(client: BigQuery, project: string, dataset: string, tables: readonly string[], oldestKept: string): Promise<ExpiringPartitions[]> {
  const [job] = await client.createQueryJob({
    query: `SELECT table_name, partition_id, CAST(total_rows AS STRING) AS total_rows, CAST(total_logical_bytes AS STRING) AS total_logical_bytes
FROM \`${project}.${dataset}.INFORMATION_SCHEMA.PARTITIONS\`
WHERE table_name IN UNNEST(@tables) AND REGEXP_CONTAINS(partition_id, r'^[0-9]{8}$') AND partition_id < @before
ORDER BY table_name, partition_id`,
    params: { tables: [...tables], before: oldestKept.replace(/-/g, "") },
    jobPrefix: "retention_",
  });
  const [rows] = await job.getQueryResults();
  const byTable = new Map<string, { days: number; first: string; last: string; rows: number; bytes: number }>();
  for (const row of rows as { table_name: string; partition_id: string; total_rows: string | null; total_logical_bytes: string | null }[]) {
    const partitionDay = `${row.partition_id.slice(0, 4)}-${row.partition_id.slice(4, 6)}-${row.partition_id.slice(6, 8)}`;
    const entry = byTable.get(row.table_name) ?? { days: 0, first: partitionDay, last: partitionDay, rows: 0, bytes: 0 };
    byTable.set(row.table_name, {
      days: entry.days + 1,
      first: partitionDay < entry.first ? partitionDay : entry.first,
      last: partitionDay > entry.last ? partitionDay : entry.last,
      rows: entry.rows + Number(row.total_rows ?? 0),
      bytes: entry.bytes + Number(row.total_logical_bytes ?? 0),
    });
  }
  return [...byTable].map(([table, entry]) => ({ table, ...entry }));
}

export function formatExpiringPartitions(partitions: readonly ExpiringPartitions[], oldestKept: string): string {
  if (partitions.length === 0) return `no partition is older than ${oldestKept}.`;
  return [
    `partitions older than ${oldestKept}, which expire at the next pulumi up (the program sets their expiration):`,
    ...partitions.map((entry) => `  ${entry.table}: ${entry.days} day(s), ${entry.first} to ${entry.last}, ${entry.rows} row(s), ${entry.bytes} byte(s)`),
  ].join("\n");
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");

export function formatRetentionReport(report: RetentionReport, destination: string, retentionDays: number): string {
  const verb = report.applied ? "set" : "would set";
  const lines = report.changes.map(
    (change) => `  ${change.table}: expires ${day(change.to)} UTC${change.expiresAtOnce ? " (past the retention: within the hour)" : ""}, was ${change.from === undefined ? "never" : `${day(change.from)} UTC`}`,
  );
  return [
    `${destination}: ${report.dayTables} day table(s); ${verb} the expiration of ${report.changes.length} to their day + ${retentionDays} days`,
    ...lines,
    `${report.atOnce.tables} table(s), ${report.atOnce.rows} row(s), ${report.atOnce.bytes} byte(s) ${report.applied ? "expire" : "would expire"} within the hour.`,
  ].join("\n");
}

async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError("this changes table expirations: run with --dry-run first, then with --yes");
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

export const retentionCommand = defineCommand({
  usage: RETENTION_USAGE,
  args: RETENTION_ARGS,
  async run({ values }: ParsedArgs<typeof RETENTION_ARGS>) {
    if (!values.stack) throw new UsageError("pass --stack with the stack whose retention and dataset to use");
    const { config, project: stackProject } = readStack(values.stack);
    const project = values.project ?? stackProject;
    if (!project) throw new UsageError(`Pulumi.${values.stack}.yaml sets no gcp:project: pass --project`);
    const retentionDays = config.retention.days;
    if (retentionDays === undefined) {
      console.log(`the stack keeps data for ever (retentionDays: forever): nothing to set. A table's expiration is cleared with bq update --expiration 0.`);
      return EXIT.ok;
    }
    const datasetId = values.dataset ?? config.datasetId;
    const client = new BigQuery({ projectId: project });
    const dataset = client.dataset(datasetId);
    const destination = `BigQuery ${project}.${datasetId}`;
    const now = Date.now();
    const options = { templateTable: config.core.templateTable, retentionDays, now };
    const oldestKept = oldestKeptDay(config.retention, new Date(now))!;
    console.log(formatExpiringPartitions(await expiringPartitions(client, project, datasetId, partitionedTables(config.core), oldestKept), oldestKept));
    const plan = await applyRetention(dataset, { ...options, dryRun: true });
    if (values["dry-run"] || plan.changes.length === 0) {
      console.log(formatRetentionReport(plan, destination, retentionDays));
      return EXIT.ok;
    }
    if (!values.yes) {
      console.log(formatRetentionReport(plan, destination, retentionDays));
      if (!(await confirmed(`Set these ${plan.changes.length} expiration(s)?`))) return EXIT.failure;
    }
    console.log(formatRetentionReport(await applyRetention(dataset, { ...options, dryRun: false }), destination, retentionDays));
    return EXIT.ok;
  },
});

if (require.main === module) void runCommand(retentionCommand);

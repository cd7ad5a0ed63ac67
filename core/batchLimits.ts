import type { IngestMode } from "./batchLoad";
import type { Layout } from "./layout";

/**
 * BigQuery's daily load-job quotas, failed jobs included (https://cloud.google.com/bigquery/quotas#load_jobs).
 * In batch mode every archive file starts one job per table it holds rows for.
 */
export const LOAD_JOBS_PER_TABLE_PER_DAY = 1_500;
export const LOAD_JOBS_PER_PROJECT_PER_DAY = 100_000;

/**
 * Files the archive sink writes for one hour of log. Google documents hourly files, sharded, named with a shard
 * number `S<n>` or `A<n>` (entries that arrived late), and says the number of shards of a period varies with the
 * volume of its log entries (https://cloud.google.com/logging/docs/export/storage). It gives no number, so this
 * is an assumption: two on-time shards and two late ones. An archive that shows more files an hour lowers the
 * tenant limit in proportion (docs/operations.md#batch-loading-limits).
 */
export const ASSUMED_SINK_FILES_PER_HOUR = 4;

/**
 * The share of both quotas the routine loads leave free. A rebuild loads a day's files again under new job
 * ids, as many loads as the day took, so the routine loads may use half: one whole day can still be rebuilt
 * the same day, next to the sweep's loads of missed files, replays and failed jobs (which count too).
 */
export const LOAD_QUOTA_HEADROOM = 0.5;

const HOURS_PER_DAY = 24;

/**
 * The load jobs a day of archive files starts, in the worst case where every tenant active that day has
 * rows in every file: the sink shards by volume, not by tenant. Per-tenant-day: one job per file and
 * tenant table, so the count grows with the tenants. Partitioned: one job per file, whatever the tenants.
 */
export function loadJobsPerDay(layout: Layout, tenants: number, filesPerHour = ASSUMED_SINK_FILES_PER_HOUR): { perTable: number; perProject: number } {
  const files = HOURS_PER_DAY * filesPerHour;
  return layout === "per-tenant-day" ? { perTable: files, perProject: files * tenants } : { perTable: files, perProject: files };
}

/**
 * The most tenants a day the per-tenant-day layout can serve in batch mode within the headroom, or 0 when
 * even one tenant's table would take more than its share of the per-table quota.
 */
export function maxBatchTenantsPerDay(filesPerHour = ASSUMED_SINK_FILES_PER_HOUR): number {
  const { perTable, perProject } = loadJobsPerDay("per-tenant-day", 1, filesPerHour);
  if (perTable > LOAD_JOBS_PER_TABLE_PER_DAY * (1 - LOAD_QUOTA_HEADROOM)) return 0;
  return Math.floor((LOAD_JOBS_PER_PROJECT_PER_DAY * (1 - LOAD_QUOTA_HEADROOM)) / perProject);
}

/** 520 with 4 files an hour: 96 loads a day per tenant, against half of the 100,000 a project may run. */
export const MAX_BATCH_TENANTS_PER_DAY = maxBatchTenantsPerDay();

/**
 * What `pulumi preview` says about the load-job quota, which it cannot check: it does not know how many
 * tenants will send events. The tenant allowlist is the only bound it can read.
 */
export function batchLoadQuotaWarnings(ingest: IngestMode, layout: Layout, tenantAllowlist: readonly string[] | undefined): string[] {
  if (ingest !== "batch" || layout !== "per-tenant-day") return [];
  // An allowlist refuses every other tenant (an empty one refuses all), so its distinct names bound the tables.
  const allowed = tenantAllowlist ? new Set(tenantAllowlist).size : undefined;
  if (allowed !== undefined && allowed <= MAX_BATCH_TENANTS_PER_DAY) return [];
  const tenants = allowed === undefined ? "there is no tenantAllowlist" : `tenantAllowlist names ${allowed} tenants`;
  const perTenant = loadJobsPerDay("per-tenant-day", 1).perProject;
  return [
    `Batch loads may run out of BigQuery's load jobs: with ingest batch and layout per-tenant-day, each archive file starts one load job per tenant it holds rows for, about ${perTenant} a day for a tenant active all day, and BigQuery runs at most ${LOAD_JOBS_PER_PROJECT_PER_DAY.toLocaleString("en-US")} a day per project; ${tenants}, but the layout serves at most ${MAX_BATCH_TENANTS_PER_DAY} tenants a day with room left for the sweep, replays and rebuilds. Past that, BigQuery refuses the loads (quotaExceeded), and those files' rows stay out of the tables. Use layout partitioned (one load job per file, whatever the tenants), or set tenantAllowlist to at most ${MAX_BATCH_TENANTS_PER_DAY} tenants (docs/operations.md#batch-loading-limits).`,
  ];
}

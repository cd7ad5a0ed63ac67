import { ConfigProblems, isAbsent, RawConfig, readBoolean, readInteger, readString } from "./fields";
import { CONFIG_KEYS, isDeclaredDefault } from "./keys";
import type { CoreSettings } from "./coreSettings";

/** How the warehouse keeps its rollups and guards its event table (docs/analytics.md). */
export interface WarehouseSettings {
  /** Each scheduled run recomputes today and this many days before it, for events that arrive late. */
  readonly rollupLateDays: number;
  /** When the scheduled queries run, in the Data Transfer Service's schedule syntax, in UTC. */
  readonly rollupSchedule: string;
  /** Partitioned layout: BigQuery refuses a query or DML on the event table without an event_date filter. Always false for per-tenant-day. */
  readonly requirePartitionFilter: boolean;
}

export const DEFAULT_WAREHOUSE_SETTINGS = {
  rollupLateDays: CONFIG_KEYS.rollupLateDays.default,
  rollupSchedule: CONFIG_KEYS.rollupSchedule.default,
  requirePartitionFilter: CONFIG_KEYS.requirePartitionFilter.default,
} as const;

/**
 * At least one late day: a day's last events reach BigQuery after midnight (Pub/Sub retries for
 * minutes), and a run must follow the day's end to count them. At most a month, since every run
 * reads all the days of its window.
 */
export const MIN_ROLLUP_LATE_DAYS = 1;
export const MAX_ROLLUP_LATE_DAYS = 31;

/**
 * The schedules accepted: the Data Transfer Service's syntax (App Engine cron's English-like
 * format, https://cloud.google.com/appengine/docs/standard/scheduling-jobs-with-cron-yaml#schedule_format),
 * limited to a run at least once a day, so that every day is recomputed after its end while it is
 * still inside the rollupLateDays window, and at most every 5 minutes, the shortest interval of
 * scheduled queries.
 */
const EVERY_MINUTES = /^every (\d+) (?:minutes|mins)$/;
const EVERY_HOURS = /^every (\d+) hours$/;
const EVERY_DAY = /^every day (?:[01]\d|2[0-3]):[0-5]\d$/;
const MIN_INTERVAL_MINUTES = 5;
const MAX_INTERVAL_MINUTES = 24 * 60;
const SCHEDULE_HINT = 'use "every N minutes" (5 to 1440), "every N hours" (1 to 24) or "every day HH:MM" (UTC), such as "every 1 hours"';

/** Reads the rollup and partition-filter keys, adding every problem to `problems`. */
export function readWarehouseSettings(raw: RawConfig, core: CoreSettings, problems: ConfigProblems): WarehouseSettings {
  const requirePartitionFilter = readBoolean(raw, "requirePartitionFilter", problems, DEFAULT_WAREHOUSE_SETTINGS.requirePartitionFilter);
  if (core.layout !== "partitioned" && !isAbsent(raw.requirePartitionFilter) && !isDeclaredDefault("requirePartitionFilter", raw.requirePartitionFilter)) {
    problems.add(
      "requirePartitionFilter",
      'applies to layout "partitioned" only: per-tenant-day keeps each day in a table of its own, with no partition to filter on. Remove the key, or set pixel-pipeline:layout to partitioned.',
    );
  }
  return {
    rollupLateDays: readInteger(raw, "rollupLateDays", problems, {
      fallback: DEFAULT_WAREHOUSE_SETTINGS.rollupLateDays,
      min: MIN_ROLLUP_LATE_DAYS,
      max: MAX_ROLLUP_LATE_DAYS,
    }),
    rollupSchedule: readSchedule(raw, problems),
    requirePartitionFilter: core.layout === "partitioned" && requirePartitionFilter,
  };
}

function readSchedule(raw: RawConfig, problems: ConfigProblems): string {
  const schedule = readString(raw, "rollupSchedule", problems, { fallback: DEFAULT_WAREHOUSE_SETTINGS.rollupSchedule });
  const minutes = Number(EVERY_MINUTES.exec(schedule)?.[1] ?? NaN);
  const hours = Number(EVERY_HOURS.exec(schedule)?.[1] ?? NaN);
  const interval = Number.isNaN(minutes) ? hours * 60 : minutes;
  if (EVERY_DAY.test(schedule) || (interval >= MIN_INTERVAL_MINUTES && interval <= MAX_INTERVAL_MINUTES)) return schedule;
  problems.add("rollupSchedule", `${JSON.stringify(schedule)} is not a schedule the rollups accept: ${SCHEDULE_HINT}.`);
  return DEFAULT_WAREHOUSE_SETTINGS.rollupSchedule;
}

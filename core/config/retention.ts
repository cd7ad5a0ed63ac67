import { ConfigProblems, isAbsent, RawConfig, readInteger } from "./fields";
import { CONFIG_KEYS } from "./keys";

/**
 * How long the pipeline keeps what it stores, and how long BigQuery keeps what was deleted
 * (docs/privacy.md). One number of days bounds the rows, the rollups, the archive (unless
 * archiveDeleteAfterDays says otherwise) and the local database.
 */
export interface RetentionSettings {
  /** Rows, rollups and archived entries are deleted this many days after their UTC day; undefined keeps them for ever. */
  readonly days?: number;
  /**
   * False while the stack leaves retentionDays unset and so takes the default: on a stack deployed
   * before the setting existed, the default deletes older data at the next update, so preview warns.
   */
  readonly chosen: boolean;
  /** BigQuery's time travel window: how long a deleted table or row can still be read back (48 to 168 hours). */
  readonly timeTravelHours: number;
}

/** The word that keeps data for ever: unlike 0, it cannot be read as "keep nothing". */
export const RETENTION_FOREVER = "forever";

/** 25 months, the longest the CNIL's audience-measurement exemption lets data be kept (docs/privacy.md). */
export const DEFAULT_RETENTION_DAYS = 760;
/** Ten years, as the archive's lifecycle ages: a longer retention is a typo; use "forever". */
export const MAX_RETENTION_DAYS = 3650;

/** BigQuery takes a time travel window of 2 to 7 days, in hours, in whole days. */
export const MIN_TIME_TRAVEL_HOURS = 48;
export const MAX_TIME_TRAVEL_HOURS = 168;

export const DEFAULT_RETENTION_SETTINGS = {
  retentionDays: DEFAULT_RETENTION_DAYS,
  timeTravelHours: CONFIG_KEYS.timeTravelHours.default,
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;

/** The retention as BigQuery's expirations take it; undefined for ever. */
export function retentionMs(retention: Pick<RetentionSettings, "days">): number | undefined {
  return retention.days === undefined ? undefined : retention.days * DAY_MS;
}

/**
 * The first UTC day (YYYY-MM-DD) still kept on `today`: as BigQuery expires a partition, a day
 * goes when `days` days have passed since its midnight, so today and the `days - 1` before it are
 * kept. Undefined when data is kept for ever.
 */
export function oldestKeptDay(retention: Pick<RetentionSettings, "days">, today: Date): string | undefined {
  if (retention.days === undefined) return undefined;
  const midnight = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  return new Date(midnight - (retention.days - 1) * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Reads retentionDays and timeTravelHours. The rollups recompute their last `rollupLateDays` days
 * from the rows, so a retention that does not outlast them would rewrite days whose rows are gone.
 */
export function readRetentionSettings(raw: RawConfig, rollupLateDays: number, problems: ConfigProblems): RetentionSettings {
  const timeTravelHours = readInteger(raw, "timeTravelHours", problems, {
    fallback: DEFAULT_RETENTION_SETTINGS.timeTravelHours,
    min: MIN_TIME_TRAVEL_HOURS,
    max: MAX_TIME_TRAVEL_HOURS,
  });
  if (timeTravelHours % 24 !== 0) {
    problems.add("timeTravelHours", `${timeTravelHours} is not a whole number of days: use 48, 72, 96, 120, 144 or 168.`);
  }
  const value = raw.retentionDays;
  if (isAbsent(value)) return { days: DEFAULT_RETENTION_DAYS, chosen: false, timeTravelHours };
  if (typeof value === "string" && value.trim() === RETENTION_FOREVER) return { chosen: true, timeTravelHours };
  const before = problems.messages.length;
  const days = readInteger(raw, "retentionDays", problems, { fallback: DEFAULT_RETENTION_DAYS, min: 1, max: MAX_RETENTION_DAYS });
  if (problems.messages.length > before) {
    problems.messages[problems.messages.length - 1] += ` To keep data for ever, set it to "${RETENTION_FOREVER}".`;
  } else if (days <= rollupLateDays) {
    problems.add("retentionDays", `${days} does not outlast rollupLateDays (${rollupLateDays}): the rollups would recompute days whose rows have expired. Raise retentionDays, or lower rollupLateDays.`);
  }
  return { days, chosen: true, timeTravelHours };
}

import { createHash } from "node:crypto";
import { ARCHIVE_OBJECT_DEAD_REASON, isSinkObject, LOAD_LEDGER_TABLE, SINK_OBJECT_PREFIX } from "./batchLoad";
import type { LoadOutcome } from "./batchLoad";
import { googleSqlString } from "./views";

/*
 * The batch tier's decisions about the load ledger (core/batchLoad.ts LOAD_LEDGER_SCHEMA): how
 * many attempts an archive object gets, when it is dead, and which objects the sweep loads. The
 * loader function and the sweep (functions/batchApp.ts) apply them; nothing here reads or writes.
 */

/**
 * Failed attempts an archive object gets before it is recorded dead: the attempt that fails for
 * the fifth time records `dead` instead of `failed`, alerts, and is not retried. Eventarc retries a
 * failed event with backoff for up to 24 hours, and each hourly sweep tries a missed object once,
 * so five attempts span from minutes (a redelivered event) to hours (the sweep): long enough for
 * a BigQuery or Cloud Storage outage to pass, short enough for the alert to come the same day.
 */
export const MAX_LOAD_ATTEMPTS = 5;

/**
 * The sweep leaves an object alone until it is this old, so that it does not race the object's
 * own event: Eventarc delivers within seconds, and its first retries come within minutes. An
 * object the event path is still retrying has `failed` rows and is neither loaded nor dead; the
 * sweep may then try it as well, which is safe (the same job ids) and counts as an attempt.
 */
export const SWEEP_GRACE_MS = 60 * 60 * 1000;

/**
 * The most objects one sweep loads, and the time it spends before it starts no further object:
 * a backlog (the loader down for a day) drains over several runs instead of overrunning the
 * function's timeout. One run logs how many objects remain.
 */
export const SWEEP_MAX_OBJECTS = 20;
export const SWEEP_TIME_BUDGET_MS = 5 * 60 * 1000;

/**
 * How many days back the sweep looks: it lists the sink's day folders from the day this many days
 * before the run to the run's own (UTC), and reads only the ledger's rows recorded since the first
 * of them. Eventarc gives an event up after a day of failures, so a week covers a lost event with
 * days to spare, an outage of the loader of up to six days included, while each run lists a fixed
 * eight folders and reads a week of ledger partitions however long the archive is kept. An object
 * older than that which was never loaded is left to `npm run replay` (docs/operations.md).
 */
export const SWEEP_LOOKBACK_DAYS = 7;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Midnight UTC of the day `time` falls on. */
function utcDay(time: Date): Date {
  return new Date(Math.floor(time.getTime() / DAY_MS) * DAY_MS);
}

/** The first day the sweep looks at (midnight UTC): the ledger's rows it reads are those recorded since. */
export function sweepLookbackStart(now: Date): Date {
  return utcDay(new Date(now.getTime() - SWEEP_LOOKBACK_DAYS * DAY_MS));
}

/**
 * The sink's day folders the sweep lists, `requests/YYYY/MM/DD/`, oldest first: from the lookback's
 * first day, or from the day before the ledger's first row when that is later (the objects of the
 * hours before the first load may sit in the previous day's folder), to today. The sink names its
 * folders by the UTC day of the entries' hour, and writes an hour's files after that hour, so an
 * object in a listed folder was written, and recorded in the ledger, on or after the folder's day.
 */
export function sweepDayPrefixes(ledgerStart: Date, now: Date): string[] {
  const lookbackStart = sweepLookbackStart(now).getTime();
  const first = Math.max(lookbackStart, utcDay(ledgerStart).getTime() - DAY_MS);
  const prefixes: string[] = [];
  for (let day = first; day <= utcDay(now).getTime(); day += DAY_MS) {
    prefixes.push(`${SINK_OBJECT_PREFIX}${new Date(day).toISOString().slice(0, 10).replaceAll("-", "/")}/`);
  }
  return prefixes;
}

/**
 * The reasons the batch tier logs, beside the parser's refusal reasons and DELIVERY_FAILURE_REASONS.
 * Monitoring matches `jsonPayload.reason` against these names: ARCHIVE_OBJECT_DEAD_REASON is the alert.
 */
export const LOAD_FAILURE_REASONS = {
  archive_load_failed: "One attempt to load an archive object failed (Cloud Storage or BigQuery unavailable, a read error); Eventarc or the next sweep tries it again.",
  [ARCHIVE_OBJECT_DEAD_REASON]:
    "An archive object will not be loaded without a person: over the size bound, refused by BigQuery (its load job failed), or failed on every attempt. Its rows are not in BigQuery.",
} as const;

export type LoadFailureReason = keyof typeof LOAD_FAILURE_REASONS;

/**
 * Why an object is dead, in the alert line's `cause`: over the engine's size bound, refused by
 * BigQuery (its load job failed, and its id is spent), or failed on MAX_LOAD_ATTEMPTS attempts.
 */
export const DEATH_CAUSES = ["too_large", "load_job_failed", "attempts_exhausted"] as const;
export type DeathCause = (typeof DEATH_CAUSES)[number];

/** One JSON line about an archive object; Cloud Logging reads `severity` and `message` from it. */
export interface LoadLogLine {
  readonly severity: "DEBUG" | "INFO" | "WARNING" | "ERROR";
  readonly message: string;
  readonly reason?: LoadFailureReason;
  readonly cause?: DeathCause;
  /** gs://bucket/name */
  readonly object?: string;
  readonly generation?: string;
  readonly attempt?: number;
  readonly detail?: string;
}

export type LoadLogger = (line: LoadLogLine) => void;

/** What the ledger says of one object: its rows, counted by outcome. */
export interface ObjectHistory {
  readonly loaded: boolean;
  readonly dead: boolean;
  readonly failedAttempts: number;
}

export const NO_HISTORY: ObjectHistory = { loaded: false, dead: false, failedAttempts: 0 };

/** One row of the ledger's history query (ledgerHistoryQuery). */
export interface LedgerCount {
  readonly object: string;
  readonly outcome: string;
  readonly attempts: number;
  readonly firstRecordedAt: Date;
}

/** The ledger's rows, counted by outcome, for each object they name. */
export function objectHistories(counts: readonly LedgerCount[]): Map<string, ObjectHistory> {
  const histories = new Map<string, ObjectHistory>();
  for (const { object, outcome, attempts } of counts) {
    const history = histories.get(object) ?? NO_HISTORY;
    histories.set(object, {
      loaded: history.loaded || (outcome === "loaded" && attempts > 0),
      dead: history.dead || (outcome === "dead" && attempts > 0),
      failedAttempts: history.failedAttempts + (outcome === "failed" ? attempts : 0),
    });
  }
  return histories;
}

/** When the ledger's first row was written among these counts: where the sweep's horizon starts. */
export function ledgerStart(counts: readonly LedgerCount[]): Date | undefined {
  return counts.reduce<Date | undefined>((first, count) => (first === undefined || count.firstRecordedAt < first ? count.firstRecordedAt : first), undefined);
}

/** Whether an object still needs loading: it is neither loaded nor dead. */
export function needsLoading(history: ObjectHistory): boolean {
  return !history.loaded && !history.dead;
}

/** The number of the next attempt, counted from 1. */
export function nextAttempt(history: ObjectHistory): number {
  return history.failedAttempts + 1;
}

/** What a failed attempt records: `failed` while attempts remain, `dead` on the last one. */
export function failedAttemptOutcome(attempt: number): Extract<LoadOutcome, "failed" | "dead"> {
  return attempt >= MAX_LOAD_ATTEMPTS ? "dead" : "failed";
}

/**
 * The ledger row's insertId: one attempt's row is written once however often its write is
 * retried, while each attempt (and each generation of a rewritten object) gets a row of its own.
 */
export function ledgerInsertId(object: string, generation: string | undefined, outcome: LoadOutcome, attempt: number): string {
  return createHash("sha256")
    .update(JSON.stringify([object, generation ?? null, outcome, attempt]))
    .digest("hex")
    .slice(0, 32);
}

/** gs://bucket/name, the ledger's and the log lines' name for an object. */
export function objectUrl(bucket: string, name: string): string {
  return `gs://${bucket}/${name}`;
}

/** An object as the bucket lists it. */
export interface ListedObject {
  readonly name: string;
  readonly createdAt: Date;
}

export interface SweepPlan<T extends ListedObject> {
  /** The objects this run loads, oldest name first. */
  readonly load: readonly T[];
  /** Objects that need loading beyond this run's bound. */
  readonly remaining: number;
}

/**
 * Which listed objects the sweep loads: sink objects older than the grace period that the ledger
 * records neither loaded nor dead, written since the batch tier began. The ledger starts with it:
 * a stack that streamed before has archive files whose rows are already in BigQuery, and an empty
 * ledger means no object has been seen yet. The horizon is the ledger's first row less the grace
 * period, since objects written just before the first load (its hour's other shards) had their
 * events in flight too. The sweep reads the ledger over its lookback only (SWEEP_LOOKBACK_DAYS), so
 * its first row there stands for the ledger's: a tier that recorded nothing for the whole lookback
 * starts again from its next row, like a new one.
 */
export function planSweep<T extends ListedObject>(
  bucket: string,
  listed: readonly T[],
  histories: ReadonlyMap<string, ObjectHistory>,
  ledgerStart: Date | undefined,
  now: Date,
  maxObjects = SWEEP_MAX_OBJECTS,
): SweepPlan<T> {
  if (ledgerStart === undefined) return { load: [], remaining: 0 };
  const due = listed
    .filter((object) => isSinkObject(object.name))
    .filter((object) => object.createdAt.getTime() >= ledgerStart.getTime() - SWEEP_GRACE_MS && now.getTime() - object.createdAt.getTime() >= SWEEP_GRACE_MS)
    .filter((object) => needsLoading(histories.get(objectUrl(bucket, object.name)) ?? NO_HISTORY))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { load: due.slice(0, maxObjects), remaining: Math.max(0, due.length - maxObjects) };
}

/**
 * Which of the ledger's rows a history query reads: one object's (the table is clustered by
 * object), or those recorded since a time of every object under a gs:// prefix.
 */
export type LedgerSelection = { readonly object: string } | { readonly objectsUnder: string; readonly recordedSince: Date };

/**
 * The ledger's rows counted by object and outcome, with the time of each group's first row, in
 * BigQuery's SQL. The table is named by dataset only: the query job runs in the project that holds it.
 * The time bound is a literal, so BigQuery reads only the partitions (by day of recorded_at) since then.
 */
export function ledgerHistoryQuery(dataset: string, selection: LedgerSelection): string {
  const where =
    "object" in selection
      ? `object = ${googleSqlString(selection.object)}`
      : `STARTS_WITH(object, ${googleSqlString(selection.objectsUnder)}) AND recorded_at >= ${googleSqlTimestamp(selection.recordedSince)}`;
  return `SELECT object, outcome, COUNT(*) AS attempts, MIN(recorded_at) AS first_recorded_at
FROM \`${dataset}.${LOAD_LEDGER_TABLE}\`
WHERE ${where}
GROUP BY object, outcome`;
}

/** A TIMESTAMP literal in UTC, to the millisecond. */
function googleSqlTimestamp(time: Date): string {
  return `TIMESTAMP '${time.toISOString().replace("T", " ").replace("Z", "+00")}'`;
}

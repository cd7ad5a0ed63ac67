import * as functions from "@google-cloud/functions-framework";
import { ARCHIVE_OBJECT_DEAD_REASON, isSinkObject, SINK_OBJECT_PREFIX } from "../core/batchLoad";
import type { LoadOutcome } from "../core/batchLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import type { LogLine } from "../core/delivery";
import { LOADER_ENTRY_POINT, SWEEP_ENTRY_POINT } from "../core/functionContract";
import {
  failedAttemptOutcome,
  ledgerStart,
  NO_HISTORY,
  needsLoading,
  nextAttempt,
  objectHistories,
  objectUrl,
  planSweep,
  sweepDayPrefixes,
  sweepLookbackStart,
  SWEEP_LOOKBACK_DAYS,
  SWEEP_MAX_OBJECTS,
  SWEEP_TIME_BUDGET_MS,
} from "../core/loadLedger";
import type { DeathCause, LoadLogLine, ObjectHistory } from "../core/loadLedger";
import { archiveObject, listBucketObjects } from "./archiveBucket";
import type { BucketObject } from "./archiveBucket";
import { loadArchiveObject, LoadJobFailedError, PoisonObjectError } from "./archiveLoader";
import type { LoadJobs, ObjectLoadReport } from "./archiveLoader";
import type { GoogleApi } from "./googleApi";
import type { LoadLedger } from "./loadLedger";

/** The CloudEvent data of Cloud Storage's `google.cloud.storage.object.v1.finalized` event: the object's metadata. */
interface StorageObjectData {
  bucket?: string;
  name?: string;
  generation?: string;
  /** Bytes, as a decimal string (the JSON API's uint64). */
  size?: string;
}

export interface BatchFunctions {
  readonly settings: CoreSettings;
  readonly jobs: LoadJobs;
  readonly ledger: LoadLedger;
  /** The Cloud Storage JSON API. */
  readonly storage: GoogleApi;
  /** The archive bucket: the only one whose objects are loaded. */
  readonly archiveBucket: string;
  /** The engine's refusal lines and the batch tier's own, one JSON line each. */
  readonly log: (line: LogLine | LoadLogLine) => void;
  /** The time the ledger records and the sweep's grace and budget are measured by; the system clock by default. */
  readonly now?: () => Date;
  /** The engine's size bound (its default unless given). */
  readonly maxObjectBytes?: number;
  readonly sweepMaxObjects?: number;
}

/** Rejecting the event makes the framework answer 500, so Eventarc delivers it again. */
export class ObjectNotLoadedError extends Error {
  constructor(object: string, attempt: number, detail: string) {
    super(`${object} was not loaded (attempt ${attempt}); it will be retried: ${detail}`);
    this.name = "ObjectNotLoadedError";
  }
}

/** What one attempt came to, and whether the event should be delivered again. */
interface Attempt {
  readonly attempt: number;
  readonly outcome: LoadOutcome;
  readonly retry: boolean;
  readonly detail?: string;
}

/**
 * Registers the batch tier's two CloudEvent functions, which share one bundle: the loader, on each
 * object finalized in the archive bucket, and the sweep, on the scheduler's Pub/Sub message.
 */
export function registerBatchFunctions(batch: BatchFunctions): void {
  functions.cloudEvent(LOADER_ENTRY_POINT, (event: functions.CloudEvent<StorageObjectData>) => loadFinalizedObject(event.data, batch));
  functions.cloudEvent(SWEEP_ENTRY_POINT, () => sweepArchive(batch));
}

/**
 * Loads the object an event names, once: a sink object in the archive bucket that the ledger
 * records neither loaded nor dead. Anything else is acknowledged. A failed attempt throws, so that
 * Eventarc retries it, until the attempt that makes the object dead.
 */
export async function loadFinalizedObject(data: StorageObjectData | undefined, batch: BatchFunctions): Promise<void> {
  const { bucket, name } = data ?? {};
  if (bucket !== batch.archiveBucket || name === undefined || !isSinkObject(name)) {
    batch.log({ severity: "DEBUG", message: "not an archive sink object: not loaded", object: objectUrl(bucket ?? "?", name ?? "?") });
    return;
  }
  const url = objectUrl(bucket, name);
  const history = objectHistories(await batch.ledger.counts({ object: url })).get(url) ?? NO_HISTORY;
  if (!needsLoading(history)) {
    batch.log({ severity: "INFO", message: history.loaded ? "already loaded: nothing to do" : "recorded dead: not loaded again", object: url, generation: data?.generation });
    return;
  }
  const result = await attemptLoad({ name, size: Number(data?.size ?? 0), generation: data?.generation }, history, batch);
  if (result.retry) throw new ObjectNotLoadedError(url, result.attempt, result.detail ?? "");
}

/**
 * Loads the sink objects of the last SWEEP_LOOKBACK_DAYS days the ledger has not seen loaded (their
 * event lost, or dropped by Eventarc after a day of failures), within a bound per run, and says
 * how many remain. It lists those days' folders and reads those days' ledger rows only, so a run
 * costs the same whatever the archive's age.
 */
export async function sweepArchive(batch: BatchFunctions): Promise<void> {
  const started = clock(batch);
  const counts = await batch.ledger.counts({ objectsUnder: objectUrl(batch.archiveBucket, SINK_OBJECT_PREFIX), recordedSince: sweepLookbackStart(started) });
  const start = ledgerStart(counts);
  if (start === undefined) {
    batch.log({
      severity: "INFO",
      message: `sweep: the ledger has no row from the last ${SWEEP_LOOKBACK_DAYS} days: no object has been loaded yet, or none lately; the sweep starts with the next`,
    });
    return;
  }
  const listed: BucketObject[] = [];
  for (const prefix of sweepDayPrefixes(start, started)) listed.push(...(await listBucketObjects(batch.storage, batch.archiveBucket, prefix)));
  const histories = objectHistories(counts);
  const plan = planSweep(batch.archiveBucket, listed, histories, start, started, batch.sweepMaxObjects ?? SWEEP_MAX_OBJECTS);
  const tally: Record<LoadOutcome, number> = { loaded: 0, failed: 0, dead: 0 };
  for (const object of plan.load) {
    if (clock(batch).getTime() - started.getTime() > SWEEP_TIME_BUDGET_MS) break;
    const result = await attemptLoad(object, histories.get(objectUrl(batch.archiveBucket, object.name)) ?? NO_HISTORY, batch);
    tally[result.outcome] += 1;
  }
  const remaining = plan.remaining + plan.load.length - (tally.loaded + tally.failed + tally.dead);
  batch.log({
    severity: tally.failed + tally.dead > 0 || remaining > 0 ? "WARNING" : "INFO",
    message: `sweep: ${tally.loaded} loaded, ${tally.failed} failed, ${tally.dead} dead; ${remaining} left for the next run`,
    detail: JSON.stringify({ ...tally, remaining }),
  });
}

/** One attempt at an object, recorded in the ledger whatever its outcome. */
async function attemptLoad(object: Pick<BucketObject, "name" | "size" | "generation">, history: ObjectHistory, batch: BatchFunctions): Promise<Attempt> {
  const url = objectUrl(batch.archiveBucket, object.name);
  const attempt = nextAttempt(history);
  const row = { object: url, generation: object.generation, attempt };
  let report: ObjectLoadReport;
  try {
    report = await loadArchiveObject(archiveObject(batch.storage, batch.archiveBucket, object), {
      settings: batch.settings,
      jobs: batch.jobs,
      log: batch.log,
      maxObjectBytes: batch.maxObjectBytes,
    });
  } catch (error) {
    const failure = classifyFailure(error, attempt);
    const detail = error instanceof Error ? error.message : String(error);
    await batch.ledger.record({ ...row, outcome: failure.outcome, detail, recordedAt: clock(batch) });
    if (failure.outcome === "dead") {
      batch.log({ severity: "ERROR", message: `archive object dead: ${failure.cause}; its rows are not loaded`, reason: ARCHIVE_OBJECT_DEAD_REASON, cause: failure.cause, ...row, detail });
      return { attempt, outcome: "dead", retry: false, detail };
    }
    batch.log({ severity: "WARNING", message: "archive object not loaded; it will be tried again", reason: "archive_load_failed", ...row, detail });
    return { attempt, outcome: "failed", retry: failure.retry, detail };
  }
  await batch.ledger.record({
    ...row,
    outcome: "loaded",
    entries: report.entries,
    rows: report.tables.reduce((sum, table) => sum + table.rows, 0),
    refused: Object.values(report.refused).reduce((sum, count) => sum + count, 0),
    jobs: JSON.stringify(report.tables.map(({ table, jobId, rows, status }) => ({ table, job_id: jobId, rows, status }))),
    recordedAt: clock(batch),
  });
  return { attempt, outcome: "loaded", retry: false };
}

function clock(batch: BatchFunctions): Date {
  return batch.now?.() ?? new Date();
}

/**
 * What a failure records. Dead at once: an object over the size bound, and a load job BigQuery
 * refused (its id is spent: retrying reads the same failed job; `npm run replay -- --rebuild`
 * loads it again). A generation that is gone (unreadable) is not retried: a rewrite's own event,
 * or the sweep, reads the new one. Anything else is retried until MAX_LOAD_ATTEMPTS.
 */
function classifyFailure(error: unknown, attempt: number): { outcome: "failed"; retry: boolean } | { outcome: "dead"; cause: DeathCause } {
  if (error instanceof PoisonObjectError && error.reason === "too_large") return { outcome: "dead", cause: "too_large" };
  if (error instanceof LoadJobFailedError) return { outcome: "dead", cause: "load_job_failed" };
  if (failedAttemptOutcome(attempt) === "dead") return { outcome: "dead", cause: "attempts_exhausted" };
  return { outcome: "failed", retry: !(error instanceof PoisonObjectError) };
}

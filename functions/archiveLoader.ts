import type { Readable } from "node:stream";
import { boundedLines, DEFAULT_MAX_OBJECT_BYTES, groupsOf, MAX_ENTRY_LINE_BYTES, RefusalTally } from "../core/archiveLoad";
import { loadJobId } from "../core/batchLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import { refusalLine } from "../core/delivery";
import type { Logger } from "../core/delivery";
import { parseEntryLine } from "../core/event";
import type { AcceptedEvent } from "../core/event";
import { parseTableSuffix, storedRow, storedTableName } from "../core/layout";
import { refuse } from "../core/refusals";
import type { Refusal } from "../core/refusals";

/**
 * The batch loader's engine: one archive object (a file the sink wrote, or a local spool segment)
 * in, one load job per target table out, each under an id that names the object and the table, so
 * the same object is loaded at most once however often it is delivered, swept, replayed or
 * rewritten. The rows are the collector's: every line goes through the same core
 * (parseEntryLine → logEntryToEvent), and each row is storedRow(layout, event), insert_id included.
 *
 * Memory stays bounded whatever the object's size; no row is held beyond a short queue per upload:
 * - a first read runs every line through the core and keeps only counts: the target tables with
 *   their row counts, the days, the refusals by reason (the first REFUSAL_LINES_PER_OBJECT logged
 *   one by one, then one line with the counts);
 * - each table's job is looked up; the tables still to load are taken in groups of at most
 *   `maxOpenUploads`, and each group gets one more read of the object that feeds its uploads at once,
 *   each through a bounded queue (a slow upload holds the read back). The partitioned layout has
 *   one table, so one upload and two reads in all; per-tenant-day reads once more per group.
 * Reading again rather than spilling rows to disk: Cloud Run's disk is memory, and the object is
 * already on durable storage. open() must read the same content (generation) each time.
 */
export interface ArchiveObject {
  /** For a local spool segment: LOCAL_SPOOL_BUCKET. */
  readonly bucket: string;
  /** The object name (or segment file name); job ids use bucket + name, never the generation. */
  readonly name: string;
  readonly generation?: string;
  readonly size: number;
  /** May be called more than once (one read per pass); each read must return the same content. */
  open(): Promise<Readable>;
}

/** The bucket name that stands for the local pipeline's spool in job ids and reports. */
export const LOCAL_SPOOL_BUCKET = "local-spool";

export interface LoadJobError {
  readonly reason?: string;
  readonly message?: string;
  readonly location?: string;
}

export interface LoadJobState {
  readonly done: boolean;
  /** Why a done job failed; empty when it succeeded (or is still running). */
  readonly errors: readonly LoadJobError[];
  /** Rows the job wrote, when the store says. */
  readonly outputRows?: number;
}

/** BigQuery (functions/bigqueryLoads.ts) or DuckDB (local/duckdbLoads.ts). */
export interface LoadJobs {
  /** The job with this id, or undefined when there is none. */
  get(jobId: string): Promise<LoadJobState | undefined>;
  /**
   * Creates the job and sends its rows (each a JSON text of storedRow(layout, event), no newline).
   * Rejects with LoadJobExistsError when the id is taken (BigQuery's 409). `table` is the stored
   * table name (a day table, or events_partitioned, optionally with a $YYYYMMDD partition
   * decorator for a rebuild). `rows` may throw (the object could not be read to its end): the job
   * must then not be created. It must be consumed without waiting for another insert to finish:
   * one read feeds up to maxConcurrentInserts of them at once.
   */
  insert(job: { readonly id: string; readonly table: string; readonly rows: AsyncIterable<string>; readonly replace?: boolean }): Promise<LoadJobState>;
  /** Resolves once the job is done. */
  wait(jobId: string): Promise<LoadJobState>;
  /**
   * How many inserts this store takes at once (default DEFAULT_MAX_OPEN_UPLOADS). A store that
   * runs one job at a time says 1, so the engine never waits on an insert that waits on another.
   */
  readonly maxConcurrentInserts?: number;
}

/**
 * Uploads fed by one read of the object, by default. Each holds a socket and a queue of at most
 * ROW_QUEUE_LENGTH rows, so eight cost a few megabytes, and a file of up to eight day tables
 * (a few tenants across midnight) is loaded with one more read.
 */
export const DEFAULT_MAX_OPEN_UPLOADS = 8;

/** Rows waiting for one upload before the read waits for it. */
const ROW_QUEUE_LENGTH = 256;

/** The job id is taken: another delivery of the same object created it. Not a failure: wait for that job. */
export class LoadJobExistsError extends Error {
  constructor(readonly jobId: string) {
    super(`load job ${jobId} already exists`);
    this.name = "LoadJobExistsError";
  }
}

/** A load job that ended with errors. Never retried under a new id: a rebuild (--rebuild) is the way to load it again. */
export class LoadJobFailedError extends Error {
  constructor(
    readonly jobId: string,
    readonly table: string,
    readonly errors: readonly LoadJobError[],
  ) {
    super(`load job ${jobId} into ${table} failed: ${errors.map(formatJobError).join("; ") || "no error given"}`);
    this.name = "LoadJobFailedError";
  }
}

export type PoisonReason = "too_large" | "unreadable";

/** An object no retry can load: over the size bound, or unreadable for good. The caller records it dead. */
export class PoisonObjectError extends Error {
  readonly object: string;

  constructor(
    object: string | Pick<ArchiveObject, "bucket" | "name">,
    readonly reason: PoisonReason,
    readonly detail: string,
  ) {
    const uri = typeof object === "string" ? object : objectUri(object);
    super(`${uri} cannot be loaded (${reason}): ${detail}`);
    this.object = uri;
    this.name = "PoisonObjectError";
  }
}

export interface LoadOptions {
  readonly settings: CoreSettings;
  readonly jobs: LoadJobs;
  /** One JSON line per refusal, up to REFUSAL_LINES_PER_OBJECT per object, then one line with the counts. */
  readonly log: Logger;
  /** New job ids (loadJobId's 4th argument) for --rebuild. */
  readonly rebuildToken?: string;
  /** YYYY-MM-DD: rows of other days are skipped (rebuilds). */
  readonly onlyDays?: ReadonlySet<string>;
  /** Over it: PoisonObjectError("too_large") before reading. Default DEFAULT_MAX_OBJECT_BYTES. */
  readonly maxObjectBytes?: number;
}

export interface TableLoad {
  readonly table: string;
  readonly jobId: string;
  /** Rows the job wrote, as the store reports them (else as counted in the object). */
  readonly rows: number;
  readonly status: "loaded" | "already-loaded";
}

export interface ObjectLoadReport {
  /** gs://bucket/name, or the segment's name locally. */
  readonly object: string;
  readonly generation?: string;
  readonly entries: number;
  /** By refusal reason. */
  readonly refused: Readonly<Record<string, number>>;
  readonly tables: readonly TableLoad[];
  /** YYYY-MM-DD of the rows: the days whose rollups changed. */
  readonly days: readonly string[];
}

export function objectUri(object: Pick<ArchiveObject, "bucket" | "name">): string {
  return object.bucket === LOCAL_SPOOL_BUCKET ? object.name : `gs://${object.bucket}/${object.name}`;
}

/** What the first read learns: counts only. */
interface ObjectSurvey {
  readonly entries: number;
  readonly refused: Readonly<Record<string, number>>;
  /** Rows by stored table name, in the order first seen. */
  readonly rowsByTable: ReadonlyMap<string, number>;
  readonly days: readonly string[];
}

/** Loads one archive object: see the comment on ArchiveObject for how, and LoadJobs for the per-table protocol. */
export async function loadArchiveObject(object: ArchiveObject, options: LoadOptions): Promise<ObjectLoadReport> {
  const uri = objectUri(object);
  const maxObjectBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  if (object.size > maxObjectBytes) {
    throw new PoisonObjectError(uri, "too_large", `${object.size} bytes, over the loader's bound of ${maxObjectBytes} (maxObjectBytes)`);
  }
  const survey = await surveyObject(object, uri, options);
  const jobIdOf = (table: string) => loadJobId(object.bucket, object.name, table, options.rebuildToken);

  const loads = new Map<string, TableLoad>();
  const failures: unknown[] = [];
  const toUpload: string[] = [];
  for (const table of survey.rowsByTable.keys()) {
    const jobId = jobIdOf(table);
    let state = await options.jobs.get(jobId);
    // Running: another delivery of this object is loading it now.
    if (state && !state.done) state = await options.jobs.wait(jobId);
    if (state === undefined) toUpload.push(table);
    else if (state.errors.length > 0) failures.push(new LoadJobFailedError(jobId, table, state.errors));
    else loads.set(table, { table, jobId, rows: state.outputRows ?? survey.rowsByTable.get(table)!, status: "already-loaded" });
  }

  for (const group of groupsOf(toUpload, options.jobs.maxConcurrentInserts ?? DEFAULT_MAX_OPEN_UPLOADS)) {
    const outcomes = await uploadGroup(object, uri, group, jobIdOf, options);
    for (const [index, outcome] of outcomes.entries()) {
      const table = group[index];
      if (outcome.status === "rejected") failures.push(outcome.reason);
      else loads.set(table, { table, jobId: jobIdOf(table), rows: outcome.value.state.outputRows ?? survey.rowsByTable.get(table)!, status: outcome.value.status });
    }
  }
  // A failed job is reported only once every other table had its chance: their ids are settled, so a
  // later attempt finds them done. An error that a retry may cure comes first, a failed job after.
  const retryable = failures.find((failure) => !(failure instanceof LoadJobFailedError));
  if (failures.length > 0) throw retryable ?? failures[0];

  return {
    object: uri,
    ...(object.generation === undefined ? {} : { generation: object.generation }),
    entries: survey.entries,
    refused: survey.refused,
    tables: [...survey.rowsByTable.keys()].map((table) => loads.get(table)!),
    days: survey.days,
  };
}

/** The first read: counts tables, days and refusals, and logs the refusals. */
async function surveyObject(object: ArchiveObject, uri: string, options: LoadOptions): Promise<ObjectSurvey> {
  const { settings } = options;
  const tally = new RefusalTally();
  const rowsByTable = new Map<string, number>();
  const days = new Set<string>();
  let entries = 0;
  await readObject(object, uri, settings, (line) => {
    entries++;
    const result = line.event;
    if (!result.ok) {
      if (tally.count(result.reason)) options.log(refusalLine(result, { insertId: insertIdOf(line.text), object: uri }));
      return;
    }
    const day = parseTableSuffix(result.tableSuffix)!.date;
    if (options.onlyDays && !options.onlyDays.has(day)) return;
    days.add(day);
    const table = storedTableName(settings.layout, settings.templateTable, result.tableSuffix);
    rowsByTable.set(table, (rowsByTable.get(table) ?? 0) + 1);
  });
  const summary = tally.summaryLine(uri);
  if (summary) options.log(summary);
  return { entries, refused: tally.counts, rowsByTable, days: [...days].sort() };
}

interface UploadResult {
  readonly state: LoadJobState;
  readonly status: TableLoad["status"];
}

/** One more read of the object, feeding one upload per table of the group at once. */
async function uploadGroup(object: ArchiveObject, uri: string, tables: readonly string[], jobIdOf: (table: string) => string, options: LoadOptions): Promise<PromiseSettledResult<UploadResult>[]> {
  const { settings, jobs } = options;
  const queues = new Map(tables.map((table) => [table, new RowQueue()]));
  const uploads = tables.map((table) => upload(jobs, jobIdOf(table), table, queues.get(table)!));
  try {
    await readObject(object, uri, settings, async (line) => {
      const event = line.event;
      if (!event.ok) return;
      const queue = queues.get(storedTableName(settings.layout, settings.templateTable, event.tableSuffix));
      if (queue === undefined || (options.onlyDays && !options.onlyDays.has(parseTableSuffix(event.tableSuffix)!.date))) return;
      await queue.push(JSON.stringify(storedRow(settings.layout, event)));
    });
    for (const queue of queues.values()) queue.end();
  } catch (error) {
    // Every upload stops with the read, so no job is created from part of the object.
    for (const queue of queues.values()) queue.fail(error);
  }
  return Promise.allSettled(uploads);
}

/** One table's job: insert its rows; an id already taken means another delivery's job, whose end counts. */
async function upload(jobs: LoadJobs, jobId: string, table: string, rows: RowQueue): Promise<UploadResult> {
  let state: LoadJobState;
  let status: TableLoad["status"] = "loaded";
  try {
    state = await jobs.insert({ id: jobId, table, rows });
  } catch (error) {
    if (!(error instanceof LoadJobExistsError)) throw error;
    state = await jobs.wait(jobId);
    status = "already-loaded";
  } finally {
    // Whatever the insert did not read is not wanted any more: the read must not wait for it.
    rows.close();
  }
  if (!state.done) state = await jobs.wait(jobId);
  if (state.errors.length > 0) throw new LoadJobFailedError(jobId, table, state.errors);
  return { state, status };
}

interface ReadLine {
  readonly text: string;
  readonly event: AcceptedEvent | Refusal;
}

/**
 * Reads the object line by line through the core, calling `each` for every line that is not blank
 * (and awaiting it when it returns a promise). A read that fails for good is a PoisonObjectError;
 * any other read error is thrown as it is, for the caller to retry.
 */
async function readObject(object: ArchiveObject, uri: string, settings: CoreSettings, each: (line: ReadLine) => void | Promise<void>): Promise<void> {
  try {
    for await (const line of boundedLines(await object.open(), MAX_ENTRY_LINE_BYTES)) {
      if (typeof line !== "string") {
        await each({ text: "", event: refuse("invalid_message", `a line of ${line.overlongBytes} bytes, longer than any log entry (the bound is ${MAX_ENTRY_LINE_BYTES})`) });
        continue;
      }
      if (line.trim() === "") continue;
      const pending = each({ text: line, event: parseEntryLine(line, settings) });
      if (pending) await pending;
    }
  } catch (error) {
    if (isPermanentReadError(error)) throw new PoisonObjectError(uri, "unreadable", String(error));
    throw error;
  }
}

/** The insertId of a refused line, for its log line, when the line is JSON with one. */
function insertIdOf(line: string): string | undefined {
  try {
    const insertId = (JSON.parse(line) as { insertId?: unknown } | null)?.insertId;
    return typeof insertId === "string" ? insertId : undefined;
  } catch {
    return undefined;
  }
}

/** HTTP answers that say the object is not there to read, whatever the retry: gone (404, 410), or a request it cannot serve (400, 416). */
const PERMANENT_HTTP_STATUSES: ReadonlySet<number> = new Set([400, 404, 410, 416]);
/** The same for a local file: gone, or not a file. */
const PERMANENT_FILE_CODES: ReadonlySet<string> = new Set(["ENOENT", "EISDIR", "ENOTDIR"]);

/**
 * Whether a read error will come back on every retry. Kept narrow on purpose: only an object that
 * is gone or cannot be served is poison. Everything else, a 5xx, a 429, a reset connection, a
 * timeout, or a 403 (a grant not yet propagated, or missing until the stack is fixed), is thrown
 * as it is: the caller retries it, and its bounded attempts make it dead if it never clears.
 */
export function isPermanentReadError(error: unknown): boolean {
  const { status, code } = (error ?? {}) as { status?: unknown; code?: unknown };
  return (typeof status === "number" && PERMANENT_HTTP_STATUSES.has(status)) || (typeof code === "number" && PERMANENT_HTTP_STATUSES.has(code)) || (typeof code === "string" && PERMANENT_FILE_CODES.has(code));
}

function formatJobError(error: LoadJobError): string {
  return [error.reason, error.location, error.message].filter((part) => part !== undefined && part !== "").join(": ");
}

/**
 * The rows of one upload, handed from the read to the insert through a short queue. The read
 * waits while the queue is full; once the insert has stopped reading (it ended, or failed), rows
 * are dropped so the read goes on for the other uploads.
 */
class RowQueue implements AsyncIterable<string> {
  private rows: string[] = [];
  private ended = false;
  private closed = false;
  private failure: { readonly error: unknown } | undefined;
  /** The insert, waiting for a row. */
  private wakeReader?: () => void;
  /** The read, waiting for room. */
  private wakeWriter?: () => void;

  /** Resolves at once while there is room, else once the insert has taken rows or stopped reading. */
  push(row: string): Promise<void> | undefined {
    if (this.closed) return undefined;
    this.rows.push(row);
    this.wake("reader");
    if (this.rows.length < ROW_QUEUE_LENGTH) return undefined;
    return new Promise<void>((resolve) => (this.wakeWriter = resolve));
  }

  end(): void {
    this.ended = true;
    this.wake("reader");
  }

  fail(error: unknown): void {
    this.failure = { error };
    this.wake("reader");
  }

  /** The insert reads no more. */
  close(): void {
    this.closed = true;
    this.rows = [];
    this.wake("writer");
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    try {
      for (;;) {
        if (this.failure) throw this.failure.error;
        if (this.rows.length > 0) {
          const rows = this.rows;
          this.rows = [];
          this.wake("writer");
          yield* rows;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      this.close();
    }
  }

  private wake(which: "reader" | "writer"): void {
    const wake = which === "reader" ? this.wakeReader : this.wakeWriter;
    if (which === "reader") this.wakeReader = undefined;
    else this.wakeWriter = undefined;
    wake?.();
  }
}

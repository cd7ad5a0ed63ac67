import type { IngestMode } from "../core/batchLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import { decide, LOCAL_DELIVERY, unstoredLine } from "../core/delivery";
import type { LogLine, MessageIds } from "../core/delivery";
import type { AcceptedEvent } from "../core/event";
import type { LoadBalancerLogEntry } from "../core/logEntry";
import { withClientAsStored } from "../core/privacy";
import { parseTimestamp } from "../core/timestamp";
import { handlePixelMessage, RowRejectedError, unstoredOutcome } from "../functions/handler";
import type { RowWriter } from "../functions/handler";
import type { LocalDatabase, PruneReport, RefusalRecord, StoredEvent } from "./database";
import { toPubSubMessage } from "./logEntry";
import { DEAD_LETTER_REASONS, REFUSAL_ENTRY_BYTES } from "./refusalBounds";
import { loadSegment } from "./segmentLoader";
import { comparePositions, finishedSegments, pruneSpool, pruneSpoolBefore, readSpool, segmentFileName } from "./spool";
import { oldestKeptDay } from "../core/config/retention";
import type { SpoolLine, SpoolPosition } from "./spool";

/**
 * Lines per transaction: large enough to amortise the commit, small enough to bisect quickly, and
 * to keep the loader's memory down while it catches up on a backlog (5,000 lines a batch took its
 * peak RSS from 300 to 450 MB over 300,000 lines, for 15% less CPU a line: bench/notes.md).
 */
export const BATCH_LINES = 1000;
/**
 * Bytes of spool lines per transaction. Lines of a few hundred bytes meet BATCH_LINES first; large
 * ones (a raised header limit lets a request's entry reach MAX_LINE_BYTES) meet this, so a batch's
 * strings stay a few megabytes however long the lines are: 1,000 lines of 1 MB in one batch took
 * the loader to 3.6 GB and past V8's longest string.
 */
export const BATCH_BYTES = 4 << 20;
const RETRY_DELAY_MS = 1000;
/** Lines the handler runs on before the loader lets waiting requests through. */
const LINES_PER_TURN = 100;
/**
 * The rest after each background load. Under load, lines then gather into a few large
 * transactions a second instead of a small one per spool sync, and each transaction's fixed cost
 * takes less CPU from the requests. A request after a quiet spell is still loaded at once.
 */
const REST_MS = 100;

/** The reason stored for a spool line the loader cannot stage at all; see unloadableRecord. */
export const UNLOADABLE_LINE = "unloadable_line";

export interface LoaderOptions {
  readonly spoolDir: string;
  readonly database: LocalDatabase;
  readonly settings: CoreSettings;
  /**
   * `streaming` (the default): each durable line is loaded within moments, as the collector
   * function loads each request. `batch`: each finished segment is loaded whole by the cloud's
   * batch loader (segmentLoader.ts), as the archive's hourly files are.
   */
  readonly ingest?: IngestMode;
  /** Loaded spool segments kept beyond this total are deleted (spool.ts KEEP_LOADED_BYTES). */
  readonly keepLoadedBytes?: number;
  /** The stack's retentionDays, for pruneExpired; undefined keeps everything. */
  readonly retentionDays?: number;
  /**
   * The spool writer's durable end: the loader never reads past it. With batch ingest, the
   * segments before its segment are the finished ones.
   */
  readonly durableEnd: () => SpoolPosition;
  /** Where refusals and dead letters are reported, after the batch that stored them commits. */
  readonly log: (line: LogLine) => void;
  /** Problems of the loader itself: torn spool lines, failed transactions. */
  readonly warn: (message: string) => void;
}

/**
 * The local Pub/Sub subscription and function: it delivers each spooled log entry, as a Pub/Sub
 * message, to the same handler the Cloud Function runs, and stores what the handler accepts.
 * The spool checkpoint in DuckDB plays the part of the ack.
 */
export class Loader {
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;
  /** Failed tries of the batch now at the checkpoint, for the delivery policy. */
  private failedAttempts = 0;
  /** Batch ingest: the segments before this one have been looked at since the loader started, and loaded. */
  private segmentsSeenBefore: number;

  private constructor(
    private readonly options: LoaderOptions,
    private checkpoint: SpoolPosition,
  ) {
    // The checkpoint's own segment may go on past it: loaded in part by a streaming run that crashed.
    this.segmentsSeenBefore = checkpoint.segment;
  }

  static async create(options: LoaderOptions): Promise<Loader> {
    return new Loader(options, await options.database.readCheckpoint());
  }

  /** Loads in the background what is durable, then rests; a failed transaction is logged and retried. */
  wake(): void {
    if (this.running || this.timer || this.paused || !this.behind()) return;
    this.running = this.catchUp().then(
      () => {
        this.running = undefined;
        this.wakeAfter(REST_MS);
      },
      (error: unknown) => {
        this.running = undefined;
        this.options.warn(`loading the spool failed, retrying in ${RETRY_DELAY_MS} ms: ${String(error)}`);
        this.wakeAfter(RETRY_DELAY_MS);
      },
    );
  }

  /**
   * Loads everything durable in the foreground and rejects if that fails: for start-up and
   * shutdown. Resolves with the number of lines it loaded itself.
   */
  async drain(): Promise<number> {
    await this.stop();
    try {
      return await this.catchUp();
    } finally {
      this.paused = false;
    }
  }

  /**
   * Deletes what is past the retention, as the cloud's expirations do: the events, rollup rows and
   * refusals of the days before the oldest kept, and the loaded spool segments written before it
   * (they hold full IPs, and a replay would bring the rows back). Between loads, as the database
   * has one writing connection. Resolves with what went, or undefined when data is kept for ever.
   */
  async pruneExpired(now: number = Date.now()): Promise<(PruneReport & { oldestKept: string; segments: number }) | undefined> {
    const oldestKept = oldestKeptDay({ days: this.options.retentionDays }, new Date(now));
    if (oldestKept === undefined) return undefined;
    await this.stop();
    try {
      const report = await this.options.database.prune(oldestKept);
      const segments = await pruneSpoolBefore(this.options.spoolDir, this.checkpoint, Date.parse(oldestKept));
      return { ...report, oldestKept, segments: segments.length };
    } finally {
      this.paused = false;
      this.wake();
    }
  }

  /** Stops loading in the background once the load under way has ended: before the database closes. */
  async stop(): Promise<void> {
    this.paused = true;
    await this.running;
    // Set by the background load that just ended, or by an earlier one.
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Entries may have become durable meanwhile. */
  private wakeAfter(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, delayMs);
  }

  private behind(): boolean {
    const end = this.options.durableEnd();
    return this.options.ingest === "batch" ? end.segment > this.segmentsSeenBefore : comparePositions(this.checkpoint, end) < 0;
  }

  /** Loads what is durable now (with batch ingest, what is finished); what comes meanwhile waits for the next call. */
  private async catchUp(): Promise<number> {
    const { spoolDir, durableEnd, warn } = this.options;
    const end = durableEnd();
    const loaded = this.options.ingest === "batch" ? await this.loadSegments(end) : await this.loadLines(end);
    if (loaded > 0) {
      // The spool's bound on disk; a segment that cannot be deleted now is tried again after the next load.
      await pruneSpool(spoolDir, this.checkpoint, this.options.keepLoadedBytes).catch((error: unknown) => warn(`could not delete loaded spool segments: ${String(error)}`));
    }
    return loaded;
  }

  /** Batch ingest: every finished segment, each whole; resolves with the log entries read. */
  private async loadSegments(end: SpoolPosition): Promise<number> {
    let entries = 0;
    for (const segment of await finishedSegments(this.options.spoolDir, this.checkpoint, end.segment)) {
      entries += await loadSegment(segment, this.options);
      this.checkpoint = { segment: segment.segment, offset: segment.bytes };
    }
    this.segmentsSeenBefore = end.segment;
    return entries;
  }

  /** Streaming ingest: the lines up to `end`, in batches; resolves with the lines loaded. */
  private async loadLines(end: SpoolPosition): Promise<number> {
    const { spoolDir, warn } = this.options;
    let loaded = 0;
    while (comparePositions(this.checkpoint, end) < 0) {
      const read = await readSpool(spoolDir, this.checkpoint, end, { lines: BATCH_LINES, bytes: BATCH_BYTES });
      for (const torn of read.tornTails) {
        warn(`spool ${segmentFileName(torn.segment)} ends with ${torn.bytes} bytes of a line cut off by a crash before it was synced; its request was never answered, so it is skipped`);
      }
      await this.load(read.lines, read.end);
      this.checkpoint = read.end;
      loaded += read.lines.length;
    }
    return loaded;
  }

  /**
   * Commits the lines as one batch, and decides by the local delivery policy what to do when that
   * fails. When DuckDB rejects a row, the batch is split until the rejected line is alone; that
   * line then becomes a dead letter in the refusals table, as in the cloud a row BigQuery rejects
   * goes to the dead-letter topic. A transaction that fails otherwise is retried.
   */
  private async load(lines: readonly SpoolLine[], end: SpoolPosition): Promise<void> {
    const staged = await this.stage(lines);
    try {
      await this.options.database.commit(staged.batch, end);
      this.failedAttempts = 0;
    } catch (error) {
      const kind = error instanceof RowRejectedError ? "rejected" : "failed";
      if (kind === "rejected" && lines.length > 1) {
        const half = Math.ceil(lines.length / 2);
        await this.load(lines.slice(0, half), lines[half - 1].end);
        await this.load(lines.slice(half), end);
        return;
      }
      this.failedAttempts += 1;
      if (staged.accepted.length === 0 || decide(kind, this.failedAttempts, LOCAL_DELIVERY) !== "dead_letter") throw error;
      // Dead-lettered: the batch's events go to the refusals table, beside its refusals.
      const deadLetters = staged.accepted.map(({ line, event, ids }) => {
        const logLine = unstoredLine(unstoredOutcome(event, error), "dead_letter", ids);
        return { logLine, record: refusalRecord(line, logLine, this.options.settings) };
      });
      await this.options.database.commit({ events: [], refusals: [...staged.batch.refusals, ...deadLetters.map((letter) => letter.record)] }, end);
      this.failedAttempts = 0;
      [...staged.logLines, ...deadLetters.map((letter) => letter.logLine)].forEach(this.options.log);
      return;
    }
    staged.logLines.forEach(this.options.log);
  }

  /** Runs the handler on each line; accepted rows are kept by table, refusals as records. */
  private async stage(lines: readonly SpoolLine[]) {
    const { settings } = this.options;
    // Keyed by insertId: a repeated entry in one batch is one row, as across batches.
    const events = new Map<string, StoredEvent>();
    const writer: RowWriter = {
      // The row is stored when the batch commits; a failed commit loads the same lines again.
      async insert(event: AcceptedEvent) {
        events.set(event.insertId, event);
      },
    };
    const refusals: RefusalRecord[] = [];
    const logLines: LogLine[] = [];
    const accepted: StagedEvent[] = [];
    const publishTime = new Date().toISOString();
    const log = (logLine: LogLine) => logLines.push(logLine);
    for (const [index, line] of lines.entries()) {
      // The handler's awaits resolve at once, so without this a large batch would hold up every request meanwhile.
      if (index > 0 && index % LINES_PER_TURN === 0) await new Promise(setImmediate);
      const logged = logLines.length;
      try {
        const message = toPubSubMessage(line.text, messageId(line), publishTime);
        const { outcome, ids } = await handlePixelMessage(message, { settings, writer, log, policy: LOCAL_DELIVERY });
        if (outcome.kind === "stored") {
          accepted.push({ line, event: outcome.event, ids });
          continue;
        }
        // Staging never fails a write, so anything else is a refusal, which the handler logged exactly once.
        refusals.push(refusalRecord(line, logLines[logLines.length - 1], settings));
      } catch (error) {
        // A line the loader cannot stage would fail every retry and hold back every line after it.
        logLines.length = logged;
        refusals.push(unloadableRecord(line, error));
        this.options.warn(`spool line ${messageId(line)} cannot be loaded (${String(error)}); it is stored as a refusal, unloadable_line, and loading goes on`);
      }
    }
    const batch = { events: [...events.values()], refusals };
    return { batch, logLines, accepted };
  }
}

/** An event staged for the batch, with the line it came from and the ids its log lines carry. */
interface StagedEvent {
  readonly line: SpoolLine;
  readonly event: AcceptedEvent;
  readonly ids: MessageIds;
}

/** Stable across redeliveries, like a Pub/Sub messageId: the line's place in the spool. */
function messageId(line: SpoolLine): string {
  return `${line.start.segment}:${line.start.offset}`;
}

function refusalRecord(line: SpoolLine, logLine: LogLine, settings: CoreSettings): RefusalRecord {
  const entry = parsedEntry(line.text);
  // The spool keeps full client IPs, as Cloud Logging does; what is stored beside the rows is anonymised as they are.
  const stored = entry ? JSON.stringify(withClientAsStored(entry, settings), deadLetter(logLine) ? undefined : shortString) : line.text;
  return {
    message_id: messageId(line),
    reason: logLine.reason,
    severity: logLine.severity,
    detail: logLine.detail,
    request_timestamp: parseTimestamp(entry?.timestamp)?.iso ?? null,
    log_entry: deadLetter(logLine) ? stored : cutToBytes(stored, REFUSAL_ENTRY_BYTES),
  };
}

function deadLetter(logLine: LogLine): boolean {
  return DEAD_LETTER_REASONS.includes(logLine.reason);
}

/**
 * A line the handler or the refusal record could not be made from (JSON nested too deep to
 * print, say). Its entry could not be anonymised either, so none is stored: the spool keeps the
 * line, at the place its message_id names, as long as it keeps its segment.
 */
function unloadableRecord(line: SpoolLine, error: unknown): RefusalRecord {
  return {
    message_id: messageId(line),
    reason: UNLOADABLE_LINE,
    severity: "ERROR",
    detail: cutToBytes(String(error), REFUSAL_ENTRY_BYTES),
    request_timestamp: null,
    log_entry: null,
  };
}

/** Each string of a refused entry is kept to this many characters, so the stored entry is still JSON that a query can read. */
const REFUSAL_STRING_CHARS = 1000;

function shortString(_key: string, value: unknown): unknown {
  return typeof value === "string" && value.length > REFUSAL_STRING_CHARS ? `${value.slice(0, REFUSAL_STRING_CHARS)}…` : value;
}

/** The text cut to at most `maxBytes` bytes of UTF-8, on a character boundary, with "…" at the end when it was cut. */
export function cutToBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  const ellipsis = "…";
  let end = maxBytes - Buffer.byteLength(ellipsis);
  // Back to the first byte of the character that does not fit: continuation bytes are 10xxxxxx.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.toString("utf8", 0, end) + ellipsis;
}

/** The line as a log entry, when it is a JSON object. */
function parsedEntry(text: string): LoadBalancerLogEntry | undefined {
  try {
    const entry = JSON.parse(text) as unknown;
    return typeof entry === "object" && entry !== null && !Array.isArray(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}

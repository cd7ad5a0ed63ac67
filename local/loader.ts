import type { AcceptedEvent, Row } from "../functions/core/event";
import type { LoadBalancerLogEntry } from "../functions/core/logEntry";
import type { CoreSettings } from "../functions/core/settings";
import { parseTimestamp } from "../functions/core/timestamp";
import { handlePixelMessage, RowRejectedError } from "../functions/handler";
import type { LogLine, RowWriter } from "../functions/handler";
import type { LocalDatabase, RefusalRecord } from "./database";
import { dayTableName } from "./duckdbSchema";
import { toPubSubMessage } from "./logEntry";
import { comparePositions, readSpool, segmentFileName } from "./spool";
import type { SpoolLine, SpoolPosition } from "./spool";

/** Lines per transaction: large enough to amortise the commit, small enough to bisect quickly. */
const BATCH_LINES = 5000;
const RETRY_DELAY_MS = 1000;
/** Lines the handler runs on before the loader lets waiting requests through. */
const LINES_PER_TURN = 100;
/**
 * The rest after each background load. Under load, lines then gather into a few large
 * transactions a second instead of a small one per spool sync, and each transaction's fixed cost
 * takes less CPU from the requests. A request after a quiet spell is still loaded at once.
 */
const REST_MS = 100;

export interface LoaderOptions {
  readonly spoolDir: string;
  readonly database: LocalDatabase;
  readonly settings: CoreSettings;
  /** The spool writer's durable end: the loader never reads past it. */
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

  private constructor(
    private readonly options: LoaderOptions,
    private checkpoint: SpoolPosition,
  ) {}

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
    this.paused = true;
    try {
      await this.running;
      // Set by the background load that just ended, or by an earlier one.
      clearTimeout(this.timer);
      this.timer = undefined;
      return await this.catchUp();
    } finally {
      this.paused = false;
    }
  }

  /** Entries may have become durable meanwhile. */
  private wakeAfter(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, delayMs);
  }

  private behind(): boolean {
    return comparePositions(this.checkpoint, this.options.durableEnd()) < 0;
  }

  /** Loads, in batches, what is durable now; what becomes durable meanwhile waits for the next call. */
  private async catchUp(): Promise<number> {
    const { spoolDir, durableEnd, warn } = this.options;
    const end = durableEnd();
    let loaded = 0;
    while (comparePositions(this.checkpoint, end) < 0) {
      const read = await readSpool(spoolDir, this.checkpoint, end, BATCH_LINES);
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
   * Commits the lines as one batch. When DuckDB rejects a row, the batch is split until the
   * rejected line is alone; that line then becomes a dead letter in the refusals table, as in
   * the cloud a row BigQuery rejects goes to the dead-letter topic.
   */
  private async load(lines: readonly SpoolLine[], end: SpoolPosition): Promise<void> {
    const staged = await this.stage(lines);
    try {
      await this.options.database.commit(staged.batch, end);
    } catch (error) {
      if (!(error instanceof RowRejectedError)) throw error;
      if (lines.length > 1) {
        const half = Math.ceil(lines.length / 2);
        await this.load(lines.slice(0, half), lines[half - 1].end);
        await this.load(lines.slice(half), end);
        return;
      }
      const deadLetter = this.deadLetter(lines[0], staged.accepted[0], error);
      await this.options.database.commit({ rows: new Map(), refusals: [deadLetter.record] }, end);
      this.options.log(deadLetter.line);
      return;
    }
    staged.logLines.forEach(this.options.log);
  }

  /** Runs the handler on each line; accepted rows are kept by table, refusals as records. */
  private async stage(lines: readonly SpoolLine[]) {
    const { settings } = this.options;
    const rows = new Map<string, Map<string, Row>>();
    const writer: RowWriter = {
      // The row is stored when the batch commits; a failed commit loads the same lines again.
      async insert(event: AcceptedEvent) {
        const table = dayTableName(settings.templateTable, event.tableSuffix);
        let tableRows = rows.get(table);
        if (!tableRows) rows.set(table, (tableRows = new Map()));
        // Keyed by insertId: a repeated entry in one batch is one row, as across batches.
        tableRows.set(event.insertId, event.row);
      },
    };
    const refusals: RefusalRecord[] = [];
    const logLines: LogLine[] = [];
    const accepted: AcceptedEvent[] = [];
    const publishTime = new Date().toISOString();
    for (const [index, line] of lines.entries()) {
      // The handler's awaits resolve at once, so without this a large batch would hold up every request meanwhile.
      if (index > 0 && index % LINES_PER_TURN === 0) await new Promise(setImmediate);
      const message = toPubSubMessage(line.text, messageId(line), publishTime);
      const outcome = await handlePixelMessage(message, settings, writer, (logLine) => logLines.push(logLine));
      if ("inserted" in outcome) {
        accepted.push(outcome.inserted);
        continue;
      }
      // The handler logs each refusal exactly once, with its severity.
      refusals.push(refusalRecord(line, logLines[logLines.length - 1]));
    }
    const batch = { rows: new Map([...rows].map(([table, byId]) => [table, [...byId.values()]])), refusals };
    return { batch, logLines, accepted };
  }

  private deadLetter(line: SpoolLine, event: AcceptedEvent | undefined, error: RowRejectedError) {
    const logLine: LogLine = {
      severity: "ERROR",
      message: "row rejected by DuckDB; the entry is kept in the refusals table",
      reason: "bigquery_invalid_row",
      detail: error.detail,
      insertId: event?.insertId,
      messageId: messageId(line),
    };
    return { line: logLine, record: refusalRecord(line, logLine) };
  }
}

/** Stable across redeliveries, like a Pub/Sub messageId: the line's place in the spool. */
function messageId(line: SpoolLine): string {
  return `${line.start.segment}:${line.start.offset}`;
}

function refusalRecord(line: SpoolLine, logLine: LogLine): RefusalRecord {
  return {
    message_id: messageId(line),
    reason: logLine.reason,
    severity: logLine.severity,
    detail: logLine.detail,
    request_timestamp: entryTimestamp(line.text),
    log_entry: line.text,
  };
}

/** The refused entry's own time, when it is a JSON object with a valid timestamp. */
function entryTimestamp(text: string): string | null {
  try {
    return parseTimestamp((JSON.parse(text) as LoadBalancerLogEntry | null)?.timestamp)?.iso ?? null;
  } catch {
    return null;
  }
}

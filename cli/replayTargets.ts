import type { Table } from "@google-cloud/bigquery";
import type { CoreSettings } from "../core/config/coreSettings";
import type { AcceptedEvent } from "../core/event";
import { storedTableName } from "../core/layout";
import { bigQueryWriter, DEFAULT_INSERT_DEADLINE_MS } from "../functions/bigqueryWriter";
import { decide, replayDelivery } from "../core/delivery";
import { RowRejectedError, unstoredOutcome } from "../functions/handler";
import { LocalDatabase } from "../local/database";

/** A row the store itself refused, e.g. a day table created before a schema change. */
export interface RejectedRow {
  readonly table: string;
  readonly insertId: string;
  readonly detail: string;
}

/** Where replayed events are written: the stack's BigQuery dataset or the local DuckDB file. */
export interface ReplayTarget {
  /** Resolves with the rows the store refused; rejects when writing failed in a way a retry here did not fix. */
  store(events: readonly AcceptedEvent[]): Promise<RejectedRow[]>;
  close(): Promise<void>;
}

export interface BigQueryTargetOptions {
  /** insertAll calls in flight at once. */
  readonly concurrency: number;
  /** Tries per row for transient failures (5xx, 429, network, deadline): the replay delivery policy's budget. */
  readonly attempts: number;
  /** Doubles after each failed try. */
  readonly retryDelayMs: number;
}

export const DEFAULT_BIGQUERY_TARGET_OPTIONS: BigQueryTargetOptions = { concurrency: 16, attempts: 5, retryDelayMs: 1000 };

/**
 * Streams with the function's own writer and the stack's layout: one insertAll per row with the
 * event's stable insertId, so a replayed event carries the same insertId as the function's row.
 * `table` is the one the function inserts into (core/layout.ts insertTableName).
 * BigQuery drops a repeated insertId only within about a minute; older duplicates share
 * `insert_id` and are removed in SQL.
 */
export function bigQueryTarget(table: Table, settings: CoreSettings, options = DEFAULT_BIGQUERY_TARGET_OPTIONS): ReplayTarget {
  const writer = bigQueryWriter(table, DEFAULT_INSERT_DEADLINE_MS, settings.layout);
  return {
    async store(events) {
      const rejected: RejectedRow[] = [];
      const policy = replayDelivery(options.attempts);
      await forEachConcurrently(events, options.concurrency, async (event) => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await writer.insert(event);
          } catch (error) {
            const outcome = unstoredOutcome(event, error);
            const decision = decide(outcome.kind, attempt, policy);
            if (decision === "retry") {
              await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs * 2 ** (attempt - 1)));
              continue;
            }
            // Replay has no dead-letter topic: a rejected row is reported, and a write that keeps failing stops the run.
            if (outcome.kind === "failed") throw error;
            rejected.push(rejectedRow(event, settings, outcome.detail));
            return;
          }
        }
      });
      return rejected;
    },
    async close() {},
  };
}

/**
 * Commits through the local pipeline's database code. Replayed entries never passed through the
 * spool, so the spool checkpoint is committed back unchanged. Run it while `npm start` is stopped:
 * DuckDB allows one writing process per file.
 */
export async function localTarget(databaseFile: string, settings: CoreSettings): Promise<ReplayTarget> {
  const database = await LocalDatabase.open(databaseFile, settings);
  const checkpoint = await database.readCheckpoint();
  const store = async (events: readonly AcceptedEvent[]): Promise<RejectedRow[]> => {
    try {
      await database.commit({ events: byInsertId(events), refusals: [] }, checkpoint);
      return [];
    } catch (error) {
      if (!(error instanceof RowRejectedError)) throw error;
      if (events.length === 1) return [rejectedRow(events[0], settings, error.detail)];
      // One transaction per row finds the rows DuckDB refuses and keeps all the others.
      const rejected: RejectedRow[] = [];
      for (const event of events) rejected.push(...(await store([event])));
      return rejected;
    }
  };
  return {
    store,
    async close() {
      database.close();
    },
  };
}

/** As the local loader does: an entry the archive holds twice is one row. */
function byInsertId(events: readonly AcceptedEvent[]): AcceptedEvent[] {
  return [...new Map(events.map((event) => [event.insertId, event])).values()];
}

function rejectedRow(event: AcceptedEvent, settings: CoreSettings, detail: string): RejectedRow {
  return { table: storedTableName(settings.layout, settings.templateTable, event.tableSuffix), insertId: event.insertId, detail };
}

/** Runs `work` on every item with at most `limit` at once; the first failure stops new work and is rethrown. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

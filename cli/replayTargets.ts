import type { Table } from "@google-cloud/bigquery";
import { bigQueryWriter, DEFAULT_INSERT_DEADLINE_MS } from "../functions/bigqueryWriter";
import type { AcceptedEvent, Row } from "../functions/core/event";
import type { CoreSettings } from "../functions/core/settings";
import { RowRejectedError } from "../functions/handler";
import { LocalDatabase } from "../local/database";
import { storedTableName } from "../functions/core/layout";
import { dayTableName } from "../local/duckdbSchema";

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
  /** Tries per row for transient failures (5xx, 429, network, deadline). */
  readonly attempts: number;
  /** Doubles after each failed try. */
  readonly retryDelayMs: number;
}

export const DEFAULT_BIGQUERY_TARGET_OPTIONS: BigQueryTargetOptions = { concurrency: 16, attempts: 5, retryDelayMs: 1000 };

/**
 * Streams with the function's own writer and the stack's layout: one insertAll per row with the
 * event's stable insertId, so a replayed event carries the same insertId as the function's row.
 * `table` is the one the function inserts into (functions/core/layout.ts insertTableName).
 * BigQuery drops a repeated insertId only within about a minute; older duplicates share
 * `insert_id` and are removed in SQL.
 */
export function bigQueryTarget(table: Table, settings: CoreSettings, options = DEFAULT_BIGQUERY_TARGET_OPTIONS): ReplayTarget {
  const writer = bigQueryWriter(table, DEFAULT_INSERT_DEADLINE_MS, settings.layout);
  return {
    async store(events) {
      const rejected: RejectedRow[] = [];
      await forEachConcurrently(events, options.concurrency, async (event) => {
        try {
          await withRetries(() => writer.insert(event), options);
        } catch (error) {
          if (!(error instanceof RowRejectedError)) throw error;
          rejected.push(rejectedRow(event, settings, error));
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
      await database.commit({ rows: rowsByTable(events, settings.templateTable), refusals: [] }, checkpoint);
      return [];
    } catch (error) {
      if (!(error instanceof RowRejectedError)) throw error;
      if (events.length === 1) return [rejectedRow(events[0], settings, error)];
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

/** Keyed by insertId, as the local loader does: an entry the archive holds twice is one row. */
function rowsByTable(events: readonly AcceptedEvent[], templateTable: string): Map<string, Row[]> {
  const tables = new Map<string, Map<string, Row>>();
  for (const event of events) {
    const table = dayTableName(templateTable, event.tableSuffix);
    if (!tables.has(table)) tables.set(table, new Map());
    tables.get(table)?.set(event.insertId, event.row);
  }
  return new Map([...tables].map(([table, rows]) => [table, [...rows.values()]]));
}

function rejectedRow(event: AcceptedEvent, settings: CoreSettings, error: RowRejectedError): RejectedRow {
  return { table: storedTableName(settings.layout, settings.templateTable, event.tableSuffix), insertId: event.insertId, detail: error.detail };
}

async function withRetries<T>(attempt: () => Promise<T>, options: BigQueryTargetOptions): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof RowRejectedError || tried >= options.attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs * 2 ** (tried - 1)));
    }
  }
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

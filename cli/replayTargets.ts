import type { BigQuery, Table } from "@google-cloud/bigquery";
import type { CoreSettings } from "../core/config/coreSettings";
import type { AcceptedEvent } from "../core/event";
import { PARTITIONED_TABLE, parseTableSuffix, storedSchema, storedTableName } from "../core/layout";
import { tableSuffix } from "../core/tenant";
import type { LoadJobs } from "../functions/archiveLoader";
import { bigQueryLoadJobs } from "../functions/bigqueryLoads";
import { bigQueryWriter, DEFAULT_INSERT_DEADLINE_MS } from "../functions/bigqueryWriter";
import { decide, replayDelivery } from "../core/delivery";
import { RowRejectedError, unstoredOutcome } from "../functions/handler";
import { LocalDatabase } from "../local/database";
import { duckDbLoadJobs } from "../local/duckdbLoads";
import { bigQueryRunner, DEFAULT_RETRY, formatRollupSummary, recomputeDays, withConflictRetry } from "./rollup";

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

/** Where a batch stack's replay loads: the batch loader's jobs, the tables of a day for a rebuild, and the rollups after. */
export interface LoaderTarget {
  readonly jobs: LoadJobs;
  /** The tables that hold rows of a UTC day now: its day tables, or the partitioned table. */
  tablesOfDay(day: string): Promise<readonly string[]>;
  /** Brings the rollups of the days up to date; resolves with what it did, for the summary. */
  rollUp(days: ReadonlySet<string>): Promise<string>;
  close(): Promise<void>;
}

/** The day table name's day, when `table` is one of the template's day tables. */
function dayOfDayTable(templateTable: string, table: string): string | undefined {
  return table.startsWith(`${templateTable}_`) ? parseTableSuffix(table.slice(templateTable.length))?.date : undefined;
}

/**
 * BigQuery load jobs (functions/bigqueryLoads.ts), as the deployed loader runs them, into the
 * stack's dataset; then the rollups of the days loaded are recomputed as `npm run rollup` does
 * (the scheduled query keeps only the latest days).
 */
export function bigQueryLoaderTarget(bigquery: BigQuery, settings: CoreSettings, project: string, dataset: string, warn: (message: string) => void): LoaderTarget {
  const schema = storedSchema(settings.layout, settings.attributes);
  const runRollup = bigQueryRunner(bigquery, settings, project, dataset);
  return {
    jobs: bigQueryLoadJobs(bigquery, dataset, () => schema),
    async tablesOfDay(day) {
      if (settings.layout === "partitioned") return [PARTITIONED_TABLE];
      const [tables] = await bigquery.dataset(dataset).getTables({ autoPaginate: true });
      return tables.map((table) => String(table.id)).filter((name) => dayOfDayTable(settings.templateTable, name) === day);
    },
    async rollUp(days) {
      if (days.size === 0) return "no events, so no rollups to bring up to date";
      const summary = await recomputeDays([...days].sort(), (range) => withConflictRetry(() => runRollup(range), DEFAULT_RETRY, warn));
      return formatRollupSummary(summary, `BigQuery ${project}.${dataset}`);
    },
    async close() {},
  };
}

/**
 * DuckDB load jobs (local/duckdbLoads.ts), as the local pipeline's batch ingest runs them; then
 * the rollups of the days loaded are recomputed, as `npm run rollup -- --local` does. Run it while
 * `npm start` is stopped: DuckDB allows one writing process per file.
 */
export async function localLoaderTarget(databaseFile: string, settings: CoreSettings): Promise<LoaderTarget> {
  const database = await LocalDatabase.open(databaseFile, settings);
  return {
    jobs: duckDbLoadJobs(database, settings.templateTable),
    async tablesOfDay(day) {
      if (settings.layout === "partitioned") return [PARTITIONED_TABLE];
      const [tenants] = await database.read([{ sql: `SELECT DISTINCT tenant FROM ${PARTITIONED_TABLE} WHERE event_date = CAST($1 AS DATE) ORDER BY tenant`, values: [day] }]);
      return tenants.map(({ tenant }) => storedTableName(settings.layout, settings.templateTable, tableSuffix(String(tenant), day.replace(/-/g, ""))));
    },
    async rollUp(days) {
      if (days.size === 0) return "no events, so no rollups to bring up to date";
      return formatRollupSummary(await recomputeDays([...days].sort(), (range) => database.rollup(range)), databaseFile);
    },
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

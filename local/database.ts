import { chmod, mkdir, rm } from "node:fs/promises";
import * as path from "node:path";
import {
  DuckDBInstance,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  JsonDuckDBValueConverter,
  listValue,
} from "@duckdb/node-api";
import type { DuckDBConnection, DuckDBResultReader, DuckDBValue, DuckDBValueConverter, Json } from "@duckdb/node-api";
import { EVENT_DATE_COLUMN, PARTITIONED_TABLE, partitionedRow, partitionedSchema, TENANT_COLUMN, VIEWS } from "../core/layout";
import type { Layout } from "../core/layout";
import { templateSchema } from "../core/schema";
import type { Row, SchemaField } from "../core/schema";
import type { CoreSettings } from "../core/config/coreSettings";
import { entryErased, tenantRowsStatements } from "../core/erasure";
import { dateLiteral, partitionedRollupStatements, rollupTables, touchedRollupScopes } from "../core/rollups";
import type { DayRange } from "../core/rollups";
import { partitionedEventsQuery, viewsOverEvents } from "../core/views";
import { RowRejectedError } from "../functions/handler";
import { addMissingColumnsSql, createRollupTableSql, createTableSql, createViewSql, duckDbDialect, duckDbRollupDialect, insertRowsSql, parseDayTableName, quoteIdentifier, rowsParameter, sqlString } from "./duckdbSchema";
import { checkPrivateFile } from "./privateFiles";
import { DEAD_LETTER_REASONS, DEFAULT_MAX_REFUSALS } from "./refusalBounds";
import { QueryError } from "./queryResult";
import type { JsonRow } from "./queryResult";
import { checkQuery, INSTANCE_OPTIONS, runCheckedQuery } from "./readOnlyQuery";
import { SPOOL_START } from "./spool";
import type { SpoolPosition } from "./spool";

export { QueryError } from "./queryResult";
export type { JsonRow } from "./queryResult";

/** A refusal as the local stand-in for Cloud Logging keeps it: queryable, and the dead letters among them replayable. */
export interface RefusalRecord {
  readonly message_id: string;
  readonly reason: string;
  readonly severity: string;
  readonly detail: string;
  /** The log entry's timestamp, when it had a valid one. */
  readonly request_timestamp: string | null;
  /**
   * The spooled line, with the client's IP and user agent as a row would store them: whole for a
   * dead letter, so its event can be loaded again; cut for a refusal (loader.ts, to refusalBounds.ts REFUSAL_ENTRY_BYTES);
   * null for a line that could not be read as an entry at all.
   */
  readonly log_entry: string | null;
}

/** An accepted event: the core's row and the table suffix that names its tenant and day. */
export interface StoredEvent {
  readonly tableSuffix: string;
  readonly row: Row;
}

/** What one transaction stores: events, refusals, and how far the spool is loaded. */
export interface LoadBatch {
  readonly events: readonly StoredEvent[];
  readonly refusals: readonly RefusalRecord[];
}

/**
 * Where a load job's rows go locally: every row goes to the one stored table (see LocalDatabase),
 * so a day table's name only says the tenant and day its rows lack; a partition decorator says
 * which day a replace clears.
 */
export type LoadTarget =
  | { readonly kind: "day-table"; readonly tenant: string; readonly day: string }
  | { readonly kind: "partitioned"; readonly day?: string };

/** A load job to run: its rows are JSON texts of stored rows (core/layout.ts storedRow). */
export interface LoadJobRun {
  readonly id: string;
  /** The table as the job names it, kept in the job's record. */
  readonly table: string;
  readonly target: LoadTarget;
  readonly rows: AsyncIterable<string> | Iterable<string>;
  /** Deletes the target's day (the day table's tenant and day, or the partition) before the rows go in. */
  readonly replace: boolean;
}

/** A load job that ran: with its rows, or, with errors, with none of them. */
export interface LoadJobRecord {
  readonly id: string;
  readonly table: string;
  /** Rows the job stored; a row whose insert_id was stored before is not counted. */
  readonly rows: number;
  readonly errors: readonly string[];
}

/**
 * The load jobs that ran (duckdbLoads.ts), as BigQuery keeps its jobs: a job id runs at most once.
 * A record commits with the job's rows, so a crash leaves both or neither; a job whose rows DuckDB
 * refused is recorded done with its errors, and its rows are not stored.
 */
export const LOAD_JOBS_TABLE = "load_jobs";

/** Stored rows a load job sends to DuckDB in one statement, within its one transaction. */
const LOAD_JOB_CHUNK_ROWS = 1000;

const REFUSAL_COLUMNS: readonly (keyof RefusalRecord)[] = ["message_id", "reason", "severity", "detail", "request_timestamp", "log_entry"];

/**
 * Once the refusals pass the bound, only the newest are kept, this share of it (trimRefusals):
 * the copy and its ordering run once per tenth of the bound, not on every batch.
 */
const REFUSALS_KEPT_AFTER_TRIM = 0.9;

/** The spool's order, which message_id (`<segment>:<offset>`) names, backwards: the newest first. */
const NEWEST_FIRST = `CAST(split_part(message_id, ':', 1) AS BIGINT) DESC, CAST(split_part(message_id, ':', 2) AS BIGINT) DESC`;

/** What a prune removed: events, rollup rows and refusals of the days before the oldest kept. */
export interface PruneReport {
  readonly events: number;
  readonly rollupRows: number;
  readonly refusals: number;
}

export interface DatabaseBounds {
  /** Refusals kept, dead letters aside; older ones are deleted (refusalBounds.ts DEFAULT_MAX_REFUSALS). */
  readonly maxRefusals: number;
}

/** One row: the stack's template table and layout, so a query can resolve day-table names without the stack file. */
const LAYOUT_TABLE = "local_layout";

function refusalsTableSql(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (message_id VARCHAR PRIMARY KEY, reason VARCHAR NOT NULL, severity VARCHAR NOT NULL, detail VARCHAR, request_timestamp TIMESTAMP, log_entry VARCHAR)`;
}

const BOOKKEEPING_TABLES = [
  // One row: the spool position up to which everything is stored. It commits with the rows it covers.
  `CREATE TABLE IF NOT EXISTS spool_checkpoint (id INTEGER PRIMARY KEY, segment BIGINT NOT NULL, "offset" BIGINT NOT NULL)`,
  refusalsTableSql("refusals"),
  `CREATE TABLE IF NOT EXISTS ${LAYOUT_TABLE} (id INTEGER PRIMARY KEY, template_table VARCHAR NOT NULL, layout VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${LOAD_JOBS_TABLE} (id VARCHAR PRIMARY KEY, "table" VARCHAR NOT NULL, state VARCHAR NOT NULL, "rows" BIGINT NOT NULL, errors VARCHAR, "at" TIMESTAMP NOT NULL)`,
];

/** DuckDB errors about the data itself: retrying the same rows cannot help. */
const DATA_ERROR = /^(Conversion|Constraint|Binder|Invalid Input|Out of Range) Error/;

/**
 * The DuckDB file: one read-write connection that loads batches, and a short-lived connection
 * per read, which DuckDB's MVCC lets run beside an open load transaction.
 *
 * Every event is stored in one table, `events_partitioned`, whatever the layout: a table per
 * tenant and day costs DuckDB hundreds of kilobytes of file and memory each, and a page that
 * invents tenants would make thousands. With `per-tenant-day`, the cloud's day-table names stay
 * queryable: a query that names `<template>_<tenant>_<YYYYMMDD>` reads that tenant's day through
 * a view made for that query alone (`query`, `queryDatabaseFile`).
 */
export class LocalDatabase {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly loader: DuckDBConnection,
    /** The stored table's columns: the template's, then tenant and event_date. */
    private readonly storedSchema: readonly SchemaField[],
    private readonly bounds: DatabaseBounds,
    private readonly settings: CoreSettings,
  ) {}

  static async open(file: string, settings: CoreSettings, bounds: DatabaseBounds = { maxRefusals: DEFAULT_MAX_REFUSALS }): Promise<LocalDatabase> {
    for (const own of databaseFiles(file)) await checkPrivateFile(own);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // DuckDB creates its file, WAL and temp files with the process's umask, and they hold personal
    // data: keep group and others out of everything this process creates from now on.
    process.umask(process.umask(0o077) | 0o077);
    for (const own of databaseFiles(file)) await chmod(own, 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    const instance = await openInstance(file).catch((error: Error) => {
      throw new Error(`cannot open ${file}: ${error.message}\n(DuckDB allows one writing process per file: is another local server, or a query, using it?)`);
    });
    // Spill files a run killed mid-query left behind; nothing else can be spilling now, as this process holds the file.
    await rm(spillDirectory(file), { recursive: true, force: true });
    const database = new LocalDatabase(instance, await instance.connect(), partitionedSchema(settings.attributes), bounds, settings);
    await database.transaction(async () => {
      for (const sql of BOOKKEEPING_TABLES) await database.loader.run(sql);
      await database.loader.run(`INSERT OR REPLACE INTO ${LAYOUT_TABLE} VALUES (1, ${sqlString(settings.templateTable)}, ${sqlString(settings.layout)})`);
      // As in the cloud, the template exists, empty, in both layouts.
      for (const [table, schema] of [[settings.templateTable, templateSchema(settings.attributes)], [PARTITIONED_TABLE, database.storedSchema]] as const) {
        for (const sql of [createTableSql(table, schema), ...addMissingColumnsSql(table, schema)]) await database.loader.run(sql);
      }
      await database.moveDayTables(settings.templateTable);
      await database.createRollupTables();
      // DuckDB binds a view's query when it is read, so the views follow the tables' columns.
      await database.loader.run(createViewSql(VIEWS.events, partitionedEventsQuery(duckDbDialect)));
      for (const view of viewsOverEvents(settings, duckDbDialect)) await database.loader.run(createViewSql(view.name, view.query));
    });
    return database;
  }

  async readCheckpoint(): Promise<SpoolPosition> {
    const [row] = (await this.loader.runAndReadAll(`SELECT segment, "offset" FROM spool_checkpoint WHERE id = 1`)).getRowObjectsJS();
    return row ? { segment: Number(row.segment), offset: Number(row.offset) } : SPOOL_START;
  }

  /**
   * Stores a batch and moves the checkpoint in one transaction, so after a crash each spooled
   * line is either fully loaded or loaded again; insert_id keys make a second load a no-op.
   * Rejects with RowRejectedError when DuckDB refuses a row itself.
   */
  async commit(batch: LoadBatch, checkpoint: SpoolPosition): Promise<void> {
    await this.transaction(async () => {
      const rows = batch.events.map((event) => partitionedRow(event.row, event.tableSuffix));
      await this.insert(PARTITIONED_TABLE, this.storedSchema.map((field) => field.name), rows).catch(rejectedByDuckDb);
      // The rollups of the tenants' days the batch touched, as the loader's readers see them: with the events, or neither.
      // Other tenants' rows of those days cannot change, and recomputing them would cost as much as the busiest day's events.
      const touched = rows.map((row) => ({ tenant: String(row[TENANT_COLUMN]), day: String(row[EVENT_DATE_COLUMN]) }));
      for (const scope of touchedRollupScopes(touched)) await this.replaceRollupDays(scope.days, scope.tenants);
      await this.insert("refusals", REFUSAL_COLUMNS, batch.refusals);
      if (batch.refusals.length > 0) await this.trimRefusals();
      await this.loader.run(`INSERT OR REPLACE INTO spool_checkpoint VALUES (1, $1, $2)`, [checkpoint.segment, checkpoint.offset]);
    });
  }

  /**
   * Runs a load job: its rows and its record commit in one transaction. Resolves with undefined,
   * doing nothing, when a job of that id has run already. When DuckDB refuses a row, or a row is not
   * one the target takes, nothing of the job is stored and it is recorded done with the error. Any
   * other failure (the rows' source failing, the disk) rejects with nothing recorded, so the job can
   * run again. The rollups are left to the caller, once for all the jobs of an object (`rollup`):
   * recomputed with each job, they cost a scan of the day per job, and an object of a thousand
   * tenants' day tables took minutes.
   */
  async loadJob(job: LoadJobRun): Promise<LoadJobRecord | undefined> {
    let record: LoadJobRecord | undefined;
    try {
      await this.transaction(async () => {
        if (await this.readLoadJob(job.id)) return;
        const rows = await this.insertLoadRows(job);
        record = { id: job.id, table: job.table, rows, errors: [] };
        await this.recordLoadJob(record);
      });
      return record;
    } catch (error) {
      if (!(error instanceof RowRejectedError)) throw error;
      const failed = { id: job.id, table: job.table, rows: 0, errors: [error.detail] };
      await this.transaction(() => this.recordLoadJob(failed));
      return failed;
    }
  }

  /** The load job of that id, if it ran. */
  async readLoadJob(id: string): Promise<LoadJobRecord | undefined> {
    const [row] = (await this.loader.runAndReadAll(`SELECT id, "table", "rows", errors FROM ${LOAD_JOBS_TABLE} WHERE id = $1`, [id])).getRowObjectsJS();
    if (!row) return undefined;
    return { id: String(row.id), table: String(row.table), rows: Number(row.rows), errors: row.errors === null ? [] : (JSON.parse(String(row.errors)) as string[]) };
  }

  private async recordLoadJob(record: LoadJobRecord): Promise<void> {
    await this.loader.run(`INSERT INTO ${LOAD_JOBS_TABLE} VALUES ($1, $2, 'DONE', $3, $4, CAST(timezone('UTC', current_timestamp) AS TIMESTAMP))`, [
      record.id,
      record.table,
      record.rows,
      record.errors.length > 0 ? JSON.stringify(record.errors) : null,
    ]);
  }

  /** Inside the job's transaction: the replace, then the rows a chunk at a time. Resolves with the rows stored. */
  private async insertLoadRows({ target, rows, replace }: LoadJobRun): Promise<number> {
    if (replace) {
      if (target.day === undefined) throw new Error(`a replace of ${PARTITIONED_TABLE} names its day as a partition, ${PARTITIONED_TABLE}$YYYYMMDD`);
      const tenant = target.kind === "day-table" ? ` AND ${TENANT_COLUMN} = ${sqlString(target.tenant)}` : "";
      await this.loader.run(`DELETE FROM ${PARTITIONED_TABLE} WHERE ${EVENT_DATE_COLUMN} = ${dateLiteral(target.day, duckDbDialect)}${tenant}`);
    }
    const columns = this.storedSchema.map((field) => field.name);
    let stored = 0;
    let chunk = new Map<string, Row>();
    const flush = async () => {
      if (chunk.size === 0) return;
      const result = await this.loader.run(insertRowsSql(PARTITIONED_TABLE, columns), [rowsParameter(columns, [...chunk.values()])]).catch(rejectedByDuckDb);
      stored += Number(result.rowsChanged);
      chunk = new Map();
    };
    for await (const text of rows) {
      const row = loadJobRow(text, target);
      // Keyed by insert_id, as a batch of the streaming loader: an entry a file holds twice is one row.
      chunk.set(String(row.insert_id), row);
      if (chunk.size >= LOAD_JOB_CHUNK_ROWS) await flush();
    }
    await flush();
    return stored;
  }

  /**
   * Keeps only the newest refusals, and every dead letter, once there are more than the bound.
   * They are copied to a new table and the old one dropped: DuckDB leaves deleted rows in their
   * row group, where a DELETE let the file grow by about 0.4 MB per 500 refusals trimmed, while
   * the blocks of a dropped table are used again by the next inserts.
   */
  private async trimRefusals(): Promise<void> {
    const deadLetters = DEAD_LETTER_REASONS.map(sqlString).join(", ");
    const [[count]] = (await this.loader.runAndReadAll(`SELECT count(*) FROM refusals WHERE reason NOT IN (${deadLetters})`)).getRows();
    if (Number(count) <= this.bounds.maxRefusals) return;
    const kept = Math.floor(this.bounds.maxRefusals * REFUSALS_KEPT_AFTER_TRIM);
    await this.loader.run(refusalsTableSql("refusals_kept"));
    await this.loader.run(
      `INSERT INTO refusals_kept SELECT * EXCLUDE (newness) FROM (SELECT *, CASE WHEN reason IN (${deadLetters}) THEN 0 ELSE row_number() OVER (PARTITION BY reason IN (${deadLetters}) ORDER BY ${NEWEST_FIRST}) END AS newness FROM refusals) WHERE newness <= ${kept}`,
    );
    await this.loader.run(`DROP TABLE refusals`);
    await this.loader.run(`ALTER TABLE refusals_kept RENAME TO refusals`);
  }

  /**
   * Recomputes the rollups of a range of days (YYYY-MM-DD, both included) from the stored events,
   * in one transaction: a failure leaves every day as it was. Resolves with the rows written.
   */
  async rollup(days: DayRange): Promise<number> {
    let written = 0;
    await this.transaction(async () => {
      written = await this.replaceRollupDays(days);
    });
    return written;
  }

  /**
   * Removes one tenant's rows of the days given (core/erasure.ts) from the events and every rollup
   * table, and the refusals whose stored entry names the tenant, in one transaction; `dryRun`
   * counts the same and changes nothing. Resolves with the rows by table and the refusals.
   */
  async eraseTenant(tenant: string, days: DayRange, dryRun: boolean): Promise<{ rows: Record<string, number>; refusals: number }> {
    const rows: Record<string, number> = {};
    let refusals = 0;
    await this.transaction(async () => {
      for (const statements of tenantRowsStatements({ ...this.settings, layout: "partitioned" }, duckDbDialect, tenant, days)) {
        const [[count]] = (await this.loader.runAndReadAll(statements.count)).getRows();
        rows[statements.table] = Number(count);
        if (!dryRun) await this.loader.run(statements.delete);
      }
      const stored = (await this.loader.runAndReadAll(`SELECT message_id, log_entry FROM refusals WHERE log_entry IS NOT NULL`)).getRowObjectsJS();
      const erased = stored.filter((refusal) => entryErased(String(refusal.log_entry), this.settings, tenant, days)).map((refusal) => String(refusal.message_id));
      refusals = erased.length;
      if (!dryRun && erased.length > 0) await this.loader.run(`DELETE FROM refusals WHERE message_id IN (SELECT unnest($1::VARCHAR[]))`, [listValue(erased)]);
    });
    return { rows, refusals };
  }

  /** Moves the spool checkpoint, to an equivalent position (erase: past a fully loaded segment, so it can be rewritten). */
  async moveCheckpoint(position: SpoolPosition): Promise<void> {
    await this.loader.run(`INSERT OR REPLACE INTO spool_checkpoint VALUES (1, $1, $2)`, [position.segment, position.offset]);
  }

  /**
   * Deletes, in one transaction, the events and rollup rows of the UTC days before `oldestKept`
   * (YYYY-MM-DD), and the refusals (dead letters included: they hold raw requests) of requests made
   * before it, as the cloud's expirations do. Refusals without a request time are kept: the refusal
   * bound trims them.
   */
  async prune(oldestKept: string): Promise<PruneReport> {
    const before = dateLiteral(oldestKept, duckDbDialect);
    const report = { events: 0, rollupRows: 0, refusals: 0 };
    await this.transaction(async () => {
      report.events = Number((await this.loader.run(`DELETE FROM ${PARTITIONED_TABLE} WHERE ${EVENT_DATE_COLUMN} < ${before}`)).rowsChanged);
      for (const table of rollupTables(this.settings)) {
        report.rollupRows += Number((await this.loader.run(`DELETE FROM ${quoteIdentifier(table.name)} WHERE ${quoteIdentifier(table.partitionColumn)} < ${before}`)).rowsChanged);
      }
      report.refusals = Number((await this.loader.run(`DELETE FROM refusals WHERE request_timestamp < CAST(${before} AS TIMESTAMP)`)).rowsChanged);
    });
    return report;
  }

  /**
   * Internal reads that see the database at one moment, as the dashboard shows them together: in one
   * transaction, so a batch the loader commits meanwhile is in all of them or in none.
   */
  async read(reads: readonly { readonly sql: string; readonly values?: DuckDBValue[] }[]): Promise<JsonRow[][]> {
    return this.withReadConnection(async (connection) => {
      await connection.run("BEGIN TRANSACTION");
      try {
        const results: JsonRow[][] = [];
        for (const { sql, values } of reads) results.push(toJsonRows(await connection.runAndReadAll(sql, values)));
        return results;
      } finally {
        await connection.run("ROLLBACK");
      }
    });
  }

  /** A user's query, with the same rules as when the query command opens the file itself. */
  async query(sql: string): Promise<JsonRow[]> {
    return this.withReadConnection((connection) => runReadOnlyStatement(connection, sql));
  }

  /** DuckDB writes the WAL into the database file when the last connection closes. */
  close(): void {
    this.loader.closeSync();
    this.instance.closeSync();
  }

  private async withReadConnection<T>(read: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await read(connection);
    } finally {
      connection.closeSync();
    }
  }

  private async transaction(work: () => Promise<void>): Promise<void> {
    await this.loader.run("BEGIN TRANSACTION");
    try {
      await work();
      await this.loader.run("COMMIT");
    } catch (error) {
      // A failed COMMIT has already ended the transaction; ROLLBACK then has nothing to undo.
      await this.loader.run("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }

  /** Replaces the days' rows (of the tenants listed, or every tenant) of every rollup table, inside the caller's transaction; returns the rows written. */
  private async replaceRollupDays(days: DayRange, tenants?: readonly string[]): Promise<number> {
    const bounds = { from: dateLiteral(days.from, duckDbDialect), to: dateLiteral(days.to, duckDbDialect) };
    let written = 0;
    for (const sql of partitionedRollupStatements(this.settings, bounds, duckDbRollupDialect, tenants)) {
      const result = await this.loader.run(sql);
      if (sql.startsWith("INSERT")) written += Number(result.rowsChanged);
    }
    return written;
  }

  /** The rollup tables; a file written before there were rollups gets them computed for every stored day, once. */
  private async createRollupTables(): Promise<void> {
    const tables = rollupTables(this.settings);
    const names = tables.map((table) => sqlString(table.name)).join(", ");
    const [{ existing }] = (await this.loader.runAndReadAll(`SELECT count(*) AS existing FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name IN (${names})`)).getRowObjectsJS();
    for (const table of tables) await this.loader.run(createRollupTableSql(table.name, table.schema));
    if (Number(existing) === tables.length) return;
    const [range] = (await this.loader.runAndReadAll(`SELECT CAST(min(${EVENT_DATE_COLUMN}) AS VARCHAR) AS "from", CAST(max(${EVENT_DATE_COLUMN}) AS VARCHAR) AS "to" FROM ${PARTITIONED_TABLE}`)).getRowObjectsJS();
    if (range.from !== null) await this.replaceRollupDays({ from: String(range.from), to: String(range.to) });
  }

  /** Day tables of a file written before every event went to one table: their rows move there, once. */
  private async moveDayTables(templateTable: string): Promise<void> {
    const tables = await this.loader.runAndReadAll(
      `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary`,
    );
    const stored = new Set(this.storedSchema.map((field) => field.name.toLowerCase()));
    for (const [name] of tables.getRows()) {
      const day = parseDayTableName(templateTable, String(name));
      if (!day) continue;
      const table = quoteIdentifier(day.name);
      // The columns the stack still has: an attribute dropped since is dropped here too.
      const columns = (await this.loader.runAndReadAll(`SELECT column_name FROM duckdb_columns() WHERE table_name = ${sqlString(day.name)} AND schema_name = 'main'`))
        .getRows()
        .map(([column]) => String(column))
        .filter((column) => stored.has(column.toLowerCase()))
        .map(quoteIdentifier);
      await this.loader.run(
        `INSERT OR IGNORE INTO ${PARTITIONED_TABLE} BY NAME SELECT ${columns.join(", ")}, ${sqlString(day.tenant)} AS ${TENANT_COLUMN}, DATE '${day.date}' AS ${EVENT_DATE_COLUMN} FROM ${table}`,
      );
      await this.loader.run(`DROP TABLE ${table}`);
    }
  }

  private async insert<T extends object>(table: string, columns: readonly (keyof T & string)[], rows: readonly T[]): Promise<void> {
    if (rows.length > 0) await this.loader.run(insertRowsSql(table, columns), [rowsParameter(columns, rows)]);
  }
}

/**
 * Runs one user query that only reads the pipeline's tables and views (readOnlyQuery.ts). The
 * server and the query command's direct mode both use it, so a statement behaves the same
 * whichever of them runs it. With `per-tenant-day`, each day-table name the query uses becomes a
 * temporary view of that tenant and day, on this connection only.
 */
export async function runReadOnlyStatement(connection: DuckDBConnection, sql: string): Promise<JsonRow[]> {
  try {
    const query = await checkQuery(connection, sql);
    await createDayTableViews(connection, query.unqualifiedTables);
    return await runCheckedQuery(connection, query, jsonValue);
  } catch (error) {
    throw error instanceof QueryError ? error : new QueryError((error as Error).message);
  }
}

async function createDayTableViews(connection: DuckDBConnection, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  // A file no server of this version has opened yet has no layout table, and so no day tables to answer.
  const [{ known }] = (await connection.runAndReadAll(`SELECT count(*) > 0 AS known FROM information_schema.tables WHERE table_schema = 'main' AND table_name = '${LAYOUT_TABLE}'`)).getRowObjectsJS();
  if (!known) return;
  const [layout] = (await connection.runAndReadAll(`SELECT template_table, layout FROM ${LAYOUT_TABLE}`)).getRowObjectsJS() as { template_table: string; layout: Layout }[];
  if (layout?.layout !== "per-tenant-day") return;
  for (const name of names) {
    const day = parseDayTableName(layout.template_table, name);
    if (!day) continue;
    await connection.run(
      `CREATE TEMP VIEW ${quoteIdentifier(day.name)} AS SELECT * EXCLUDE (${TENANT_COLUMN}, ${EVENT_DATE_COLUMN}) FROM ${PARTITIONED_TABLE} WHERE ${TENANT_COLUMN} = ${sqlString(day.tenant)} AND ${EVENT_DATE_COLUMN} = DATE '${day.date}'`,
    );
  }
}

/** The most a query may spill to disk, beside DuckDB's memory limit (readOnlyQuery.ts INSTANCE_OPTIONS). */
export const SPILL_LIMIT = "1GB";

/** Where DuckDB spills what does not fit in its memory limit: its default, beside the file. */
export function spillDirectory(file: string): string {
  return `${file}.tmp`;
}

/**
 * A DuckDB instance with the pipeline's options and its configuration locked. DuckDB 1.5 reports
 * a max_temp_directory_size given among the instance options but does not enforce it (a query
 * spilled 185 MB past a 50 MB one), while a SET of it is enforced: so the instance is created
 * unlocked, the spill limit set, and the configuration locked before any other connection exists.
 * `limits` lets a test scale the bounds down.
 */
export async function openInstance(file: string, options: Readonly<Record<string, string>> = {}, limits = { memory: INSTANCE_OPTIONS.memory_limit, spill: SPILL_LIMIT }): Promise<DuckDBInstance> {
  const instance = await DuckDBInstance.create(file, { ...options, ...INSTANCE_OPTIONS, memory_limit: limits.memory, lock_configuration: "false" });
  try {
    const connection = await instance.connect();
    try {
      await connection.run(`SET max_temp_directory_size = ${sqlString(limits.spill)}`);
      await connection.run(`SET lock_configuration = ${INSTANCE_OPTIONS.lock_configuration}`);
    } finally {
      connection.closeSync();
    }
    return instance;
  } catch (error) {
    instance.closeSync();
    throw error;
  }
}

/** The database file and its write-ahead log. */
function databaseFiles(file: string): string[] {
  return [file, `${file}.wal`];
}

/** Opens the file read-only, for when no server holds it; any number of readers may do so at once. */
export async function queryDatabaseFile(file: string, sql: string): Promise<JsonRow[]> {
  await checkPrivateFile(file);
  const instance = await openInstance(file, { access_mode: "READ_ONLY" }).catch((error: Error) => {
    throw new QueryError(`cannot open ${file}: ${error.message}`);
  });
  try {
    const connection = await instance.connect();
    try {
      return await runReadOnlyStatement(connection, sql);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** JSON that keeps meaning: safe integers as numbers, larger ones as exact strings, timestamps as ISO 8601 in UTC. */
const jsonValue: DuckDBValueConverter<Json> = (value, type, converter) => {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) {
    return isoFromMicros(value.micros) ?? value.toString();
  }
  return JsonDuckDBValueConverter(value, type, converter);
};

export function toJsonRows(reader: DuckDBResultReader): JsonRow[] {
  return reader.convertRowObjects(jsonValue);
}

/** Microsecond precision, as stored; undefined for infinities and years Date cannot print in four digits. */
function isoFromMicros(micros: bigint): string | undefined {
  const fraction = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const date = new Date(Number((micros - fraction) / 1000n));
  const year = date.getUTCFullYear();
  if (Number.isNaN(year) || year < 0 || year > 9999) return undefined;
  return `${date.toISOString().slice(0, 19)}.${fraction.toString().padStart(6, "0")}Z`;
}

/** DuckDB's refusal of rows as RowRejectedError, which a load job records as its error; anything else as it is. */
function rejectedByDuckDb(error: { message?: unknown }): never {
  // Not `instanceof Error`: the native binding's errors may come from another realm (as under jest).
  const message = String(error?.message ?? "");
  throw DATA_ERROR.test(message) ? new RowRejectedError(firstLine(message)) : error;
}

/** A load job's row as the stored table keeps it; RowRejectedError for one the target does not take, as BigQuery refuses it. */
function loadJobRow(text: string, target: LoadTarget): Row {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch {
    throw new RowRejectedError(`a row is not JSON: ${text.slice(0, 100)}`);
  }
  if (typeof row !== "object" || row === null || Array.isArray(row)) throw new RowRejectedError(`a row is not a JSON object: ${text.slice(0, 100)}`);
  const stored = target.kind === "day-table" ? { ...(row as Row), [TENANT_COLUMN]: target.tenant, [EVENT_DATE_COLUMN]: target.day } : (row as Row);
  if (typeof stored.insert_id !== "string" || typeof stored[TENANT_COLUMN] !== "string" || typeof stored[EVENT_DATE_COLUMN] !== "string") {
    throw new RowRejectedError(`a row lacks insert_id, ${TENANT_COLUMN} or ${EVENT_DATE_COLUMN}: ${text.slice(0, 100)}`);
  }
  if (target.kind === "partitioned" && target.day !== undefined && stored[EVENT_DATE_COLUMN] !== target.day) {
    throw new RowRejectedError(`a row of ${stored[EVENT_DATE_COLUMN]} is outside the partition ${target.day}`);
  }
  return stored;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0];
}

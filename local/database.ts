import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import {
  DuckDBInstance,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  JsonDuckDBValueConverter,
  StatementType,
} from "@duckdb/node-api";
import type { DuckDBConnection, DuckDBResultReader, DuckDBValue, DuckDBValueConverter, Json } from "@duckdb/node-api";
import { PARTITIONED_TABLE, partitionedRow, partitionedSchema, VIEWS } from "../core/layout";
import { templateSchema } from "../core/schema";
import type { Row, SchemaField } from "../core/schema";
import type { CoreSettings } from "../core/config/coreSettings";
import { partitionedEventsQuery, viewsOverEvents } from "../core/views";
import { RowRejectedError } from "../functions/handler";
import {
  addMissingColumnsSql,
  createTableSql,
  createViewSql,
  duckDbDialect,
  eventsViewSql,
  insertRowsSql,
  parseDayTableName,
  rowsParameter,
  tableSuffixOf,
} from "./duckdbSchema";
import type { DayTable } from "./duckdbSchema";
import { SPOOL_START } from "./spool";
import type { SpoolPosition } from "./spool";

export type JsonRow = Record<string, Json | null>;

/** A refusal as the local stand-in for Cloud Logging keeps it: queryable, and the dead letters among them replayable. */
export interface RefusalRecord {
  readonly message_id: string;
  readonly reason: string;
  readonly severity: string;
  readonly detail: string;
  /** The log entry's timestamp, when it had a valid one. */
  readonly request_timestamp: string | null;
  /** The spooled line as it was, so a dead-lettered event can be loaded again. */
  readonly log_entry: string;
}

/** What one transaction stores: rows by day table, refusals, and how far the spool is loaded. */
export interface LoadBatch {
  readonly rows: ReadonlyMap<string, readonly Row[]>;
  readonly refusals: readonly RefusalRecord[];
}

const REFUSAL_COLUMNS: readonly (keyof RefusalRecord)[] = ["message_id", "reason", "severity", "detail", "request_timestamp", "log_entry"];

const BOOKKEEPING_TABLES = [
  // One row: the spool position up to which everything is stored. It commits with the rows it covers.
  `CREATE TABLE IF NOT EXISTS spool_checkpoint (id INTEGER PRIMARY KEY, segment BIGINT NOT NULL, "offset" BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS refusals (message_id VARCHAR PRIMARY KEY, reason VARCHAR NOT NULL, severity VARCHAR NOT NULL, detail VARCHAR, request_timestamp TIMESTAMP, log_entry VARCHAR)`,
];

/** DuckDB errors about the data itself: retrying the same rows cannot help. */
const DATA_ERROR = /^(Conversion|Constraint|Binder|Invalid Input|Out of Range) Error/;

/**
 * The DuckDB file: one read-write connection that loads batches, and a short-lived connection
 * per read, which DuckDB's MVCC lets run beside an open load transaction.
 */
export class LocalDatabase {
  private readonly schema: readonly SchemaField[];
  private readonly partitionedSchema: readonly SchemaField[];
  /** Tables created or brought up to the template by this process. */
  private readonly readyTables = new Set<string>();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly loader: DuckDBConnection,
    private readonly settings: CoreSettings,
  ) {
    this.schema = templateSchema(settings.attributes);
    this.partitionedSchema = partitionedSchema(settings.attributes);
  }

  static async open(file: string, settings: CoreSettings): Promise<LocalDatabase> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const instance = await DuckDBInstance.create(file).catch((error: Error) => {
      throw new Error(`cannot open ${file}: ${error.message}\n(DuckDB allows one writing process per file: is another local server, or a query, using it?)`);
    });
    const database = new LocalDatabase(instance, await instance.connect(), settings);
    // As in the cloud, the template exists in both layouts; the partitioned table only in its own.
    const tables = settings.layout === "partitioned" ? [settings.templateTable, PARTITIONED_TABLE] : [settings.templateTable];
    await database.transaction(async () => {
      for (const sql of BOOKKEEPING_TABLES) await database.loader.run(sql);
      for (const table of tables) await database.prepareTable(table);
      await database.addMissingColumnsToDayTables();
      await database.refreshEventsView();
      // DuckDB binds a view's query when it is read, so these survive every refresh of `events`.
      for (const view of viewsOverEvents(settings, duckDbDialect)) await database.loader.run(createViewSql(view.name, view.query));
    });
    for (const table of tables) database.readyTables.add(table);
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
    const stored = this.inLayout(batch.rows);
    const newTables = [...stored.keys()].filter((table) => !this.readyTables.has(table));
    await this.transaction(async () => {
      for (const table of newTables) await this.prepareTable(table);
      for (const [table, rows] of stored) {
        await this.insert(table, this.schemaOf(table).map((field) => field.name), rows).catch((error: { message?: unknown }) => {
          // Not `instanceof Error`: the native binding's errors may come from another realm (as under jest).
          const message = String(error?.message ?? "");
          throw DATA_ERROR.test(message) ? new RowRejectedError(firstLine(message)) : error;
        });
      }
      await this.insert("refusals", REFUSAL_COLUMNS, batch.refusals);
      await this.loader.run(`INSERT OR REPLACE INTO spool_checkpoint VALUES (1, $1, $2)`, [checkpoint.segment, checkpoint.offset]);
      if (newTables.length > 0) await this.refreshEventsView();
    });
    for (const table of newTables) this.readyTables.add(table);
  }

  /** Internal reads for the dashboard. */
  async read(sql: string, values?: DuckDBValue[]): Promise<JsonRow[]> {
    return this.withReadConnection(async (connection) => toJsonRows(await connection.runAndReadAll(sql, values)));
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

  /**
   * The batch's rows, keyed by day table as the writer addressed them, where the stack's layout
   * stores them: in their day tables, or all in the partitioned table with their tenant and day.
   */
  private inLayout(rows: LoadBatch["rows"]): LoadBatch["rows"] {
    if (this.settings.layout !== "partitioned" || rows.size === 0) return rows;
    const { templateTable } = this.settings;
    const partitionedRows = [...rows].flatMap(([table, tableRows]) => tableRows.map((row) => partitionedRow(row, tableSuffixOf(templateTable, table))));
    return new Map([[PARTITIONED_TABLE, partitionedRows]]);
  }

  private schemaOf(table: string): readonly SchemaField[] {
    return table === PARTITIONED_TABLE ? this.partitionedSchema : this.schema;
  }

  private async prepareTable(table: string): Promise<void> {
    const schema = this.schemaOf(table);
    for (const sql of [createTableSql(table, schema), ...addMissingColumnsSql(table, schema)]) {
      await this.loader.run(sql);
    }
  }

  private async insert<T extends object>(table: string, columns: readonly (keyof T & string)[], rows: readonly T[]): Promise<void> {
    if (rows.length > 0) await this.loader.run(insertRowsSql(table, columns), [rowsParameter(columns, rows)]);
  }

  /**
   * Day tables stored before the template gained a column get it now, as NULL: the views over
   * `events` name every template column, and DuckDB binds them when they are created.
   */
  private async addMissingColumnsToDayTables(): Promise<void> {
    const tables = (
      await this.loader.runAndReadAll(
        `SELECT table_name, list(column_name) AS columns FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = 'main' GROUP BY table_name`,
      )
    ).getRowObjectsJS();
    for (const { table_name: table, columns } of tables) {
      if (!parseDayTableName(this.settings.templateTable, String(table))) continue;
      const present = new Set(columns as string[]);
      for (const sql of addMissingColumnsSql(String(table), this.schema.filter((field) => !present.has(field.name)))) await this.loader.run(sql);
    }
  }

  private async refreshEventsView(): Promise<void> {
    if (this.settings.layout === "partitioned") {
      await this.loader.run(createViewSql(VIEWS.events, partitionedEventsQuery(duckDbDialect)));
      return;
    }
    const tables = (
      await this.loader.runAndReadAll(
        `SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' AND table_type = 'BASE TABLE'`,
      )
    ).getRows();
    const dayTables = tables
      .map(([name]) => parseDayTableName(this.settings.templateTable, String(name)))
      .filter((table): table is DayTable => table !== undefined);
    await this.loader.run(eventsViewSql(this.settings.templateTable, dayTables));
  }
}

/** Thrown for SQL the query command cannot run; the message is for the user. */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryError";
  }
}

const READ_ONLY_STATEMENTS: ReadonlySet<StatementType> = new Set([StatementType.SELECT, StatementType.EXPLAIN]);

/**
 * Runs one statement that only reads: SELECT, and what DuckDB turns into one (FROM, WITH, SHOW,
 * DESCRIBE, SUMMARIZE, table pragmas), or EXPLAIN. The server and the query command's direct
 * mode both use it, so a statement behaves the same whichever of them runs it.
 */
export async function runReadOnlyStatement(connection: DuckDBConnection, sql: string): Promise<JsonRow[]> {
  try {
    const statements = await connection.extractStatements(sql);
    if (statements.count !== 1) throw new QueryError(`pass exactly one SQL statement, not ${statements.count}`);
    const statement = await statements.prepare(0);
    if (!READ_ONLY_STATEMENTS.has(statement.statementType)) {
      throw new QueryError(`only queries can run here, and this is a ${StatementType[statement.statementType]} statement`);
    }
    return toJsonRows(await statement.runAndReadAll());
  } catch (error) {
    throw error instanceof QueryError ? error : new QueryError((error as Error).message);
  }
}

/** Opens the file read-only, for when no server holds it; any number of readers may do so at once. */
export async function queryDatabaseFile(file: string, sql: string): Promise<JsonRow[]> {
  const instance = await DuckDBInstance.create(file, { access_mode: "READ_ONLY" }).catch((error: Error) => {
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

function firstLine(text: string): string {
  return text.split("\n", 1)[0];
}

import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import * as path from "node:path";
import { LanguageOptions, TypeKind, ZetaSQLClient } from "@fivetrandevelopers/zetasql";
import type { SimpleColumnProto } from "@fivetrandevelopers/zetasql/lib/types/zetasql/SimpleColumnProto";
import type { SimpleTableProto } from "@fivetrandevelopers/zetasql/lib/types/zetasql/SimpleTableProto";
import type { CoreSettings } from "../core/config/coreSettings";
import { PARTITIONED_TABLE, partitionedSchema } from "../core/layout";
import { rollupTables } from "../core/rollups";
import { templateSchema } from "../core/schema";
import type { SchemaField } from "../core/schema";
import type { ViewDefinition } from "../core/views";
import { freePort } from "./freePort";
import { waitForLine } from "./waitForLine";

/**
 * Google's own SQL analyzer, ZetaSQL, in BigQuery's mode (external product, every language
 * feature BigQuery has), as a test helper: it resolves every name, type and function of a
 * statement against a catalog of tables, so a wrong column, type or function fails the test.
 *
 * The analyzer runs as a local gRPC server (the Linux binary of @fivetrandevelopers/zetasql).
 * One server per test file, on a free port: gRPC binds with SO_REUSEPORT, so two servers on one
 * port would silently share its requests. A shell wrapper kills the server when this process's
 * end of its stdin pipe closes, so it cannot outlive the test run, even when jest is killed.
 */

export type ColumnType = SchemaField["type"] | "OTHER";

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

/** The columns of a table a statement names, by its path as written (`my-project.pixel_dev.events`), or undefined for an unknown table. */
export type TableResolver = (tablePath: string) => readonly Column[] | undefined;

export interface Analysis {
  /** The output columns of a query or a view; empty for other statements. */
  readonly columns: readonly Column[];
  /** The tables and views the statement reads, by path. */
  readonly tables: readonly string[];
}

/** The analyzer refused the statement; the message is ZetaSQL's, e.g. "Unrecognized name: nope [at 1:8]". */
export class SqlAnalysisError extends Error {
  constructor(
    readonly sql: string,
    detail: string,
  ) {
    super(`${detail}\n${sql}`);
    this.name = "SqlAnalysisError";
  }
}

const TYPE_KINDS: Readonly<Record<SchemaField["type"], (typeof TypeKind)[keyof typeof TypeKind]>> = {
  STRING: TypeKind.TYPE_STRING,
  INT64: TypeKind.TYPE_INT64,
  FLOAT64: TypeKind.TYPE_DOUBLE,
  BOOL: TypeKind.TYPE_BOOL,
  TIMESTAMP: TypeKind.TYPE_TIMESTAMP,
  DATE: TypeKind.TYPE_DATE,
};
const TYPES_BY_KIND = new Map<number, SchemaField["type"]>(Object.entries(TYPE_KINDS).map(([type, kind]) => [kind, type as SchemaField["type"]]));

/** gRPC's INVALID_ARGUMENT: the analyzer's answer for a statement it refuses. */
const INVALID_ARGUMENT = 3;

const SERVER_BINARY = path.join(
  path.dirname(require.resolve("@fivetrandevelopers/zetasql/package.json")),
  "lib/zetasql",
  process.arch === "arm64" ? "remote_server_arm.so" : "remote_server.so",
);

interface OutputColumn {
  name: string;
  column: { type: { typeKind: number } };
}

export class GoogleSqlAnalyzer {
  private readonly catalogs = new Map<string, Promise<string>>();

  private constructor(
    private readonly server: ChildProcessWithoutNullStreams,
    /** The analyzer's own process id (the wrapper shell's child). */
    readonly serverPid: number,
    private readonly languageOptions: Awaited<ReturnType<LanguageOptions["serialize"]>> & { productMode: "PRODUCT_EXTERNAL" },
  ) {}

  static async start(): Promise<GoogleSqlAnalyzer> {
    const port = await freePort();
    // `cat` returns when our end of the pipe closes (close() or this process dying); then the server is killed.
    const server = spawn("sh", ["-c", '"$0" localhost "$1" </dev/null & server=$!; echo "pid $server"; cat >/dev/null; kill -9 $server; wait $server', SERVER_BINARY, String(port)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    try {
      // One pattern for both lines: they may arrive in one chunk.
      const [, pid] = await waitForLine(server, /pid (\d+)[\s\S]*Server listening/, 20_000);
      ZetaSQLClient.init(port);
      // BigQuery is ZetaSQL's external product mode with every language feature it has.
      const options = await new LanguageOptions().enableMaximumLanguageFeatures();
      return new GoogleSqlAnalyzer(server, Number(pid), { ...options.serialize(), productMode: "PRODUCT_EXTERNAL" });
    } catch (error) {
      // A server left running would keep the test process alive.
      server.stdin.end();
      throw error;
    }
  }

  /** Analyses one statement against the tables it names; throws SqlAnalysisError when the analyzer refuses it. */
  async analyze(sql: string, resolve: TableResolver): Promise<Analysis> {
    const client = ZetaSQLClient.getInstance();
    const extracted = await client.extractTableNamesFromStatement({ sqlStatement: sql, options: this.languageOptions }).catch((error: unknown) => {
      throw this.refusal(sql, error);
    });
    const tables = [...new Set((extracted?.tableName ?? []).map((name) => (name.tableNameSegment ?? []).join(".")))];
    const catalogId = await this.catalog(tables, resolve);
    const response = await client
      .analyze({ sqlStatement: sql, registeredCatalogId: catalogId, options: { languageOptions: this.languageOptions, errorMessageMode: "ERROR_MESSAGE_ONE_LINE" } })
      .catch((error: unknown) => {
        throw this.refusal(sql, error);
      });
    const columns = (findOutputColumns(response) ?? []).map((output): Column => ({ name: output.name, type: TYPES_BY_KIND.get(output.column.type.typeKind) ?? "OTHER" }));
    return { columns, tables };
  }

  /** Stops the server and waits until it is gone. */
  async close(): Promise<void> {
    ZetaSQLClient.API.close();
    const exited = new Promise<void>((resolve) => this.server.once("exit", () => resolve()));
    this.server.stdin.end();
    await exited;
  }

  /** A registered catalog holding exactly these tables; registered once per distinct set. */
  private catalog(tables: readonly string[], resolve: TableResolver): Promise<string> {
    const table: SimpleTableProto[] = tables.flatMap((name) => {
      const columns = resolve(name);
      if (!columns) return [];
      const column: SimpleColumnProto[] = columns.map((field) => ({ name: field.name, type: { typeKind: TYPE_KINDS[field.type as SchemaField["type"]] } }));
      // A wildcard table has the pseudo-column _TABLE_SUFFIX, which `*` leaves out, as in BigQuery.
      if (name.endsWith("*")) column.push({ name: "_TABLE_SUFFIX", type: { typeKind: TypeKind.TYPE_STRING }, isPseudoColumn: true });
      return [{ name, column }];
    });
    const key = JSON.stringify(table);
    let registered = this.catalogs.get(key);
    if (!registered) {
      registered = ZetaSQLClient.getInstance()
        .registerCatalog({ simpleCatalog: { name: "root", table, builtinFunctionOptions: { languageOptions: this.languageOptions } } })
        .then((response) => String(response?.registeredId));
      this.catalogs.set(key, registered);
    }
    return registered;
  }

  private refusal(sql: string, error: unknown): Error {
    const { code, details } = error as { code?: number; details?: string };
    return code === INVALID_ARGUMENT ? new SqlAnalysisError(sql, details ?? "refused") : (error as Error);
  }
}

/**
 * The tables of a stack's dataset `project.dataset` as its SQL names them: the template and every
 * wildcard over it (`pixel*`, `pixel_acme_*`), the partitioned table in that layout, the rollup
 * tables, the dataset's INFORMATION_SCHEMA.TABLES, and `views`.
 */
export function stackTables(core: CoreSettings, project: string, dataset: string, views: ReadonlyMap<string, readonly Column[]> = new Map()): TableResolver {
  const prefix = `${project}.${dataset}.`;
  return (tablePath) => {
    if (!tablePath.startsWith(prefix)) return undefined;
    const name = tablePath.slice(prefix.length);
    if (views.has(name)) return views.get(name);
    const rollup = rollupTables(core).find((table) => table.name === name);
    if (rollup) return rollup.schema;
    // The columns of INFORMATION_SCHEMA.TABLES the rollups read (https://cloud.google.com/bigquery/docs/information-schema-tables).
    if (name === "INFORMATION_SCHEMA.TABLES") return ["table_catalog", "table_schema", "table_name", "table_type"].map((column) => ({ name: column, type: "STRING" }));
    if (name === PARTITIONED_TABLE) return core.layout === "partitioned" ? partitionedSchema(core.attributes) : undefined;
    return name === core.templateTable || (name.endsWith("*") && name.startsWith(core.templateTable)) ? templateSchema(core.attributes) : undefined;
  };
}

/**
 * Analyses each view as BigQuery creates it (CREATE VIEW), in creation order, each against the
 * views before it, as BigQuery checks them; returns the analyses by view name.
 */
export async function analyzeViews(analyzer: GoogleSqlAnalyzer, views: readonly ViewDefinition[], core: CoreSettings, project: string, dataset: string): Promise<Map<string, Analysis>> {
  const analyses = new Map<string, Analysis>();
  const created = new Map<string, readonly Column[]>();
  for (const view of views) {
    const analysis = await analyzer.analyze(`CREATE VIEW \`${project}.${dataset}.${view.name}\` AS\n${view.query}`, stackTables(core, project, dataset, created));
    analyses.set(view.name, analysis);
    created.set(view.name, analysis.columns);
  }
  return analyses;
}

/** The statement's output columns, wherever the resolved tree of its kind keeps them. */
function findOutputColumns(node: unknown): OutputColumn[] | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const record = node as Record<string, unknown>;
  if (Array.isArray(record.outputColumnList)) return record.outputColumnList as OutputColumn[];
  for (const value of Object.values(record)) {
    const found = findOutputColumns(value);
    if (found) return found;
  }
  return undefined;
}

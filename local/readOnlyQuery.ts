import { StatementType } from "@duckdb/node-api";
import type { DuckDBConnection, DuckDBResultReader } from "@duckdb/node-api";
import { QueryError } from "./queryResult";

/**
 * The options of every DuckDB instance the local pipeline opens: the server's read-write one and
 * the query command's read-only one. Queries may read the pipeline's tables and views and nothing
 * else, so the instance reaches no file but its own (external access off), loads and installs no
 * extension, and keeps no secrets. The lock then freezes every setting, for the user's SQL and for
 * ours alike: any setting the pipeline needs belongs here, not in a later SET.
 * None of this stops a SELECT from calling table functions that write files or change the
 * instance (enable_logging, checkpoint, query), nor EXPLAIN ANALYZE from running what it explains:
 * the statement checks below are needed as well.
 */
export const INSTANCE_OPTIONS: Readonly<Record<string, string>> = {
  // DuckDB still reaches its own database file, WAL and temp directory; the statement rule protects those.
  enable_external_access: "false",
  autoinstall_known_extensions: "false",
  autoload_known_extensions: "false",
  allow_community_extensions: "false",
  allow_unsigned_extensions: "false",
  allow_persistent_secrets: "false",
  // A query that needs more spills to the database's temp directory instead of taking the machine's memory.
  memory_limit: "1GB",
  lock_configuration: "true",
};

/** A query that runs longer is interrupted. */
export const QUERY_TIMEOUT_MS = 30_000;

/** Table functions a query may call: generators that touch nothing. Everything else (read_*, glob, query, checkpoint, enable_logging, ...) is refused. */
const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(["range", "generate_series", "unnest", "json_each", "json_tree"]);

/** json_serialize_sql's error for a statement that parsed and is not a SELECT. */
const NOT_A_SELECT = "Only SELECT statements can be serialized to json!";
const ONLY_QUERIES = "only queries can run here (SELECT, FROM, WITH, VALUES, SHOW, DESCRIBE, SUMMARIZE), and this statement is not one";

/** The parse tree of a statement that passed the parse-level rule. */
export interface CheckedQuery {
  readonly sql: string;
  /** Tables and views the statement names without a schema or catalog, as written. */
  readonly unqualifiedTables: readonly string[];
}

/**
 * The parse-level rule, decided by DuckDB's own parser before anything is bound or prepared
 * (preparing EXPORT DATABASE already creates its directory): json_serialize_sql serialises only
 * SELECT statements, so anything else fails here, EXPLAIN and EXPLAIN ANALYZE included. The tree
 * must hold exactly one statement and call no table function outside the allow-list.
 */
export async function checkQuery(connection: DuckDBConnection, sql: string): Promise<CheckedQuery> {
  const [[serialized]] = (await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [sql])).getRows();
  const tree = JSON.parse(String(serialized)) as { error: boolean; error_message?: string; statements?: unknown[] };
  if (tree.error) {
    throw new QueryError(tree.error_message === NOT_A_SELECT ? ONLY_QUERIES : `Parser Error: ${tree.error_message ?? "DuckDB cannot parse it"}`);
  }
  if (tree.statements?.length !== 1) throw new QueryError(`pass exactly one SQL statement, not ${tree.statements?.length ?? 0}`);
  const nodes = [...treeNodes(tree.statements)];
  const forbidden = nodes.filter((node) => node.type === "TABLE_FUNCTION").map(tableFunctionName).find((name) => !ALLOWED_TABLE_FUNCTIONS.has(name));
  if (forbidden !== undefined) throw new QueryError(`the table function ${forbidden}() cannot be used here: queries read the pipeline's tables and views only`);
  const unqualifiedTables = nodes
    .filter((node) => node.type === "BASE_TABLE" && node.schema_name === "" && node.catalog_name === "")
    .map((node) => String(node.table_name));
  return { sql, unqualifiedTables: [...new Set(unqualifiedTables)] };
}

/**
 * Runs a checked query: one statement that DuckDB prepares as a SELECT (EXPLAIN, PRAGMA, CALL and
 * SET are not), in a READ ONLY transaction that is always rolled back, interrupted after the timeout.
 */
export async function runCheckedQuery(connection: DuckDBConnection, query: CheckedQuery, timeoutMs = QUERY_TIMEOUT_MS): Promise<DuckDBResultReader> {
  const timer = setTimeout(() => connection.interrupt(), timeoutMs);
  await connection.run("BEGIN TRANSACTION READ ONLY");
  try {
    const statements = await connection.extractStatements(query.sql);
    if (statements.count !== 1) throw new QueryError(`pass exactly one SQL statement, not ${statements.count}`);
    const statement = await statements.prepare(0);
    if (statement.statementType !== StatementType.SELECT) {
      throw new QueryError(`${ONLY_QUERIES}: it is a ${StatementType[statement.statementType]} statement`);
    }
    return await statement.runAndReadAll();
  } catch (error) {
    if (error instanceof QueryError) throw error;
    const message = String((error as Error).message);
    throw new QueryError(/^INTERRUPT Error/.test(message) ? `the query ran longer than ${timeoutMs / 1000} s and was stopped` : message);
  } finally {
    clearTimeout(timer);
    await connection.run("ROLLBACK").catch(() => undefined);
  }
}

type TreeNode = Record<string, unknown>;

/** Every object in the parse tree, depth first. */
function* treeNodes(value: unknown): Generator<TreeNode> {
  if (Array.isArray(value)) {
    for (const item of value) yield* treeNodes(item);
  } else if (value !== null && typeof value === "object") {
    yield value as TreeNode;
    for (const child of Object.values(value)) yield* treeNodes(child);
  }
}

/** The function a TABLE_FUNCTION node calls; "(expression)" when it is not a plain call, which is never allowed. */
function tableFunctionName(node: TreeNode): string {
  const call = node.function as { class?: unknown; function_name?: unknown } | undefined;
  return call?.class === "FUNCTION" ? String(call.function_name).toLowerCase() : "(expression)";
}

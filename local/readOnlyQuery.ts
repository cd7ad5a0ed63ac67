import { StatementType } from "@duckdb/node-api";
import type { DuckDBConnection, DuckDBResult, DuckDBValueConverter, Json } from "@duckdb/node-api";
import { ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS } from "./queryFunctions";
import { QueryError } from "./queryResult";
import type { JsonRow } from "./queryResult";

/**
 * The options of every DuckDB instance the local pipeline opens: the server's read-write one and
 * the query command's read-only one. Queries may read the pipeline's tables and views and nothing
 * else, so the instance reaches no file but its own (external access off), loads and installs no
 * extension, and keeps no secrets. The lock then freezes every setting, for the user's SQL and for
 * ours alike: any setting the pipeline needs belongs here, or, if DuckDB ignores it as an instance
 * option (max_temp_directory_size), in openInstance (database.ts), which SETs it before the lock.
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

/**
 * Bounds on a statement, checked before DuckDB prepares it: neither the timeout nor DuckDB's memory
 * limit holds while it plans, and planning grows with the statement. 40,000 SELECTs joined by
 * UNION ALL (887 KB of SQL) took 24 GB; scalar subqueries nested 23 deep took 10 s. The text's
 * size comes first, so that even parsing it, to count the rest, stays small.
 */
export const QUERY_BOUNDS = {
  /** Bytes of SQL (UTF-8). */
  sqlBytes: 64 * 1024,
  /** SELECTs, set operations (UNION, INTERSECT, EXCEPT) and CTEs in the statement, together. */
  queryBlocks: 256,
  /** SELECTs inside SELECTs: subqueries, CTEs and derived tables, the outermost counting 1. */
  nesting: 12,
} as const;

/**
 * Bounds on a result, applied while it streams out of DuckDB, before it crosses to the front end:
 * a 450 MB result took the front end to 2.3 GB and stalled the pixels; a 600 MB one crashed the loader.
 */
export const RESULT_BOUNDS = {
  rows: 100_000,
  /** Bytes of the rows as JSON, as they cross to the front end and on to the client. */
  jsonBytes: 16 * 1024 * 1024,
} as const;

const NARROWER = "narrow the query with a LIMIT, a filter (WHERE) or an aggregate (GROUP BY)";
const SHORTER = "write a shorter statement (a filter or an aggregate rather than a list of cases)";

/** The parse tree's query nodes (DuckDB's QueryNode types): SELECT_NODE for each SELECT, the others for set operations and CTEs. */
const QUERY_NODES: ReadonlySet<unknown> = new Set(["SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"]);

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
 * must hold exactly one statement within QUERY_BOUNDS, and call only allowed functions
 * (queryFunctions.ts): none reads files, changes the instance or runs SQL held in a string.
 */
export async function checkQuery(connection: DuckDBConnection, sql: string): Promise<CheckedQuery> {
  const bytes = Buffer.byteLength(sql, "utf8");
  if (bytes > QUERY_BOUNDS.sqlBytes) {
    throw new QueryError(`the statement is ${bytes} bytes of SQL, over the bound of ${QUERY_BOUNDS.sqlBytes} bytes (${QUERY_BOUNDS.sqlBytes / 1024} KiB): ${SHORTER}`);
  }
  const [[serialized]] = (await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [sql])).getRows();
  const tree = JSON.parse(String(serialized)) as { error: boolean; error_message?: string; statements?: unknown[] };
  if (tree.error) {
    throw new QueryError(tree.error_message === NOT_A_SELECT ? ONLY_QUERIES : `Parser Error: ${tree.error_message ?? "DuckDB cannot parse it"}`);
  }
  if (tree.statements?.length !== 1) throw new QueryError(`pass exactly one SQL statement, not ${tree.statements?.length ?? 0}`);
  let queryBlocks = 0;
  let nesting = 0;
  const unqualifiedTables = new Set<string>();
  // The call a TABLE_FUNCTION node makes is checked as a table function, not as a scalar one.
  const tableCalls = new Set<TreeNode>();
  for (const { node, depth } of treeNodes(tree.statements)) {
    if (QUERY_NODES.has(node.type)) queryBlocks++;
    nesting = Math.max(nesting, depth);
    if (node.type === "TABLE_FUNCTION") {
      const name = tableFunctionName(node);
      if (!ALLOWED_TABLE_FUNCTIONS.has(name)) throw new QueryError(`the table function ${name}() cannot be used here: queries read the pipeline's tables and views only`);
      tableCalls.add(node.function as TreeNode);
    } else if ((node.class === "FUNCTION" && !tableCalls.has(node)) || node.class === "WINDOW") {
      const name = String(node.function_name).toLowerCase();
      if (!ALLOWED_FUNCTIONS.has(name)) {
        throw new QueryError(`the function ${name}() cannot be used here: queries may not read files, run SQL given as text or change the database (docs/local.md, "Read-only statements only")`);
      }
    } else if (node.type === "BASE_TABLE" && node.schema_name === "" && node.catalog_name === "") {
      unqualifiedTables.add(String(node.table_name));
    }
  }
  if (queryBlocks > QUERY_BOUNDS.queryBlocks) {
    throw new QueryError(`the statement has ${queryBlocks} SELECTs, set operations and CTEs, over the bound of ${QUERY_BOUNDS.queryBlocks}: ${SHORTER}`);
  }
  if (nesting > QUERY_BOUNDS.nesting) {
    throw new QueryError(`the statement nests SELECTs ${nesting} deep, over the bound of ${QUERY_BOUNDS.nesting}: ${SHORTER}`);
  }
  return { sql, unqualifiedTables: [...unqualifiedTables] };
}

/**
 * Runs a checked query: one statement that DuckDB prepares as a SELECT (EXPLAIN, PRAGMA, CALL and
 * SET are not), in a READ ONLY transaction that is always rolled back, interrupted after the timeout.
 * Its rows stream out of DuckDB a chunk at a time, and it stops at RESULT_BOUNDS: a result
 * beyond them is never held whole.
 */
export async function runCheckedQuery(
  connection: DuckDBConnection,
  query: CheckedQuery,
  toJson: DuckDBValueConverter<Json>,
  timeoutMs = QUERY_TIMEOUT_MS,
): Promise<JsonRow[]> {
  const timer = setTimeout(() => connection.interrupt(), timeoutMs);
  await connection.run("BEGIN TRANSACTION READ ONLY");
  try {
    const statements = await connection.extractStatements(query.sql);
    if (statements.count !== 1) throw new QueryError(`pass exactly one SQL statement, not ${statements.count}`);
    const statement = await statements.prepare(0);
    if (statement.statementType !== StatementType.SELECT) {
      throw new QueryError(`${ONLY_QUERIES}: it is a ${StatementType[statement.statementType]} statement`);
    }
    return await readBounded(await statement.stream(), toJson);
  } catch (error) {
    if (error instanceof QueryError) throw error;
    const message = String((error as Error).message);
    throw new QueryError(/^INTERRUPT Error/.test(message) ? `the query ran longer than ${timeoutMs / 1000} s and was stopped` : message);
  } finally {
    clearTimeout(timer);
    await connection.run("ROLLBACK").catch(() => undefined);
  }
}

/** The rows as JSON, chunk by chunk, refused as soon as they pass a bound. */
async function readBounded(result: DuckDBResult, toJson: DuckDBValueConverter<Json>): Promise<JsonRow[]> {
  const names = result.deduplicatedColumnNames();
  const rows: JsonRow[] = [];
  let jsonBytes = 0;
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    if (rows.length + chunk.rowCount > RESULT_BOUNDS.rows) {
      throw new QueryError(`the result has more than ${RESULT_BOUNDS.rows} rows, the bound for a query's result: ${NARROWER}`);
    }
    for (let index = 0; index < chunk.rowCount; index++) {
      const row: JsonRow = {};
      chunk.visitRowValues(index, (value, _, column, type) => {
        row[names[column]] = toJson(value, type, toJson) as JsonRow[string];
      });
      jsonBytes += Buffer.byteLength(JSON.stringify(row), "utf8");
      if (jsonBytes > RESULT_BOUNDS.jsonBytes) {
        throw new QueryError(`the result is more than ${RESULT_BOUNDS.jsonBytes / 2 ** 20} MiB as JSON, the bound for a query's result: ${NARROWER}`);
      }
      rows.push(row);
    }
  }
  return rows;
}

type TreeNode = Record<string, unknown>;

/**
 * Every object in the parse tree, with the number of SELECTs it is inside (its own included).
 * Without recursion: a statement within the size bound can still nest thousands of levels deep.
 */
function* treeNodes(root: unknown): Generator<{ node: TreeNode; depth: number }> {
  const stack: { value: unknown; depth: number }[] = [{ value: root, depth: 0 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, depth } = item;
    if (Array.isArray(value)) {
      for (const child of value) stack.push({ value: child, depth });
    } else if (value !== null && typeof value === "object") {
      const node = value as TreeNode;
      const nodeDepth = node.type === "SELECT_NODE" ? depth + 1 : depth;
      yield { node, depth: nodeDepth };
      for (const child of Object.values(node)) stack.push({ value: child, depth: nodeDepth });
    }
  }
}

/** The function a TABLE_FUNCTION node calls; "(expression)" when it is not a plain call, which is never allowed. */
function tableFunctionName(node: TreeNode): string {
  const call = node.function as { class?: unknown; function_name?: unknown } | undefined;
  return call?.class === "FUNCTION" ? String(call.function_name).toLowerCase() : "(expression)";
}

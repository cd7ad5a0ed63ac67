import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import * as path from "node:path";
import { DuckDBInstance, JsonDuckDBValueConverter } from "@duckdb/node-api";
import { checkQuery, INSTANCE_OPTIONS, QUERY_BOUNDS, RESULT_BOUNDS, runCheckedQuery } from "../../local/readOnlyQuery";
import { httpRequest, makeTempDir, query, removeDir, startTestPipeline, waitFor } from "../../testkit/localPipeline";
import type { TestPipeline } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

// Each statement must be refused, with the server running (POST /api/query) and stopped (the
// query command opens the file read-only), and leave the data, the catalog, the settings and the
// file system as they were. DB and OUT stand for the database file and a directory outside it.
const NOT_A_QUERY = /^only queries can run here \(SELECT, .*\), and this statement is not one$/;
const TABLE_FUNCTION = (name: string) => new RegExp(`^the table function ${name}\\(\\) cannot be used here`);
const FUNCTION = (name: string) => new RegExp(`^the function ${name}\\(\\) cannot be used here`);
const SHORTER = /: write a shorter statement/;
const NARROWER = /the bound for a query's result: narrow the query with a LIMIT, a filter \(WHERE\) or an aggregate \(GROUP BY\)$/;
/** `count` SELECTs joined by UNION ALL: 40,000 of them (887 KB) took the loader to 24 GB while DuckDB prepared them. */
const unionBomb = (count: number) => Array.from({ length: count }, (_, index) => `SELECT ${index}`).join(" UNION ALL ");
/** The shortest union bomb over the size bound: were that bound gone, preparing it would take about 120 MB, not the machine. */
const overSizeBound = (() => {
  let sql = "SELECT 0";
  for (let index = 1; Buffer.byteLength(sql) <= QUERY_BOUNDS.sqlBytes; index++) sql += ` UNION ALL SELECT ${index}`;
  return sql;
})();
/** Test names show long statements by their start and length. */
const named = <T>(table: readonly (readonly [string, T])[]) =>
  table.map(([sql, expected]) => [sql.length > 120 ? `${sql.slice(0, 100)}... (${sql.length} characters)` : sql, sql, expected] as const);
const HOSTILE: readonly [string, RegExp][] = [
  // EXPLAIN ANALYZE runs the statement it explains.
  [`EXPLAIN ANALYZE DELETE FROM refusals`, NOT_A_QUERY],
  [`EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1`, NOT_A_QUERY],
  [`EXPLAIN ANALYZE COPY (SELECT 1) TO 'OUT/explain.csv'`, NOT_A_QUERY],
  [`EXPLAIN ANALYZE COPY (SELECT 'garbage') TO 'DB' (FORMAT csv, USE_TMP_FILE false)`, NOT_A_QUERY],
  [`EXPLAIN ANALYZE SET threads = 1`, NOT_A_QUERY],
  [`EXPLAIN SELECT 1`, NOT_A_QUERY],
  // Writes, files, settings, extensions.
  [`DELETE FROM refusals`, NOT_A_QUERY],
  [`UPDATE events_partitioned SET status = 0 RETURNING *`, NOT_A_QUERY],
  [`CREATE TABLE x AS SELECT 1`, NOT_A_QUERY],
  [`CREATE TEMP TABLE x AS SELECT 1`, NOT_A_QUERY],
  [`DROP VIEW daily_counts`, NOT_A_QUERY],
  [`COPY (SELECT 1) TO 'OUT/copy.csv'`, NOT_A_QUERY],
  [`COPY (SELECT 'garbage') TO 'DB.wal' (FORMAT csv, USE_TMP_FILE false)`, NOT_A_QUERY],
  [`EXPORT DATABASE 'OUT/export'`, NOT_A_QUERY],
  [`ATTACH 'OUT/attached.duckdb' AS a`, NOT_A_QUERY],
  [`DETACH pixel`, NOT_A_QUERY],
  [`INSTALL httpfs`, NOT_A_QUERY],
  [`LOAD httpfs`, NOT_A_QUERY],
  [`SET threads = 1`, NOT_A_QUERY],
  [`SET enable_external_access = true`, NOT_A_QUERY],
  [`PRAGMA enable_profiling`, NOT_A_QUERY],
  [`CALL checkpoint()`, NOT_A_QUERY],
  [`CHECKPOINT`, NOT_A_QUERY],
  [`VACUUM`, NOT_A_QUERY],
  [`COMMIT`, NOT_A_QUERY],
  [`SELECT 1; DELETE FROM refusals`, NOT_A_QUERY],
  // Files the user can read, through table functions and replacement scans.
  [`SELECT * FROM read_text('/etc/shadow')`, TABLE_FUNCTION("read_text")],
  [`SELECT * FROM glob('/root/**')`, TABLE_FUNCTION("glob")],
  [`SELECT * FROM read_csv('/etc/passwd')`, TABLE_FUNCTION("read_csv")],
  [`SELECT count(*) FROM read_blob('DB')`, TABLE_FUNCTION("read_blob")],
  [`WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x`, TABLE_FUNCTION("read_text")],
  [`SELECT (SELECT count(*) FROM system.main.glob('/etc/*'))`, TABLE_FUNCTION("glob")],
  [`SUMMARIZE SELECT * FROM read_text('/etc/passwd')`, TABLE_FUNCTION("read_text")],
  [`SELECT * FROM '/etc/passwd'`, /Table with name \/etc\/passwd does not exist/],
  // Table functions a SELECT reaches that write files or change the instance.
  [`SELECT * FROM enable_logging(storage_path='OUT/log.csv')`, TABLE_FUNCTION("enable_logging")],
  [`SELECT * FROM enable_profiling(format='json', save_location='OUT/profile.json')`, TABLE_FUNCTION("enable_profiling")],
  [`SELECT * FROM checkpoint()`, TABLE_FUNCTION("checkpoint")],
  [`SELECT * FROM query('DELETE FROM refusals')`, TABLE_FUNCTION("query")],
  [`SELECT * FROM query_table('refusals')`, TABLE_FUNCTION("query_table")],
  [`SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))`, TABLE_FUNCTION("json_execute_serialized_sql")],
  [`SELECT * FROM duckdb_secrets()`, TABLE_FUNCTION("duckdb_secrets")],
  // Functions that plan or parse SQL held in a string: planning EXPORT DATABASE creates its directory.
  [`SELECT json_serialize_plan('EXPORT DATABASE ''OUT/plan''')`, FUNCTION("json_serialize_plan")],
  [`SELECT ('EXPORT DATABASE ''OUT/method''').json_serialize_plan()`, FUNCTION("json_serialize_plan")],
  [`SELECT list_transform(['EXPORT DATABASE ''OUT/lambda'''], s -> JSON_SERIALIZE_PLAN(s))`, FUNCTION("json_serialize_plan")],
  [`SELECT * FROM range(1) WHERE json_serialize_plan('COPY (SELECT 1) TO ''OUT/where.csv''') IS NULL`, FUNCTION("json_serialize_plan")],
  [`SELECT json_serialize_sql('DELETE FROM refusals')`, FUNCTION("json_serialize_sql")],
  [`SELECT write_log('forged', level := 'ERROR')`, FUNCTION("write_log")],
  [`SELECT read_text('/etc/passwd')`, FUNCTION("read_text")],
  // Statements too big or too complex to prepare within the machine's memory, refused before DuckDB plans them.
  [overSizeBound, new RegExp(`^the statement is ${Buffer.byteLength(overSizeBound)} bytes of SQL, over the bound of ${QUERY_BOUNDS.sqlBytes} bytes.*${SHORTER.source}`)],
  [unionBomb(QUERY_BOUNDS.queryBlocks / 2 + 1), new RegExp(`^the statement has ${QUERY_BOUNDS.queryBlocks + 1} SELECTs, set operations and CTEs, over the bound of ${QUERY_BOUNDS.queryBlocks}${SHORTER.source}`)],
  [`SELECT ${"(SELECT ".repeat(QUERY_BOUNDS.nesting)}1${")".repeat(QUERY_BOUNDS.nesting)}`, new RegExp(`^the statement nests SELECTs ${QUERY_BOUNDS.nesting + 1} deep, over the bound of ${QUERY_BOUNDS.nesting}${SHORTER.source}`)],
  // Results beyond the bounds, stopped in the process that runs them before any row crosses.
  [`SELECT i FROM range(${RESULT_BOUNDS.rows + 1}) t(i)`, new RegExp(`^the result has more than ${RESULT_BOUNDS.rows} rows, ${NARROWER.source}`)],
  [`SELECT repeat('x', 1000) AS s FROM range(${Math.ceil(RESULT_BOUNDS.jsonBytes / 1000)})`, new RegExp(`^the result is more than ${RESULT_BOUNDS.jsonBytes / 2 ** 20} MiB as JSON, ${NARROWER.source}`)],
];

const ALLOWED: readonly [string, unknown][] = [
  [`SELECT count(*) AS n FROM events`, [{ n: 1 }]],
  [`FROM refusals SELECT reason`, [{ reason: "missing_tenant" }]],
  [`WITH t AS (SELECT tenant FROM events_dedup) SELECT * FROM t`, [{ tenant: "acme" }]],
  [`SELECT count(*) AS n FROM range(3) r(i), unnest([1, 2]) u(j)`, [{ n: 6 }]],
  [`SELECT count(*) > 0 AS described FROM (DESCRIBE events)`, [{ described: true }]],
  [`SELECT name FROM (SHOW TABLES) WHERE name = 'refusals'`, [{ name: "refusals" }]],
  [`SELECT sum(i) OVER () AS s, upper('a') || lower('B') AS t FROM range(2) r(i) LIMIT 1`, [{ s: 1, t: "Ab" }]],
  [`SELECT count(*) AS n FROM (${unionBomb(QUERY_BOUNDS.queryBlocks / 2 - 1)})`, [{ n: QUERY_BOUNDS.queryBlocks / 2 - 1 }]],
  [`SELECT ${"(SELECT ".repeat(QUERY_BOUNDS.nesting - 1)}1${")".repeat(QUERY_BOUNDS.nesting - 1)} AS n`, [{ n: 1 }]],
  [`SELECT i FROM range(${RESULT_BOUNDS.rows}) t(i) WHERE i = ${RESULT_BOUNDS.rows - 1}`, [{ i: RESULT_BOUNDS.rows - 1 }]],
];

let dir: string;
let outside: string;
let pipeline: TestPipeline | undefined;

beforeAll(async () => {
  dir = await makeTempDir();
  outside = await makeTempDir();
  pipeline = await startTestPipeline(dir);
  await httpRequest(`${pipeline.pixelUrl}?user_id=acme`);
  await httpRequest(`${pipeline.pixelUrl}?type=untenanted`);
  await waitFor(() => query(dir, `SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM refusals) AS n`), ([row]) => row.n === 2);
});

afterAll(async () => {
  await pipeline?.close();
  await removeDir(dir);
  await removeDir(outside);
});

/** What a hostile statement could change: the data, the catalog and the settings. */
async function fingerprint(): Promise<unknown> {
  return {
    counts: await query(dir, `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM refusals) AS refusals`),
    catalog: await query(dir, `SELECT table_name, table_type FROM information_schema.tables ORDER BY ALL`),
    // How DuckDB shows the temp directory's size changes by itself once a query spills.
    settings: await query(dir, `SELECT name, setting FROM pg_catalog.pg_settings WHERE name <> 'max_temp_directory_size' ORDER BY name`),
  };
}

describe.each([["running", true], ["stopped", false]])("with the server %s, a query", (_, running) => {
  beforeAll(async () => {
    if (!running) {
      await pipeline?.close();
      pipeline = undefined;
    }
  });

  it.each(named(HOSTILE))("refuses %s and changes nothing", async (_, template, refusal) => {
    const database = path.join(dir, "pixel.duckdb");
    const target = path.join(outside, running ? "running" : "stopped");
    await mkdir(target, { recursive: true });
    const sql = template.replaceAll("OUT", target).replaceAll("DB", database);
    const before = await fingerprint();
    await expect(query(dir, sql)).rejects.toThrow(refusal);
    expect(await fingerprint()).toEqual(before);
    expect(await readdir(target)).toEqual([]);
    expect(existsSync(path.join(dir, "x"))).toBe(false);
  });

  it.each(named(ALLOWED))("runs %s", async (_, sql, rows) => {
    expect(await query(dir, sql)).toEqual(rows);
  });
});

it("leaves a database that opens and loads after every hostile statement", async () => {
  pipeline = await startTestPipeline(dir);
  await httpRequest(`${pipeline.pixelUrl}?user_id=later`);
  expect(await waitFor(() => query(dir, `SELECT tenant FROM events ORDER BY tenant`), (rows) => rows.length === 2)).toEqual([{ tenant: "acme" }, { tenant: "later" }]);
});

it("interrupts a query that runs past its time", async () => {
  const instance = await DuckDBInstance.create(":memory:", INSTANCE_OPTIONS);
  const connection = await instance.connect();
  try {
    const checked = await checkQuery(connection, "SELECT sleep_ms(60000)");
    const started = Date.now();
    await expect(runCheckedQuery(connection, checked, JsonDuckDBValueConverter, 200)).rejects.toThrow("the query ran longer than 0.2 s and was stopped");
    expect(Date.now() - started).toBeLessThan(30_000);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

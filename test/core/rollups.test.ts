import type { CoreSettings } from "../../core/config/coreSettings";
import type { RawConfig } from "../../core/config/fields";
import { ROLLUPS, VIEWS } from "../../core/layout";
import {
  bigQueryRollupDialect,
  bigQueryRollupScript,
  dayTableSuffixesQuery,
  dayTablesInserts,
  partitionedRollupStatements,
  partitionedSource,
  rollupDeletes,
  rollupRowCountQuery,
  rollupTables,
  touchedRollupScopes,
} from "../../core/rollups";
import { dailyAggregates } from "../../core/views";
import { GoogleSqlAnalyzer, stackTables } from "../../testkit/googleSql";
import { KEYWORD_ATTRIBUTES, settingsFor } from "../../testkit/settings";

// Every statement a rollup run executes, analysed by Google's analyzer against each stack's schema; semantics are checked in DuckDB (rollups.duckdb.test.ts).
let analyzer: GoogleSqlAnalyzer;

beforeAll(async () => {
  analyzer = await GoogleSqlAnalyzer.start();
});

afterAll(async () => {
  await analyzer?.close();
});

const PROJECT = "my-project";
const DATASET = "pixel_dev";
const DAYS = { from: "DATE '2026-01-05'", to: "DATE '2026-01-07'" };
const BQ = bigQueryRollupDialect(PROJECT, DATASET);
const analyze = (sql: string, core: CoreSettings) => analyzer.analyze(sql, stackTables(core, PROJECT, DATASET));

const STACKS: readonly [string, RawConfig][] = [
  ["partitioned with a type attribute", { attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" }],
  ["partitioned, event type named by config (INT64)", { attributes: { account: "STRING", kind: "INT64" }, tenantAttribute: "account", eventTypeAttribute: "kind", layout: "partitioned" }],
  ["per-tenant-day with a type attribute", { attributes: KEYWORD_ATTRIBUTES }],
  ["per-tenant-day without a type attribute", { attributes: { user_id: "STRING", campaign: "STRING" } }],
  ["per-tenant-day, another template name", { attributes: KEYWORD_ATTRIBUTES, templateTable: "hits" }],
];

test("there is a rollup table for each daily view, partitioned by event_date and clustered by tenant, each row stamped with computed_at", () => {
  const tables = rollupTables(settingsFor({ attributes: KEYWORD_ATTRIBUTES }));
  expect(tables.map((table) => [table.name, table.view])).toEqual([
    [ROLLUPS.counts, VIEWS.dailyCounts],
    [ROLLUPS.pages, VIEWS.dailyPages],
    [ROLLUPS.campaigns, VIEWS.dailyCampaigns],
    [ROLLUPS.devices, VIEWS.dailyDevices],
    [ROLLUPS.countries, VIEWS.dailyCountries],
    [ROLLUPS.totals, VIEWS.dailyTotals],
  ]);
  for (const table of tables) {
    expect([table.partitionColumn, table.clusterColumns]).toEqual(["event_date", ["tenant"]]);
    expect(table.schema.at(-1)).toMatchObject({ name: "computed_at", type: "TIMESTAMP", mode: "REQUIRED" });
    for (const field of table.schema) expect(field.description.length).toBeGreaterThan(20);
  }
});

test("the visitors columns say which visitors they count: a breakdown row's add up over days only, the totals' are the whole tenant's day", () => {
  const tables = rollupTables(settingsFor({ attributes: KEYWORD_ATTRIBUTES }));
  const visitors = (name: string) => tables.find((table) => table.name === name)!.schema.find((field) => field.name === "visitors")!.description;
  for (const name of [ROLLUPS.counts, ROLLUPS.pages, ROLLUPS.campaigns, ROLLUPS.devices, ROLLUPS.countries]) expect(visitors(name)).toMatch(/visitor-days.*never add rows of one day up.*rollup_totals/);
  expect(visitors(ROLLUPS.totals)).toMatch(/whole tenant.*visitor-days/);
});

test("touchedRollupScopes recomputes exactly the tenants' days a batch touched, every tenant of a day beyond the bound", () => {
  const touched = (pairs: string) => pairs.split(" ").map((pair) => ({ tenant: pair.split("@")[0], day: pair.split("@")[1] }));
  expect(touchedRollupScopes(touched("b@2026-01-06 a@2026-01-05 b@2026-01-05 a@2026-01-06 a@2026-01-07 c@2026-01-02 a@2026-01-05"))).toEqual([
    { days: { from: "2026-01-02", to: "2026-01-02" }, tenants: ["c"] },
    { days: { from: "2026-01-05", to: "2026-01-06" }, tenants: ["a", "b"] },
    { days: { from: "2026-01-07", to: "2026-01-07" }, tenants: ["a"] },
  ]);
  expect(touchedRollupScopes(touched("a@2026-01-05 b@2026-01-05 c@2026-01-05 a@2026-01-06 b@2026-01-06 a@2026-01-07"), 2)).toEqual([
    { days: { from: "2026-01-05", to: "2026-01-05" } },
    { days: { from: "2026-01-06", to: "2026-01-06" }, tenants: ["a", "b"] },
    { days: { from: "2026-01-07", to: "2026-01-07" }, tenants: ["a"] },
  ]);
  expect(touchedRollupScopes([])).toEqual([]);
});

describe.each(STACKS)("the rollup statements of a stack %s", (_, raw) => {
  let core: CoreSettings;

  beforeAll(() => {
    core = settingsFor(raw);
  });

  test("each aggregate gives its rollup table's columns and types, computed_at aside", async () => {
    const tables = rollupTables(core);
    for (const [index, aggregate] of dailyAggregates(core).entries()) {
      const source = core.layout === "partitioned" ? partitionedSource(DAYS, BQ) : `(SELECT * FROM \`${PROJECT}.${DATASET}.${core.templateTable}*\` CROSS JOIN (SELECT 'acme' AS tenant, DATE '2026-01-05' AS event_date))`;
      const analysis = await analyze(aggregate.query(source, BQ), core);
      expect(analysis.columns).toEqual(tables[index].schema.slice(0, -1).map(({ name, type }) => ({ name, type })));
    }
  });

  test("every DELETE of the range's days analyses, on each rollup table", async () => {
    for (const [index, statement] of rollupDeletes(core, DAYS, BQ).entries()) {
      expect((await analyze(statement, core)).tables).toEqual([`${PROJECT}.${DATASET}.${rollupTables(core)[index].name}`]);
    }
  });

  if (settingsFor(raw).layout === "partitioned") {
    test("every INSERT analyses and reads only the partitioned table, with a constant event_date range", async () => {
      const statements = partitionedRollupStatements(core, DAYS, BQ);
      for (const insert of statements.slice(rollupTables(core).length)) {
        const analysis = await analyze(insert, core);
        expect([...analysis.tables].sort()).toEqual([`${PROJECT}.${DATASET}.events_partitioned`, `${PROJECT}.${DATASET}.${insertTarget(insert)}`].sort());
        expect(insert).toContain("WHERE `event_date` BETWEEN DATE '2026-01-05' AND DATE '2026-01-07'");
      }
    });
    test("with a tenant list, every DELETE and INSERT analyses and is limited to those tenants' rows, each tenant a string literal", async () => {
      const tenants = ["acme", `o'brien \\ "co"`];
      const statements = partitionedRollupStatements(core, DAYS, BQ, tenants);
      const tables = rollupTables(core).map((table) => `${PROJECT}.${DATASET}.${table.name}`);
      for (const [index, statement] of statements.entries()) {
        const analysis = await analyze(statement, core);
        const expected = index < tables.length ? [tables[index]] : [`${PROJECT}.${DATASET}.events_partitioned`, `${PROJECT}.${DATASET}.${insertTarget(statement)}`];
        expect([...analysis.tables].sort()).toEqual(expected.sort());
        expect(statement).toContain("`event_date` BETWEEN DATE '2026-01-05' AND DATE '2026-01-07' AND `tenant` IN ('acme', 'o\\'brien \\\\ \"co\"')");
      }
      expect(() => partitionedRollupStatements(core, DAYS, BQ, [])).toThrow(/empty list.*pass none/);
    });
  } else {
    test("the day tables' listing analyses against INFORMATION_SCHEMA.TABLES", async () => {
      const analysis = await analyze(dayTableSuffixesQuery(core, PROJECT, DATASET, DAYS), core);
      expect(analysis.tables).toEqual([`${PROJECT}.${DATASET}.INFORMATION_SCHEMA.TABLES`]);
      expect(analysis.columns).toEqual([{ name: "$col1", type: "STRING" }]);
    });

    test.each([["one day table", "'_acme_20260105'"], ["tables of tenants that need escapes", "'_acme_20260105', '_XC3X9CnXC3XAFX27x_20260106', '_acmeX2Dcorp_20260107'"]])(
      "every INSERT that EXECUTE IMMEDIATE builds analyses with %s, reading only the wildcard",
      async (_name, suffixes) => {
        for (const insert of dayTablesInserts(core, PROJECT, DATASET)) {
          const statement = insert.before + suffixes + insert.after;
          const analysis = await analyze(statement, core);
          expect([...analysis.tables].sort()).toEqual([`${PROJECT}.${DATASET}.${core.templateTable}*`, `${PROJECT}.${DATASET}.${insertTarget(statement)}`].sort());
          expect(statement).toContain(`_TABLE_SUFFIX IN (${suffixes})`);
        }
      },
    );
  }

  test("the row count a run reports analyses, and reads only the rollup tables", async () => {
    const analysis = await analyze(rollupRowCountQuery(core, DAYS, BQ), core);
    expect(analysis.columns).toEqual([{ name: "rows_written", type: "INT64" }]);
    expect([...analysis.tables].sort()).toEqual(rollupTables(core).map((table) => `${PROJECT}.${DATASET}.${table.name}`).sort());
    const script = bigQueryRollupScript(core, PROJECT, DATASET, { from: { date: "2026-01-05" }, to: { date: "2026-01-07" } }, { countRows: true });
    expect(script.split("\n").slice(-rollupTables(core).length).join("\n")).toBe(`${rollupRowCountQuery(core, { from: "_first_day", to: "_last_day" }, BQ)};`);
  });

  test("the script replaces the days in one transaction: bounds evaluated once, every DELETE, then the INSERTs, then COMMIT", () => {
    const script = bigQueryRollupScript(core, PROJECT, DATASET, { from: { sql: "DATE_SUB(@run_date, INTERVAL 2 DAY)" }, to: { sql: "@run_date" } });
    const lines = script.split("\n");
    expect(lines.slice(0, 2)).toEqual(["DECLARE _first_day DATE DEFAULT DATE_SUB(@run_date, INTERVAL 2 DAY);", "DECLARE _last_day DATE DEFAULT @run_date;"]);
    expect(lines.at(-1)).toBe("COMMIT TRANSACTION;");
    const begin = lines.indexOf("BEGIN TRANSACTION;");
    const deletes = rollupDeletes(core, { from: "_first_day", to: "_last_day" }, BQ).map((statement) => lines.indexOf(`${statement};`));
    expect(deletes.every((position) => position > begin)).toBe(true);
    const firstInsert = lines.findIndex((line) => /INSERT INTO/.test(line));
    expect(firstInsert).toBeGreaterThan(Math.max(...deletes));
    expect(script.match(/INSERT INTO/g)).toHaveLength(rollupTables(core).length);
    if (core.layout === "partitioned") {
      // Each INSERT runs with the days as constants, as requirePartitionFilter asks: run as BigQuery would, it is the INSERT of a literal range.
      const executed = lines.filter((line) => line.startsWith("EXECUTE IMMEDIATE ")).map((line) => executedWith(line, { _first_day: "DATE '2026-01-05'", _last_day: "DATE '2026-01-07'" }));
      const inserts = partitionedRollupStatements(core, { from: "DATE '2026-01-05'", to: "DATE '2026-01-07'" }, BQ).filter((statement) => statement.startsWith("INSERT"));
      expect(executed).toEqual(inserts);
    } else {
      expect(lines.slice(2, begin).join("\n")).toBe(`DECLARE _day_table_suffixes STRING DEFAULT (\n${dayTableSuffixesQuery(core, PROJECT, DATASET, { from: "_first_day", to: "_last_day" })}\n);`);
      expect(script).toContain("IF _day_table_suffixes IS NOT NULL THEN");
      expect(script.match(/EXECUTE IMMEDIATE '[^\n]*' \|\| _day_table_suffixes \|\| '[^\n]*';/g)).toHaveLength(rollupTables(core).length);
      // Run as BigQuery would with a list of day tables, each is the INSERT that the analyses above check.
      const suffixes = "'_acme_20260105', '_acmeX2Dcorp_20260107'";
      const executed = lines.filter((line) => line.trim().startsWith("EXECUTE IMMEDIATE ")).map((line) => executedWith(line.trim(), { _day_table_suffixes: suffixes }));
      expect(executed).toEqual(dayTablesInserts(core, PROJECT, DATASET).map((insert) => insert.before + suffixes + insert.after));
    }
  });
});

describe("bigQueryRollupScript's day bounds", () => {
  const core = settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" });

  test("take dates as DATE literals", () => {
    expect(bigQueryRollupScript(core, PROJECT, DATASET, { from: { date: "2026-01-05" }, to: { date: "2026-01-07" } }).split("\n").slice(0, 2)).toEqual([
      "DECLARE _first_day DATE DEFAULT DATE '2026-01-05';",
      "DECLARE _last_day DATE DEFAULT DATE '2026-01-07';",
    ]);
  });

  test.each(["2026-02-30", "2026-13-01", "2026-1-05", "20260105", "2026-01-05'; DROP TABLE x; --"])("refuse %j, which is no day", (day) => {
    expect(() => bigQueryRollupScript(core, PROJECT, DATASET, { from: { date: day }, to: { date: "2026-01-07" } })).toThrow(/is not a day as YYYY-MM-DD/);
  });
});

/**
 * The statement an `EXECUTE IMMEDIATE 'text' || FORMAT('%T', variable) || 'text' …;` line runs (or
 * `|| variable ||`, a STRING one), with each variable's value as given, as FORMAT's %T or the
 * variable itself writes it: the string literals read as GoogleSQL reads them.
 */
function executedWith(line: string, values: Record<string, string>): string {
  const body = /^EXECUTE IMMEDIATE (.*);$/.exec(line)![1];
  return body
    .split(" || ")
    .map((part) => {
      const variable = /^FORMAT\('%T', (\w+)\)$/.exec(part) ?? /^(\w+)$/.exec(part);
      if (variable) return values[variable[1]];
      expect(part).toMatch(/^'.*'$/);
      return part.slice(1, -1).replace(/\\(u[0-9a-f]{4}|.)/g, (_, escaped: string) => (escaped.length === 5 ? String.fromCharCode(parseInt(escaped.slice(1), 16)) : escaped));
    })
    .join("");
}

function insertTarget(insert: string): string {
  return /^INSERT INTO `[^`]+\.([a-z_]+)`/.exec(insert)![1];
}

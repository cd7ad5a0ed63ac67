import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { bigQueryWriter } from "../../functions/bigqueryWriter";
import type { AcceptedEvent } from "../../core/event";
import { insertTableName, PARTITIONED_TABLE, partitionedRow, partitionedSchema, parseTableSuffix, ROLLUPS, storedRow, storedSchema, VIEWS } from "../../core/layout";
import type { Layout } from "../../core/layout";
import { templateSchema } from "../../core/schema";
import type { CoreSettings } from "../../core/config/coreSettings";
import { LocalDatabase } from "../../local/database";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { acceptedEvent, loadBalancerEntry } from "../../testkit/logEntries";
import { KEYWORD_ATTRIBUTES, settingsFor } from "../../testkit/settings";

// The same events through both layouts: the BigQuery writer's calls, and the local DuckDB's tables and views.
// Each test reads its settings from these configs, as the program does.
const PER_TENANT_DAY = { attributes: KEYWORD_ATTRIBUTES, maxValueLength: 3 };
const PARTITIONED = { ...PER_TENANT_DAY, layout: "partitioned" };

function event(tenant: string, timestamp: string, index: number, settings: CoreSettings): AcceptedEvent {
  const query = new URLSearchParams({ user_id: tenant, type: index % 2 ? "click" : "view", order: String(index) });
  return acceptedEvent(loadBalancerEntry({ insertId: `entry-${index}`, timestamp, httpRequest: { requestUrl: `https://t.example/pixel.png?${query}` } }), settings);
}

const VISITS: readonly [string, string][] = [
  ["acme", "2026-01-05T10:00:00Z"],
  ["acme", "2026-01-06T00:00:00Z"],
  ["acme-corp", "2026-01-05T23:59:59.999999Z"],
  ["Großhändler", "2026-01-05T12:00:00Z"],
];

describe.each([
  ["_acme_20260105", { tenant: "acme", date: "2026-01-05" }],
  ["_acmeX2Dcorp_00011231", { tenant: "acme-corp", date: "0001-12-31" }],
  ["_acme_corp_20260105", undefined],
  ["_X61_20260105", undefined],
  ["_acme_2026010", undefined],
  ["", undefined],
])("parseTableSuffix(%j)", (suffix, expected) => {
  test(`is ${JSON.stringify(expected)}`, () => expect(parseTableSuffix(suffix)).toEqual(expected));
});

describe.each<Layout>(["per-tenant-day", "partitioned"])("storedSchema, %s", (layout) => {
  test("has exactly the columns of the rows the layout stores, for the load jobs that create its tables", () => {
    const settings = settingsFor({ layout });
    const accepted = event("acme", "2026-01-05T12:00:00Z", 0, settings);
    expect(storedSchema(layout, settings.attributes).map((field) => field.name).sort()).toEqual(Object.keys(storedRow(layout, accepted)).sort());
  });
});

describe("partitionedRow", () => {
  test("adds the tenant and day of the suffix, and keeps the tenant whole where its attribute column is cut to maxValueLength", () => {
    const accepted = event("Großhändler", "2026-01-05T12:00:00Z", 0, settingsFor(PARTITIONED));
    expect(accepted.row.user_id).toBe("Gro");
    expect(partitionedRow(accepted.row, accepted.tableSuffix)).toEqual({ ...accepted.row, tenant: "Großhändler", event_date: "2026-01-05" });
  });

  test("has exactly the partitioned table's columns", () => {
    const settings = settingsFor(PARTITIONED);
    const accepted = event("acme", "2026-01-05T12:00:00Z", 0, settings);
    expect(Object.keys(partitionedRow(accepted.row, accepted.tableSuffix)).sort()).toEqual(partitionedSchema(settings.attributes).map((field) => field.name).sort());
  });

  test("refuses a suffix the core cannot produce", () => {
    expect(() => partitionedRow({}, "_acme_corp_20260105")).toThrow(/not a table suffix/);
  });
});

describe.each([
  ["per-tenant-day", PER_TENANT_DAY, "pixel"],
  ["partitioned", PARTITIONED, PARTITIONED_TABLE],
] as const)("the BigQuery writer in the %s layout", (layout, raw, table) => {
  const bigQuery = new BigQueryStandIn();
  beforeAll(() => bigQuery.start());
  afterAll(() => bigQuery.stop());

  test(`makes one insertAll per event on ${table}, with the same insertId`, async () => {
    const settings = settingsFor(raw);
    const writer = bigQueryWriter(bigQuery.client().dataset("pixel_dev").table(insertTableName(settings.layout, settings.templateTable)), undefined, settings.layout);
    const events = VISITS.map(([tenant, timestamp], index) => event(tenant, timestamp, index, settings));
    for (const accepted of events) await writer.insert(accepted);
    expect(bigQuery.requests).toEqual(
      events.map((accepted) => ({
        method: "POST",
        path: `/bigquery/v2/projects/test-project/datasets/pixel_dev/tables/${table}/insertAll`,
        body: {
          ...(layout === "partitioned" ? {} : { templateSuffix: accepted.tableSuffix }),
          rows: [{ insertId: accepted.insertId, json: layout === "partitioned" ? partitionedRow(accepted.row, accepted.tableSuffix) : accepted.row }],
        },
      })),
    );
  });
});

describe("the local DuckDB in both layouts", () => {
  let dir: string;
  let perTenantDay: LocalDatabase;
  let partitioned: LocalDatabase;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "pixel-layouts-"));
    perTenantDay = await loaded(settingsFor(PER_TENANT_DAY));
    partitioned = await loaded(settingsFor(PARTITIONED));
  });
  afterAll(async () => {
    perTenantDay?.close();
    partitioned?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A database of one layout holding the visits, committed as the loader does. */
  async function loaded(settings: CoreSettings): Promise<LocalDatabase> {
    const database = await LocalDatabase.open(path.join(dir, `${settings.layout}.duckdb`), settings);
    const events = VISITS.map(([tenant, timestamp], index) => event(tenant, timestamp, index, settings));
    await database.commit({ events, refusals: [] }, { segment: 1, offset: 0 });
    return database;
  }

  test("store every event in the template's columns plus tenant and day, in one table whatever the layout, beside the rollup tables", async () => {
    const tables = (database: LocalDatabase) =>
      database.query(`SELECT table_name, table_type FROM information_schema.tables WHERE table_name NOT IN ('refusals', 'spool_checkpoint', 'local_layout', 'load_jobs') ORDER BY table_name`);
    const expected = [
      ...Object.values(VIEWS).map((name) => ({ table_name: name, table_type: "VIEW" })),
      ...[PARTITIONED_TABLE, "pixel", ...Object.values(ROLLUPS)].map((name) => ({ table_name: name, table_type: "BASE TABLE" })),
    ].sort((a, b) => a.table_name.localeCompare(b.table_name));
    expect(await tables(perTenantDay)).toEqual(expected);
    expect(await tables(partitioned)).toEqual(expected);
  });

  test("answer the cloud's day-table names with per-tenant-day, with the template's columns and only that tenant's day", async () => {
    const columns = templateSchema(settingsFor(PER_TENANT_DAY).attributes).map((field) => field.name);
    const day = await perTenantDay.query(`SELECT * FROM pixel_acme_20260105`);
    expect(day.map((row) => Object.keys(row))).toEqual([columns]);
    expect(day.map((row) => row.event_timestamp)).toEqual(["2026-01-05T10:00:00.000000Z"]);
    expect(await perTenantDay.query(`SELECT (SELECT count(*) FROM pixel_X47roXC3X9FhXC3XA4ndler_20260105) AS g, (FROM pixel_acmeX2Dcorp_20260105 SELECT count(*)) AS a`)).toEqual([{ g: 1, a: 1 }]);
    expect(await perTenantDay.query(`SELECT count(*) AS n FROM pixel_nobody_20260105`)).toEqual([{ n: 0 }]);
    // The partitioned layout has no day tables in the cloud either.
    await expect(partitioned.query(`SELECT * FROM pixel_acme_20260105`)).rejects.toThrow(/Table with name pixel_acme_20260105 does not exist/);
  });

  // Their user agents are cut to 3 characters here, so every row counts as a bot and the breakdowns, which leave bots out, are empty: test/local/database.views.test.ts compares those.
  test.each([VIEWS.events, VIEWS.dedup, VIEWS.dailyCounts])("give the same %s view in both layouts", async (view) => {
    const sql = `SELECT * FROM ${view} ORDER BY ALL`;
    const expected = await perTenantDay.query(sql);
    expect(expected.length).toBeGreaterThan(0);
    expect(await partitioned.query(sql)).toEqual(expected);
  });

  test("the events view has the template's columns, then tenant and event_date, in both layouts", async () => {
    const names = [...templateSchema(settingsFor(PER_TENANT_DAY).attributes).map((field) => field.name), "tenant", "event_date"];
    for (const database of [perTenantDay, partitioned]) {
      expect((await database.query(`SELECT column_name FROM (DESCRIBE events)`)).map((row) => row.column_name)).toEqual(names);
    }
    for (const database of [perTenantDay, partitioned]) {
      expect(await database.query(`SELECT tenant, CAST(event_date AS VARCHAR) AS day FROM events WHERE user_id = 'Gro'`)).toEqual([{ tenant: "Großhändler", day: "2026-01-05" }]);
    }
  });
});

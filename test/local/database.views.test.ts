import * as path from "node:path";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { AcceptedEvent } from "../../core/event";
import { VIEWS } from "../../core/layout";
import { LocalDatabase } from "../../local/database";
import type { JsonRow } from "../../local/database";
import { createTableSql, dayTableName, insertRowsSql, rowsParameter } from "../../local/duckdbSchema";
import { DuckDBInstance } from "@duckdb/node-api";
import { templateSchema } from "../../core/schema";
import { acceptedEvent, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { makeTempDir, removeDir } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

// The answers' views exist in the local DuckDB file, in both layouts, for the dashboard and `npm run query`.
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const VISITS = [
  { query: "user_id=acme&type=view", remoteIp: "89.160.20.156", userAgent: FIREFOX, referer: "https://shop.example.com/a?utm_source=news" },
  { query: "user_id=acme&type=view", remoteIp: "89.160.20.156", userAgent: FIREFOX, referer: "https://shop.example.com/b" },
  { query: "user_id=acme&type=click&utm_source=ads", remoteIp: "212.27.48.10", userAgent: IPHONE, referer: "https://shop.example.com/a" },
  { query: "user_id=acme&type=view", remoteIp: "212.27.48.10", userAgent: "curl/8.5.0", referer: "https://shop.example.com/a" },
];

function events(settings: CoreSettings): AcceptedEvent[] {
  return VISITS.map((visit, index) => {
    return acceptedEvent(loadBalancerEntry({ insertId: `e${index}`, httpRequest: { requestUrl: pixelUrl(visit.query), remoteIp: visit.remoteIp, userAgent: visit.userAgent, referer: visit.referer } }), settings);
  });
}

/** Every view of the stack, read back after one load of the events, ordered so that layouts compare. */
async function viewsAfterLoad(settings: CoreSettings): Promise<Record<string, JsonRow[]>> {
  const dir = await makeTempDir();
  const database = await LocalDatabase.open(path.join(dir, "pixel.duckdb"), settings);
  try {
    await database.commit({ events: events(settings), refusals: [] }, { segment: 1, offset: 0 });
    const read: Record<string, JsonRow[]> = {};
    for (const view of Object.values(VIEWS)) read[view] = await database.query(`SELECT * FROM "${view}" ORDER BY ALL`);
    return read;
  } finally {
    database.close();
    await removeDir(dir);
  }
}

test("every view answers in both layouts, alike, and the breakdowns count the events of people and their visitors", async () => {
  const perTenantDay = await viewsAfterLoad(settingsFor());
  const partitioned = await viewsAfterLoad(settingsFor({ layout: "partitioned" }));
  expect(Object.keys(perTenantDay)).toEqual(["events", "events_dedup", "daily_counts", "daily_pages", "daily_campaigns", "daily_devices", "daily_countries", "daily_totals"]);
  expect(partitioned).toEqual(perTenantDay);

  const day = "2017-05-17";
  expect(perTenantDay.daily_countries).toEqual([
    { tenant: "acme", event_date: day, country: "FR", events: 1, visitors: 1 },
    { tenant: "acme", event_date: day, country: "SE", events: 2, visitors: 1 },
  ]);
  expect(perTenantDay.daily_devices).toEqual([
    { tenant: "acme", event_date: day, browser: "Firefox", os: "Linux", device_type: "desktop", events: 2, visitors: 1 },
    { tenant: "acme", event_date: day, browser: "Safari", os: "iOS", device_type: "mobile", events: 1, visitors: 1 },
  ]);
  expect(perTenantDay.daily_pages).toEqual([
    { tenant: "acme", event_date: day, page_host: "shop.example.com", page_path: "/a", events: 2, visitors: 2 },
    { tenant: "acme", event_date: day, page_host: "shop.example.com", page_path: "/b", events: 1, visitors: 1 },
  ]);
  expect(perTenantDay.daily_campaigns.map((row) => [row.utm_source, row.events, row.visitors])).toEqual([
    ["ads", 1, 1],
    ["news", 1, 1],
    [null, 1, 1],
  ]);
});

test("a database written before the answer columns opens, its old rows NULL in them, and takes new rows", async () => {
  const settings = settingsFor();
  const answerColumns = new Set(["visitor_id", "country", "browser", "browser_version", "os", "device_type", "page_host", "page_path", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"]);
  const before = templateSchema(settings.attributes).filter((field) => !answerColumns.has(field.name));
  const [old, recent] = events(settings);
  const dayTable = dayTableName(settings.templateTable, old.tableSuffix);
  const dir = await makeTempDir();
  const file = path.join(dir, "pixel.duckdb");
  try {
    // The file as the previous version left it: the template and a day table without the new columns.
    const instance = await DuckDBInstance.create(file);
    const connection = await instance.connect();
    for (const table of [settings.templateTable, dayTable]) await connection.run(createTableSql(table, before));
    const columns = before.map((field) => field.name);
    await connection.run(insertRowsSql(dayTable, columns), [rowsParameter(columns, [old.row])]);
    connection.closeSync();
    instance.closeSync();

    const database = await LocalDatabase.open(file, settings);
    try {
      await database.commit({ events: [{ tableSuffix: recent.tableSuffix, row: { ...recent.row, insert_id: "recent" } }], refusals: [] }, { segment: 1, offset: 0 });
      expect(await database.query(`SELECT insert_id, visitor_id IS NULL AS no_visitor, country FROM events ORDER BY insert_id`)).toEqual([
        { insert_id: old.insertId, no_visitor: true, country: null },
        { insert_id: "recent", no_visitor: false, country: "SE" },
      ]);
      expect(await database.query(`SELECT country, events, visitors FROM daily_countries ORDER BY ALL`)).toEqual([
        { country: "SE", events: 1, visitors: 1 },
        { country: null, events: 1, visitors: 0 },
      ]);
    } finally {
      database.close();
    }
  } finally {
    await removeDir(dir);
  }
});

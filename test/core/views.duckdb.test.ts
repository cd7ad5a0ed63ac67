import type { DuckDBConnection } from "@duckdb/node-api";
import fc from "fast-check";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { AcceptedEvent } from "../../core/event";
import { dayTablesSource, rollupInserts, rollupTables } from "../../core/rollups";
import { templateSchema } from "../../core/schema";
import { MAX_TENANT_BYTES, tableSuffix } from "../../core/tenant";
import { BREAKDOWNS, perTenantDayEventsQuery, tenantEventsQuery, tenantFilter, viewsOverEvents } from "../../core/views";
import type { JsonRow } from "../../local/database";
import { createRollupTableSql, createTableSql, createViewSql, dayTableName, duckDbDialect, duckDbRollupDialect, sqlString, tableSuffixOf } from "../../local/duckdbSchema";
import { acceptedEvent, loadBalancerEntry } from "../../testkit/logEntries";
import {duckDbWildcardDialect, openDuckDbFile, rowsOf } from "../../testkit/sql";
import { KEYWORD_ATTRIBUTES, settingsFor } from "../../testkit/settings";

/**
 * The views' SQL run in a real DuckDB file over rows made by the core from log entries. The
 * per-tenant-day views read an emulated wildcard (helpers.ts: duckDbWildcardDialect); day tables
 * are made like BigQuery's, without keys, so redelivered copies stay in them as they would there.
 */
let core: CoreSettings;
let TEMPLATE: string;
let columns: string[];

interface Visit {
  readonly tenant: string;
  readonly type: string;
  readonly referer: string;
  readonly userAgent: string;
  readonly timestamp: string;
  /** 89.160.20.156 (SE) unless given. */
  readonly remoteIp?: string;
  /** Extra pixel URL parameters, such as a campaign. */
  readonly query?: string;
}

const BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
// Tenants whose encodings sort next to acme's, and ones that need every escape.
const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const VISITS: readonly Visit[] = [
  // The same visitor twice on one page; then the same page from a phone in France, with a campaign in the page's URL.
  { tenant: "acme", type: "view", referer: "https://shop.example.com/cart?session=1#top", userAgent: BROWSER, timestamp: "2026-01-05T10:00:00.000000001Z" },
  { tenant: "acme", type: "view", referer: "https://shop.example.com/cart?session=2", userAgent: BROWSER, timestamp: "2026-01-05T11:00:00Z" },
  { tenant: "acme", type: "view", referer: "https://shop.example.com/cart?utm_source=newsletter&utm_medium=email", userAgent: PHONE, timestamp: "2026-01-05T11:30:00Z", remoteIp: "212.27.48.10" },
  { tenant: "acme", type: "click", referer: "https://shop.example.com/", userAgent: PHONE, timestamp: "2026-01-05T11:31:00Z", remoteIp: "212.27.48.10", query: "utm_source=ads&utm_campaign=winter" },
  { tenant: "acme", type: "click", referer: "https://shop.example.com/cart", userAgent: "curl/8.5.0", timestamp: "2026-01-05T23:59:59.999999Z" },
  { tenant: "acme", type: "view", referer: "https://shop.example.com/", userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) GoogleImageProxy", timestamp: "2026-01-06T00:00:00Z" },
  { tenant: "acme_corp", type: "view", referer: "https://corp.example.com/", userAgent: BROWSER, timestamp: "2026-01-05T12:00:00Z" },
  { tenant: "acme-corp", type: "view", referer: "https://corp.example.com/", userAgent: BROWSER, timestamp: "2026-01-05T12:00:01Z" },
  { tenant: "acme1", type: "view", referer: "https://one.example.com/", userAgent: BROWSER, timestamp: "2026-01-05T12:00:02Z" },
  { tenant: "acmea", type: "view", referer: "https://a.example.com/", userAgent: BROWSER, timestamp: "2026-01-05T12:00:03Z" },
  { tenant: "Acme", type: "view", referer: "https://upper.example.com/", userAgent: BROWSER, timestamp: "2026-01-05T12:00:04Z" },
  { tenant: "münchen", type: "view", referer: "https://m.example.de/ü?x=1", userAgent: BROWSER, timestamp: "2026-01-05T12:00:05Z" },
  { tenant: "it's me", type: "click", referer: "https://q.example.com/", userAgent: BROWSER, timestamp: "2026-01-05T12:00:06Z" },
  { tenant: "zero\0byte", type: "view", referer: "https://z.example.com/", userAgent: BROWSER, timestamp: "2026-01-05T12:00:07Z" },
];

function accepted(visit: Visit, index: number): AcceptedEvent {
  const query = new URLSearchParams({ user_id: visit.tenant, type: visit.type, order: String(index) });
  return acceptedEvent(
    loadBalancerEntry({
      insertId: `entry-${index}`,
      timestamp: visit.timestamp,
      httpRequest: { requestUrl: `https://t.example/pixel.png?${query}${visit.query ? `&${visit.query}` : ""}`, referer: visit.referer, userAgent: visit.userAgent, remoteIp: visit.remoteIp ?? "89.160.20.156" },
    }),
    core,
  );
}

let EVENTS: AcceptedEvent[];
/** EVENTS, and the first two again: Pub/Sub redelivered them, and BigQuery's best-effort dedup let the copies through. */
let STORED: AcceptedEvent[];

let db: Awaited<ReturnType<typeof openDuckDbFile>>;
let connection: DuckDBConnection;
let dayTables: string[];

beforeAll(async () => {
  core = settingsFor({ attributes: KEYWORD_ATTRIBUTES });
  TEMPLATE = core.templateTable;
  columns = templateSchema(core.attributes).map((field) => field.name);
  EVENTS = VISITS.map(accepted);
  STORED = [...EVENTS, EVENTS[0], EVENTS[1]];
  db = await openDuckDbFile();
  connection = db.connection;
  await connection.run(createTableSql(TEMPLATE, templateSchema(core.attributes)));
  dayTables = [...new Set(STORED.map((event) => dayTableName(TEMPLATE, event.tableSuffix)))];
  for (const table of dayTables) await connection.run(`CREATE TABLE "${table}" AS SELECT * FROM "${TEMPLATE}" WHERE false`);
  for (const event of STORED) {
    const placeholders = columns.map((_, index) => `$${index + 1}`).join(", ");
    await connection.run(
      `INSERT INTO "${dayTableName(TEMPLATE, event.tableSuffix)}" (${columns.map((name) => `"${name}"`).join(", ")}) VALUES (${placeholders})`,
      columns.map((name) => event.row[name] ?? null),
    );
  }
  const wildcard = duckDbWildcardDialect([TEMPLATE, ...dayTables]);
  await connection.run(createViewSql("events", perTenantDayEventsQuery(TEMPLATE, wildcard)));
  // The daily views read the rollups: filled as the BigQuery script fills them per-tenant-day, from the listed day tables through the wildcard.
  for (const table of rollupTables(core)) await connection.run(createRollupTableSql(table.name, table.schema));
  for (const view of viewsOverEvents(core, duckDbDialect)) await connection.run(createViewSql(view.name, view.query));
  const rollupDialect = { ...wildcard, currentTimestamp: duckDbRollupDialect.currentTimestamp };
  const suffixes = dayTables.map((table) => sqlString(tableSuffixOf(TEMPLATE, table))).join(", ");
  for (const insert of rollupInserts(core, dayTablesSource(core, suffixes, rollupDialect), rollupDialect)) await connection.run(insert);
});

afterAll(async () => {
  await db?.close();
});

const rows = (sql: string) => rowsOf(connection, sql);

describe("events over the emulated wildcard", () => {
  test("has every stored row, redelivered copies included, with its real tenant and the UTC day of event_timestamp", async () => {
    const result = await rows(`SELECT insert_id, tenant, CAST(event_date AS VARCHAR) AS day, event_timestamp FROM events`);
    const expected = STORED.map((event) => ({
      insert_id: event.insertId,
      tenant: VISITS[EVENTS.indexOf(event)].tenant,
      day: String(event.row.event_timestamp).slice(0, 10),
      event_timestamp: event.row.event_timestamp,
    }));
    const byKey = (a: JsonRow, b: JsonRow) => `${a.insert_id}`.localeCompare(`${b.insert_id}`);
    expect(result.sort(byKey)).toEqual(expected.sort(byKey));
  });

  test("is valid with no day tables at all: the wildcard matches the empty template", async () => {
    const empty = await openDuckDbFile();
    try {
      await empty.connection.run(createTableSql(TEMPLATE, templateSchema(core.attributes)));
      const query = perTenantDayEventsQuery(TEMPLATE, duckDbWildcardDialect([TEMPLATE]));
      expect(await rowsOf(empty.connection, `SELECT count(*) AS n FROM (${query})`)).toEqual([{ n: 0 }]);
    } finally {
      await empty.close();
    }
  });

  test("decodes every tenant the core can encode, as decodeTenant does", async () => {
    const tenant = fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" }).filter((text) => Buffer.byteLength(text) <= MAX_TENANT_BYTES);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(tenant, { minLength: 1, maxLength: 20 }), async (tenants) => {
        // The wildcard's rows reduced to what the view reads: _TABLE_SUFFIX and a column to find them by.
        const values = tenants.map((name, index) => `(${sqlString(tableSuffix(name, "20260105"))}, ${index})`).join(", ");
        const dialect = { ...duckDbWildcardDialect([]), tablesStartingWith: () => `(SELECT * FROM (VALUES ${values}) AS t(_TABLE_SUFFIX, n))` };
        const result = await rows(`SELECT n, tenant FROM (${perTenantDayEventsQuery(TEMPLATE, dialect)}) ORDER BY n`);
        expect(result).toEqual(tenants.map((name, index) => ({ n: index, tenant: name })));
      }),
      { numRuns: 40 },
    );
  });
});

test("events_dedup keeps one row per insert_id", async () => {
  const [counts] = await rows(`SELECT count(*) AS n, count(DISTINCT insert_id) AS ids FROM events_dedup`);
  expect(counts).toEqual({ n: EVENTS.length, ids: EVENTS.length });
  expect(await rows(`SELECT count(*) AS n FROM events`)).toEqual([{ n: STORED.length }]);
});

/** The reference: deduplicated events grouped by `keys`, counted, with the distinct non-NULL visitor ids of those `counted`. */
function grouped(keys: (visit: Visit, row: AcceptedEvent["row"]) => JsonRow, counted: (row: AcceptedEvent["row"]) => boolean): Map<string, { key: JsonRow; events: number; visitors: Set<unknown> }> {
  const groups = new Map<string, { key: JsonRow; events: number; visitors: Set<unknown> }>();
  for (const [index, visit] of VISITS.entries()) {
    const row = EVENTS[index].row;
    if (!counted(row)) continue;
    const key = { tenant: visit.tenant, day: visit.timestamp.slice(0, 10), ...keys(visit, row) };
    const group = groups.get(JSON.stringify(key)) ?? { key, events: 0, visitors: new Set() };
    group.events += 1;
    if (row.visitor_id !== null) group.visitors.add(row.visitor_id);
    groups.set(JSON.stringify(key), group);
  }
  return groups;
}

test("daily_counts counts deduplicated events per tenant, day, type and page without query or fragment, with people and their visitors", async () => {
  const expected = new Map<string, JsonRow>();
  const people = grouped((visit) => ({ event_type: visit.type, page: visit.referer.replace(/[?#].*$/, "") }), (row) => !row.is_bot);
  for (const [index, visit] of VISITS.entries()) {
    const page = visit.referer.replace(/[?#].*$/, "");
    const day = visit.timestamp.slice(0, 10);
    const key = JSON.stringify([visit.tenant, day, visit.type, page]);
    const row = expected.get(key) ?? { tenant: visit.tenant, day, event_type: visit.type, page, events: 0, bot_events: 0, email_proxy_events: 0, human_events: 0, visitors: 0 };
    const event = EVENTS[index].row;
    const humans = people.get(JSON.stringify({ tenant: visit.tenant, day, event_type: visit.type, page }));
    expected.set(key, {
      ...row,
      events: Number(row.events) + 1,
      bot_events: Number(row.bot_events) + (event.is_bot ? 1 : 0),
      email_proxy_events: Number(row.email_proxy_events) + (event.email_proxy ? 1 : 0),
      human_events: humans?.events ?? 0,
      visitors: humans?.visitors.size ?? 0,
    });
  }
  const result = await rows(`SELECT tenant, CAST(event_date AS VARCHAR) AS day, event_type, page, events, bot_events, email_proxy_events, human_events, visitors FROM daily_counts`);
  const order = (row: JsonRow) => JSON.stringify([row.tenant, row.day, row.event_type, row.page]);
  expect(result.sort((a, b) => order(a).localeCompare(order(b)))).toEqual([...expected.values()].sort((a, b) => order(a).localeCompare(order(b))));
  // The fixture reaches each kind of count, and a visitor seen twice.
  expect(result.some((row) => Number(row.bot_events) > 0) && result.some((row) => Number(row.email_proxy_events) > 0)).toBe(true);
  expect(result.some((row) => Number(row.human_events) > Number(row.visitors) && Number(row.visitors) > 0)).toBe(true);
});

test("daily_totals counts each tenant's day, with the day's distinct visitors of the whole tenant", async () => {
  const people = grouped(() => ({}), (row) => !row.is_bot);
  const expected = new Map<string, JsonRow>();
  for (const [index, visit] of VISITS.entries()) {
    const day = visit.timestamp.slice(0, 10);
    const key = JSON.stringify({ tenant: visit.tenant, day });
    const row = expected.get(key) ?? { tenant: visit.tenant, day, events: 0, bot_events: 0, email_proxy_events: 0, human_events: 0, visitors: 0 };
    const event = EVENTS[index].row;
    expected.set(key, {
      ...row,
      events: Number(row.events) + 1,
      bot_events: Number(row.bot_events) + (event.is_bot ? 1 : 0),
      email_proxy_events: Number(row.email_proxy_events) + (event.email_proxy ? 1 : 0),
      human_events: people.get(key)?.events ?? 0,
      visitors: people.get(key)?.visitors.size ?? 0,
    });
  }
  const result = await rows(`SELECT tenant, CAST(event_date AS VARCHAR) AS day, events, bot_events, email_proxy_events, human_events, visitors FROM daily_totals`);
  const order = (row: JsonRow) => JSON.stringify([row.tenant, row.day]);
  expect(result.sort((a, b) => order(a).localeCompare(order(b)))).toEqual([...expected.values()].sort((a, b) => order(a).localeCompare(order(b))));
  // acme's first day has a visitor on two pages: one visitor of the day, one of each page.
  const pages = await rows(`SELECT sum(visitors) AS visitors FROM daily_pages WHERE tenant = 'acme' AND event_date = DATE '2026-01-05'`);
  expect(Number(pages[0].visitors)).toBeGreaterThan(Number(result.find((row) => row.tenant === "acme" && row.day === "2026-01-05")!.visitors));
});

describe.each(BREAKDOWNS.map((breakdown) => [breakdown.name, breakdown.dimensions]))("%s", (name, dimensions) => {
  test("counts the deduplicated events of people, and their distinct visitors, per tenant, day and its dimensions", async () => {
    const expected = [...grouped((_visit, row) => Object.fromEntries(dimensions.map((dimension) => [dimension, row[dimension]])), (row) => !row.is_bot).values()].map((group) => ({
      ...group.key,
      events: group.events,
      visitors: group.visitors.size,
    }));
    const columns = ["tenant", "CAST(event_date AS VARCHAR) AS day", ...dimensions, "events", "visitors"].join(", ");
    const result = await rows(`SELECT ${columns} FROM ${name}`);
    const order = (row: JsonRow) => JSON.stringify(Object.values(row));
    expect(result.sort((a, b) => order(a).localeCompare(order(b)))).toEqual(expected.sort((a, b) => order(a).localeCompare(order(b))));
    // The fixture gives each breakdown a row with a value.
    expect(result.some((row) => dimensions.some((dimension) => row[dimension] !== null))).toBe(true);
  });
});

describe.each(VISITS.map((visit) => visit.tenant).filter((tenant, index, all) => all.indexOf(tenant) === index))("tenant %j", (tenant) => {
  const own = VISITS.filter((visit) => visit.tenant === tenant).length;

  test("its authorized-view query reads its day tables and nobody else's, even tenants that sort next to it", async () => {
    const query = tenantEventsQuery(core, tenant, duckDbWildcardDialect([TEMPLATE, ...dayTables]));
    const result = await rows(`SELECT DISTINCT tenant FROM (${query}) WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY insert_id) = 1`);
    expect(result).toEqual([{ tenant }]);
    expect(await rows(`SELECT count(DISTINCT insert_id) AS n FROM (${query})`)).toEqual([{ n: own }]);
  });

  test("its row access filter keeps exactly its rows of events_dedup", async () => {
    expect(await rows(`SELECT count(*) AS n FROM events_dedup WHERE ${tenantFilter(tenant, duckDbDialect)}`)).toEqual([{ n: own }]);
  });
});

import fc from "fast-check";
import { DECLARED_TABLE_NAMES, PARTITIONED_TABLE, partitionedSchema, VIEWS } from "../../core/layout";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { RawConfig } from "../../core/config/fields";
import { rollupTables } from "../../core/rollups";
import { tableSuffix } from "../../core/tenant";
import { bigQueryDialect, BREAKDOWNS, dailyAggregates, googleSqlString, tenantEventsQuery, tenantFilter, viewQueries, viewsOverEvents } from "../../core/views";
import { exampleQuery } from "../../infra/examples";
import { duckDbDialect } from "../../local/duckdbSchema";
import { analyzeViews, GoogleSqlAnalyzer, stackTables } from "../../testkit/googleSql";
import type { Analysis } from "../../testkit/googleSql";
import { KEYWORD_ATTRIBUTES, settingsFor } from "../../testkit/settings";

// The GoogleSQL is analysed by Google's analyzer against each stack's schema; semantics are checked in DuckDB (views.duckdb.test.ts).
let BQ: ReturnType<typeof bigQueryDialect>;
let analyzer: GoogleSqlAnalyzer;

beforeAll(async () => {
  BQ = bigQueryDialect("my-project", "pixel_dev");
  analyzer = await GoogleSqlAnalyzer.start();
});

afterAll(async () => {
  await analyzer?.close();
});

const analyze = (sql: string, core: CoreSettings) => analyzer.analyze(sql, stackTables(core, "my-project", "pixel_dev"));

// Stack configs; each describe reads its settings from one, as the program does.
const STACKS: readonly [string, RawConfig][] = [
  ["per-tenant-day with a type attribute", { attributes: KEYWORD_ATTRIBUTES }],
  ["partitioned with a type attribute", { attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" }],
  ["per-tenant-day without a type attribute", { attributes: { user_id: "STRING", campaign: "STRING" } }],
  ["partitioned, event type named by config (INT64)", { attributes: { account: "STRING", kind: "INT64" }, tenantAttribute: "account", eventTypeAttribute: "kind", layout: "partitioned" }],
  ["another template name", { attributes: KEYWORD_ATTRIBUTES, templateTable: "hits" }],
];

describe.each(STACKS)("the views of a stack %s", (_, raw) => {
  let core: CoreSettings;
  let views: ReturnType<typeof viewQueries>;
  let analyses: Map<string, Analysis>;

  beforeAll(async () => {
    core = settingsFor(raw);
    views = viewQueries(core, BQ);
    analyses = await analyzeViews(analyzer, views, core, "my-project", "pixel_dev");
  });

  test("are events, events_dedup, daily_counts, the four breakdowns and daily_totals, in creation order, none named like the template's wildcard", () => {
    expect(views.map((view) => view.name)).toEqual(["events", "events_dedup", "daily_counts", "daily_pages", "daily_campaigns", "daily_devices", "daily_countries", "daily_totals"]);
    for (const view of views) expect(view.name.startsWith(core.templateTable)).toBe(false);
  });

  test("events reads the wildcard over the template and its day tables, or the partitioned table: every column with tenant and event_date", () => {
    const source = core.layout === "partitioned" ? `my-project.pixel_dev.${PARTITIONED_TABLE}` : `my-project.pixel_dev.${core.templateTable}*`;
    const events = analyses.get(VIEWS.events)!;
    expect(events.tables).toEqual([source]);
    expect(events.columns).toEqual(partitionedSchema(core.attributes).map(({ name, type }) => ({ name, type })));
  });

  test("events_dedup reads events, each daily view reads only its rollup table, all fully qualified", () => {
    expect(analyses.get(VIEWS.dedup)!.tables).toEqual(["my-project.pixel_dev.events"]);
    expect(analyses.get(VIEWS.dedup)!.columns).toEqual(analyses.get(VIEWS.events)!.columns);
    for (const table of rollupTables(core)) expect(analyses.get(table.view)!.tables).toEqual([`my-project.pixel_dev.${table.name}`]);
  });

  test("daily_totals gives per tenant and day the counts of daily_counts, with the day's visitors of the whole tenant", () => {
    expect(analyses.get(VIEWS.dailyTotals)!.columns).toEqual(
      ["tenant", "event_date", "events", "bot_events", "email_proxy_events", "human_events", "visitors"].map((name) => ({ name, type: name === "tenant" ? "STRING" : name === "event_date" ? "DATE" : "INT64" })),
    );
  });

  test("daily_counts has the same columns and types on every stack, with the event type from the configured attribute or NULL", () => {
    expect(analyses.get(VIEWS.dailyCounts)!.columns).toEqual([
      { name: "tenant", type: "STRING" },
      { name: "event_date", type: "DATE" },
      { name: "event_type", type: "STRING" },
      { name: "page", type: "STRING" },
      { name: "events", type: "INT64" },
      { name: "bot_events", type: "INT64" },
      { name: "email_proxy_events", type: "INT64" },
      { name: "human_events", type: "INT64" },
      { name: "visitors", type: "INT64" },
    ]);
    const counts = dailyAggregates(core)[0].query("`my-project.pixel_dev.events_dedup`", BQ);
    expect(counts).toContain(core.eventTypeAttribute ? `CAST(\`${core.eventTypeAttribute}\` AS STRING) AS \`event_type\`` : "CAST(NULL AS STRING) AS `event_type`");
  });

  test.each(BREAKDOWNS.map((breakdown) => [breakdown.name, breakdown.dimensions]))("%s gives per tenant and day its dimensions, events and visitors", (name, dimensions) => {
    expect(analyses.get(name)!.columns).toEqual([
      { name: "tenant", type: "STRING" },
      { name: "event_date", type: "DATE" },
      ...dimensions.map((dimension) => ({ name: dimension, type: "STRING" })),
      { name: "events", type: "INT64" },
      { name: "visitors", type: "INT64" },
    ]);
  });
});

describe("the analyzer", () => {
  test.each([
    ["a column no table has", "SELECT nope FROM `my-project.pixel_dev.pixel`", /Unrecognized name: nope/],
    ["a function over the wrong type", "SELECT COUNTIF(user_agent) FROM `my-project.pixel_dev.pixel`", /No matching signature for aggregate function COUNTIF/],
    ["a function BigQuery lacks", "SELECT STRFTIME(event_timestamp, '%Y') FROM `my-project.pixel_dev.pixel`", /Function not found: STRFTIME/],
    ["a table the stack does not have", "SELECT * FROM `my-project.pixel_dev.events`", /Table not found/],
    ["a keyword attribute left unquoted", "SELECT order FROM `my-project.pixel_dev.pixel`", /Syntax error/],
  ])("refuses %s", async (_, sql, message) => {
    await expect(analyze(sql, settingsFor({ attributes: KEYWORD_ATTRIBUTES }))).rejects.toThrow(message);
  });
});

describe("the same text in both dialects", () => {
  // Backtick-qualified names become DuckDB's quoted names; nothing else may differ.
  const asDuckDb = (googleSql: string) => googleSql.replace(/`my-project\.pixel_dev\.([a-z_]+)`/g, '"$1"').replace(/`([A-Za-z0-9_]+)`/g, '"$1"');

  test.each(STACKS)("every view over events of a stack %s", (_, raw) => {
    const core = settingsFor(raw);
    expect(viewsOverEvents(core, BQ).map((view) => asDuckDb(view.query))).toEqual(viewsOverEvents(core, duckDbDialect).map((view) => view.query));
  });
});

describe.each([
  ["plain", "'plain'"],
  ["it's", "'it\\'s'"],
  ["back\\slash", "'back\\\\slash'"],
  ["new\nline\ttab\0nul\u007f", "'new\\u000aline\\u0009tab\\u0000nul\\u007f'"],
  ["münchen 😀", "'münchen 😀'"],
])("googleSqlString(%j)", (value, literal) => {
  test(`is ${literal}`, () => {
    expect(googleSqlString(value)).toBe(literal);
  });

  test("is one GoogleSQL string literal in a row filter on the tenant column", async () => {
    const core = settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" });
    await expect(analyze(`CREATE ROW ACCESS POLICY t ON \`my-project.pixel_dev.${PARTITIONED_TABLE}\` GRANT TO ('user:a@example.com') FILTER USING (${tenantFilter(value, BQ)})`, core)).resolves.toBeDefined();
  });
});

describe.each([
  ["acme", "'_acme_00000000' AND '_acme_99999999'"],
  ["acme-corp", "'_acmeX2Dcorp_00000000' AND '_acmeX2Dcorp_99999999'"],
  ["Ünï'x", "'_XC3X9CnXC3XAFX27x_00000000' AND '_XC3X9CnXC3XAFX27x_99999999'"],
])("the authorized-view query for tenant %j (per-tenant-day)", (tenant, range) => {
  test("reads the wildcard with a _TABLE_SUFFIX range of that tenant's day tables, with the events view's columns", async () => {
    const core = settingsFor({ attributes: KEYWORD_ATTRIBUTES });
    const query = tenantEventsQuery(core, tenant, BQ);
    expect(query).toContain(`WHERE _TABLE_SUFFIX BETWEEN ${range}`);
    const analysis = await analyze(query, core);
    expect(analysis.tables).toEqual(["my-project.pixel_dev.pixel*"]);
    expect(analysis.columns).toEqual(partitionedSchema(core.attributes).map(({ name, type }) => ({ name, type })));
  });

  test("in the partitioned layout filters the partitioned table on the tenant column", async () => {
    const core = settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" });
    const partitioned = tenantEventsQuery(core, tenant, BQ);
    expect(partitioned).toContain(`WHERE \`tenant\` = ${googleSqlString(tenant)}`);
    expect((await analyze(partitioned, core)).tables).toEqual([`my-project.pixel_dev.${PARTITIONED_TABLE}`]);
  });
});

test("a tenant's _TABLE_SUFFIX range holds its own day tables and no other tenant's (the encoding never emits _)", () => {
  const day = fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }).map((date) => date.toISOString().slice(0, 10).replace(/-/g, ""));
  const tenant = fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom("a", "c", "m", "e", "1", "_", "-", "X", "A", "é", "0", "z") });
  fc.assert(
    fc.property(tenant, tenant, day, (own, other, date) => {
      const range = /BETWEEN '([^']+)' AND '([^']+)'/.exec(tenantEventsQuery(settingsFor({ attributes: KEYWORD_ATTRIBUTES }), own, BQ))!;
      const inRange = (suffix: string) => suffix >= range[1] && suffix <= range[2];
      expect(inRange(tableSuffix(own, date))).toBe(true);
      if (other !== own) expect(inRange(tableSuffix(other, date))).toBe(false);
    }),
  );
});

describe.each<[RawConfig, string, string]>([
  [{ attributes: KEYWORD_ATTRIBUTES }, "FROM `p.pixel_dev.pixel_acme_*`", "WHERE _TABLE_SUFFIX BETWEEN '20260101' AND '20260107'"],
  [{ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" }, "FROM `p.pixel_dev.events`", "WHERE tenant = 'acme' AND event_date BETWEEN DATE '2026-01-01' AND DATE '2026-01-07'"],
  [{ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned", tenantAllowlist: ["O'Brien"] }, "FROM `p.pixel_dev.events`", "WHERE tenant = 'O\\'Brien' AND event_date"],
])("the exampleQuery output (%#)", (raw, from, where) => {
  test("reads only the example tenant's days, in the stack's layout, and analyses", async () => {
    const core = settingsFor(raw);
    const query = exampleQuery("p", "pixel_dev", core, { from: "20260101", to: "20260107" });
    expect(query).toContain(from);
    expect(query).toContain(where);
    const views = await analyzeViews(analyzer, viewQueries(core, bigQueryDialect("p", "pixel_dev")), core, "p", "pixel_dev");
    const created = new Map([...views].map(([name, analysis]) => [name, analysis.columns]));
    await expect(analyzer.analyze(query, stackTables(core, "p", "pixel_dev", created))).resolves.toBeDefined();
  });
});

test("the names the program declares besides the template are the views, the partitioned table, the rollup tables and the load ledger", () => {
  expect(DECLARED_TABLE_NAMES).toEqual([
    "events",
    "events_dedup",
    "daily_counts",
    "daily_pages",
    "daily_campaigns",
    "daily_devices",
    "daily_countries",
    "daily_totals",
    "events_partitioned",
    "rollup_counts",
    "rollup_pages",
    "rollup_campaigns",
    "rollup_devices",
    "rollup_countries",
    "rollup_totals",
    "load_ledger",
  ]);
});

import fc from "fast-check";
import { DECLARED_TABLE_NAMES, PARTITIONED_TABLE, VIEWS } from "../../core/layout";
import type { CoreSettings } from "../../core/config/coreSettings";
import { tableSuffix } from "../../core/tenant";
import { bigQueryDialect, dailyCountsQuery, dedupQuery, googleSqlString, tenantEventsQuery, tenantFilter, viewQueries } from "../../core/views";
import { exampleQuery } from "../../infra/examples";
import { duckDbDialect } from "../../local/duckdbSchema";
import {parseGoogleSql, tablesRead } from "../../testkit/sql";
import { KEYWORD_ATTRIBUTES, settingsFor } from "../../testkit/settings";

// GoogleSQL text checked with node-sql-parser's BigQuery grammar; semantics are checked in DuckDB (duckdbViews.test.ts).
const BQ = bigQueryDialect("my-project", "pixel_dev");

const STACKS: readonly [string, CoreSettings][] = [
  ["per-tenant-day with a type attribute", settingsFor({ attributes: KEYWORD_ATTRIBUTES })],
  ["partitioned with a type attribute", settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" })],
  ["per-tenant-day without a type attribute", settingsFor({ attributes: { user_id: "STRING", campaign: "STRING" } })],
  ["partitioned, event type named by config (INT64)", settingsFor({ attributes: { account: "STRING", kind: "INT64" }, tenantAttribute: "account", eventTypeAttribute: "kind", layout: "partitioned" })],
  ["another template name", settingsFor({ attributes: KEYWORD_ATTRIBUTES, templateTable: "hits" })],
];

type Name = string | { value?: string; expr?: { value: string } } | null | undefined;
const nameOf = (name: Name): string | undefined => (typeof name === "string" ? name : (name?.value ?? name?.expr?.value));

/** The output column names of a SELECT as node-sql-parser sees them: the alias, else the column ("*" for all). */
function outputNames(sql: string): (string | undefined)[] {
  const ast = parseGoogleSql(sql).ast as unknown as { columns: { as: Name; expr: { column?: Name } }[] };
  return ast.columns.map((column) => nameOf(column.as) ?? nameOf(column.expr.column));
}

describe.each(STACKS)("the views of a stack %s", (_, core) => {
  const views = viewQueries(core, BQ);

  test("are events, events_dedup and daily_counts, in creation order, none named like the template's wildcard", () => {
    expect(views.map((view) => view.name)).toEqual([VIEWS.events, VIEWS.dedup, VIEWS.dailyCounts]);
    for (const view of views) expect(view.name.startsWith(core.templateTable)).toBe(false);
  });

  test.each(viewQueries(core, BQ).map((view) => [view.name, view.query]))("%s parses as GoogleSQL (BigQuery grammar)", (_name, query) => {
    expect(() => parseGoogleSql(query)).not.toThrow();
  });

  test("events reads the wildcard over the template and its day tables, or the partitioned table, and adds tenant and event_date", () => {
    const events = views[0].query;
    const source = core.layout === "partitioned" ? `my-project.pixel_dev.${PARTITIONED_TABLE}` : `my-project.pixel_dev.${core.templateTable}*`;
    expect(tablesRead(events)).toEqual([source]);
    expect(outputNames(events)).toEqual(core.layout === "partitioned" ? ["*"] : ["*", "tenant", "event_date"]);
  });

  test("events_dedup reads events, daily_counts reads events_dedup, both fully qualified", () => {
    expect(tablesRead(views[1].query)).toEqual(["my-project.pixel_dev.events"]);
    expect(tablesRead(views[2].query)).toEqual(["my-project.pixel_dev.events_dedup"]);
  });

  test("daily_counts has the same columns on every stack, with the event type from the configured attribute or NULL", () => {
    const counts = views[2].query;
    expect(outputNames(counts)).toEqual(["tenant", "event_date", "event_type", "page", "events", "bot_events", "email_proxy_events"]);
    expect(counts).toContain(core.eventTypeAttribute ? `CAST(\`${core.eventTypeAttribute}\` AS STRING) AS \`event_type\`` : "CAST(NULL AS STRING) AS `event_type`");
  });
});

describe("the same text in both dialects", () => {
  // Backtick-qualified names become DuckDB's quoted names; nothing else may differ.
  const asDuckDb = (googleSql: string) => googleSql.replace(/`my-project\.pixel_dev\.([a-z_]+)`/g, '"$1"').replace(/`([A-Za-z0-9_]+)`/g, '"$1"');

  test.each(STACKS)("events_dedup and daily_counts of a stack %s", (_, core) => {
    expect(asDuckDb(dedupQuery(BQ))).toBe(dedupQuery(duckDbDialect));
    expect(asDuckDb(dailyCountsQuery(core, BQ))).toBe(dailyCountsQuery(core, duckDbDialect));
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

  test("parses as one GoogleSQL string literal in a row filter", () => {
    expect(() => parseGoogleSql(`SELECT * FROM t WHERE ${tenantFilter(value, BQ)}`)).not.toThrow();
  });
});

describe.each([
  ["acme", "'_acme_00000000' AND '_acme_99999999'"],
  ["acme-corp", "'_acmeX2Dcorp_00000000' AND '_acmeX2Dcorp_99999999'"],
  ["Ünï'x", "'_XC3X9CnXC3XAFX27x_00000000' AND '_XC3X9CnXC3XAFX27x_99999999'"],
])("the authorized-view query for tenant %j (per-tenant-day)", (tenant, range) => {
  const query = tenantEventsQuery(settingsFor({ attributes: KEYWORD_ATTRIBUTES }), tenant, BQ);

  test("reads the wildcard with a _TABLE_SUFFIX range of that tenant's day tables, and parses", () => {
    expect(query).toContain(`WHERE _TABLE_SUFFIX BETWEEN ${range}`);
    expect(tablesRead(query)).toEqual(["my-project.pixel_dev.pixel*"]);
    expect(outputNames(query)).toEqual(["*", "tenant", "event_date"]);
  });

  test("in the partitioned layout filters the partitioned table on the tenant column, and parses", () => {
    const partitioned = tenantEventsQuery(settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" }), tenant, BQ);
    expect(partitioned).toContain(`WHERE \`tenant\` = ${googleSqlString(tenant)}`);
    expect(tablesRead(partitioned)).toEqual([`my-project.pixel_dev.${PARTITIONED_TABLE}`]);
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

describe.each([
  [settingsFor({ attributes: KEYWORD_ATTRIBUTES }), "FROM `p.pixel_dev.pixel_acme_*`", "WHERE _TABLE_SUFFIX BETWEEN '20260101' AND '20260107'"],
  [settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" }), "FROM `p.pixel_dev.events`", "WHERE tenant = 'acme' AND event_date BETWEEN DATE '2026-01-01' AND DATE '2026-01-07'"],
  [settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned", tenantAllowlist: ["O'Brien"] }), "FROM `p.pixel_dev.events`", "WHERE tenant = 'O\\'Brien' AND event_date"],
])("the exampleQuery output (%#)", (core, from, where) => {
  const query = exampleQuery("p", "pixel_dev", core, { from: "20260101", to: "20260107" });

  test("reads only the example tenant's days, in the stack's layout, and parses", () => {
    expect(query).toContain(from);
    expect(query).toContain(where);
    expect(() => parseGoogleSql(query)).not.toThrow();
  });
});

test("the names the program declares besides the template are the views and the partitioned table", () => {
  expect(DECLARED_TABLE_NAMES).toEqual(["events", "events_dedup", "daily_counts", "events_partitioned"]);
});

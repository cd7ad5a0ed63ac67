import { EVENT_DATE_COLUMN, PARTITIONED_TABLE, ROLLUPS, TENANT_COLUMN, VIEWS } from "./layout";
import type { CoreSettings } from "./config/coreSettings";
import { CAMPAIGN_PARAMETERS } from "./schema";
import { encodeTenant } from "./tenant";

/**
 * The SQL of the views every stack declares, built from its settings. The text is GoogleSQL and
 * also runs in DuckDB wherever the two agree; a dialect supplies the rest: how names are quoted
 * and qualified, string literals and, for the per-tenant-day events view, the wildcard table and
 * the few functions DuckDB names differently. Pure: no I/O.
 */
export interface SqlDialect {
  /** A column name or alias. */
  identifier(name: string): string;
  /** A table or view of the stack's dataset. */
  table(name: string): string;
  /** A string literal holding exactly `value`. */
  string(value: string): string;
}

/** What the per-tenant-day views need besides SqlDialect: GoogleSQL's wildcard tables and a few functions. */
export interface WildcardDialect extends SqlDialect {
  /** A FROM item over every table whose name starts with `prefix`, each row with its table's `_TABLE_SUFFIX`. */
  tablesStartingWith(prefix: string): string;
  /** The select list of a wildcard's own columns (in GoogleSQL `*` leaves the `_TABLE_SUFFIX` pseudo-column out). */
  readonly wildcardColumns: string;
  /** The text of `body` for each `element` of `list`, concatenated in the list's order. */
  concatMapped(list: string, element: string, body: string): string;
  /** Two upper-case hex digits of an ASCII character's code. */
  hexOfAscii(character: string): string;
  /** The UTF-8 text that hex digits spell. */
  textFromHex(hex: string): string;
  /** A DATE from YYYYMMDD. */
  dateFromDigits(digits: string): string;
}

/** GoogleSQL, with every table and view qualified by project and dataset, as views must be. */
export function bigQueryDialect(project: string, dataset: string): WildcardDialect {
  const path = (name: string) => `\`${project}.${dataset}.${name}\``;
  return {
    identifier: (name) => `\`${name}\``,
    table: path,
    string: googleSqlString,
    tablesStartingWith: (prefix) => path(`${prefix}*`),
    wildcardColumns: "*",
    concatMapped: (list, element, body) =>
      `ARRAY_TO_STRING(ARRAY(SELECT ${body} FROM UNNEST(${list}) AS ${element} WITH OFFSET AS position ORDER BY position), '')`,
    hexOfAscii: (character) => `FORMAT('%02X', ASCII(${character}))`,
    textFromHex: (hex) => `SAFE_CONVERT_BYTES_TO_STRING(FROM_HEX(${hex}))`,
    dateFromDigits: (digits) => `PARSE_DATE('%Y%m%d', ${digits})`,
  };
}

/** A GoogleSQL string literal: quotes and backslashes escaped, control characters as \u escapes. */
export function googleSqlString(value: string): string {
  const escaped = value.replace(/[\\']/g, (character) => `\\${character}`);
  // eslint-disable-next-line no-control-regex
  return `'${escaped.replace(/[\u0000-\u001f\u007f]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`)}'`;
}

// For `FROM <template>*`, _TABLE_SUFFIX is "_<encoded tenant>_<YYYYMMDD>" on day tables and "" on the template.
const ENCODED_TENANT = "SUBSTR(_TABLE_SUFFIX, 2, LENGTH(_TABLE_SUFFIX) - 10)";
const SUFFIX_DAY = "SUBSTR(_TABLE_SUFFIX, -8)";
/** The tokens of an encoded tenant (tenant.ts): a plain [a-z0-9] character, or X and the hex digits of one UTF-8 byte. */
const ENCODING_TOKEN = "X[0-9A-F]{2}|[a-z0-9]";

/**
 * decodeTenant in SQL. Plain tenants, the common case, contain no "X" and are their own
 * encoding; otherwise each token becomes two hex digits, and the bytes are read as UTF-8.
 */
function decodedTenant(dialect: WildcardDialect, encoded: string): string {
  const hexOfToken = `IF(STARTS_WITH(token, 'X'), SUBSTR(token, 2), ${dialect.hexOfAscii("token")})`;
  const hex = dialect.concatMapped(`REGEXP_EXTRACT_ALL(${encoded}, '${ENCODING_TOKEN}')`, "token", hexOfToken);
  return `IF(STRPOS(${encoded}, 'X') = 0, ${encoded}, ${dialect.textFromHex(hex)})`;
}

/**
 * per-tenant-day: every day table through the wildcard `<template>*`, which also matches the
 * template itself. So the view is valid before the first event creates a day table (BigQuery
 * refuses to create a view over a wildcard that matches nothing); the template holds no rows.
 * `suffixFilter`, a condition on _TABLE_SUFFIX, limits the tables read (core/rollups.ts).
 */
export function perTenantDayEventsQuery(templateTable: string, dialect: WildcardDialect, suffixFilter?: string): string {
  return [
    "SELECT",
    `  ${dialect.wildcardColumns},`,
    `  ${decodedTenant(dialect, ENCODED_TENANT)} AS ${dialect.identifier(TENANT_COLUMN)},`,
    `  ${dialect.dateFromDigits(SUFFIX_DAY)} AS ${dialect.identifier(EVENT_DATE_COLUMN)}`,
    `FROM ${dialect.tablesStartingWith(templateTable)}`,
    `WHERE _TABLE_SUFFIX != ''${suffixFilter ? ` AND ${suffixFilter}` : ""}`,
  ].join("\n");
}

/** partitioned: the table already stores the tenant and the day. */
export function partitionedEventsQuery(dialect: SqlDialect): string {
  return `SELECT *\nFROM ${dialect.table(PARTITIONED_TABLE)}`;
}

/** `events`: every event with its tenant and UTC day, the same columns in both layouts. */
export function eventsQuery(settings: CoreSettings, dialect: WildcardDialect): string {
  return settings.layout === "partitioned" ? partitionedEventsQuery(dialect) : perTenantDayEventsQuery(settings.templateTable, dialect);
}

/**
 * `events_dedup`: one row per insert_id. Redelivered copies are the same log entry, so any one
 * will do. A copy always has the same tenant and day, so partitioning the window by them changes
 * nothing but lets a filter on them reach the table below (partition pruning, fewer day tables).
 * The rollups deduplicate their days' events with the same text, over `events` and `where` of their own.
 */
export function dedupQuery(dialect: SqlDialect, events = dialect.table(VIEWS.events), where = "TRUE"): string {
  const window = [TENANT_COLUMN, EVENT_DATE_COLUMN, "insert_id"].map((name) => dialect.identifier(name)).join(", ");
  return [
    "SELECT *",
    `FROM ${events}`,
    // BigQuery has required a WHERE, GROUP BY or HAVING clause before QUALIFY (Google's analyzer still does).
    `WHERE ${where}`,
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${window}) = 1`,
  ].join("\n");
}

/** The counts of daily_counts and daily_totals, after their keys. */
export const COUNT_COLUMNS = ["events", "bot_events", "email_proxy_events", "human_events", "visitors"] as const;

/**
 * Deduplicated events counted per tenant, UTC day and `keys` (expressions and their names), with
 * the events of people (human_events: not flagged as bots) and their distinct visitors. `source`
 * is a FROM item of deduplicated events.
 */
function countsQuery(keys: readonly { readonly sql: string; readonly name: string }[], source: string, dialect: SqlDialect): string {
  const column = (name: string) => dialect.identifier(name);
  const groups = [TENANT_COLUMN, EVENT_DATE_COLUMN].map((name) => ({ sql: column(name), name }));
  return [
    "SELECT",
    ...[...groups, ...keys].map((key) => `  ${key.sql} AS ${column(key.name)},`),
    `  COUNT(*) AS ${column("events")},`,
    // DuckDB's COUNTIF is NULL when the condition is never TRUE nor FALSE (is_bot NULL in old rows); BigQuery's is 0.
    `  COALESCE(COUNTIF(${column("is_bot")}), 0) AS ${column("bot_events")},`,
    `  COUNTIF(${column("email_proxy")} IS NOT NULL) AS ${column("email_proxy_events")},`,
    `  COALESCE(COUNTIF(NOT ${column("is_bot")}), 0) AS ${column("human_events")},`,
    `  COUNT(DISTINCT IF(${column("is_bot")}, NULL, ${column("visitor_id")})) AS ${column("visitors")}`,
    `FROM ${source}`,
    // By position: an attribute may be named like one of the aliases.
    `GROUP BY ${[...groups, ...keys].map((_, index) => index + 1).join(", ")}`,
  ].join("\n");
}

/**
 * daily_counts' rows: the summary the AWS original wrote per date and path, per tenant, UTC day,
 * event type and page (the referer without query or fragment). Without an event-type attribute
 * the column stays, as NULL, so reports work on every stack.
 */
export function dailyCountsQuery(settings: CoreSettings, source: string, dialect: SqlDialect): string {
  const eventType = settings.eventTypeAttribute ? `CAST(${dialect.identifier(settings.eventTypeAttribute)} AS STRING)` : "CAST(NULL AS STRING)";
  return countsQuery(
    [
      { sql: eventType, name: "event_type" },
      { sql: `REGEXP_REPLACE(${dialect.identifier("referer")}, '[?#].*$', '')`, name: "page" },
    ],
    source,
    dialect,
  );
}

/** daily_totals' rows: the counts of daily_counts for the whole tenant and day, with the day's distinct visitors of the tenant. */
export function dailyTotalsQuery(source: string, dialect: SqlDialect): string {
  return countsQuery([], source, dialect);
}

/**
 * A breakdown per tenant, UTC day and the `dimensions` columns: the events of people (bots
 * left out) and their distinct visitors. Distinct counts do not add up across rows: a visitor
 * on two pages of a day is one visitor of the day (daily_totals), and one of each page.
 */
export function breakdownQuery(dimensions: readonly string[], source: string, dialect: SqlDialect): string {
  const column = (name: string) => dialect.identifier(name);
  const keys = [TENANT_COLUMN, EVENT_DATE_COLUMN, ...dimensions];
  return [
    "SELECT",
    ...keys.map((key) => `  ${column(key)},`),
    `  COUNT(*) AS ${column("events")},`,
    `  COUNT(DISTINCT ${column("visitor_id")}) AS ${column("visitors")}`,
    `FROM ${source}`,
    `WHERE NOT ${column("is_bot")}`,
    `GROUP BY ${keys.map((_, index) => index + 1).join(", ")}`,
  ].join("\n");
}

/** The breakdown views, the rollup table each reads, and the columns each breaks the events down by. */
export const BREAKDOWNS: readonly { readonly name: string; readonly rollup: string; readonly dimensions: readonly string[]; readonly description: string }[] = [
  { name: VIEWS.dailyPages, rollup: ROLLUPS.pages, dimensions: ["page_host", "page_path"], description: "Pages (from the Referer, without query) per tenant and UTC day: events and distinct visitors, bots left out." },
  { name: VIEWS.dailyCampaigns, rollup: ROLLUPS.campaigns, dimensions: CAMPAIGN_PARAMETERS, description: "Campaigns (utm_ parameters; all NULL: no campaign) per tenant and UTC day: events and distinct visitors, bots left out." },
  { name: VIEWS.dailyDevices, rollup: ROLLUPS.devices, dimensions: ["browser", "os", "device_type"], description: "Browsers, operating systems and device types per tenant and UTC day: events and distinct visitors, bots left out." },
  { name: VIEWS.dailyCountries, rollup: ROLLUPS.countries, dimensions: ["country"], description: "Countries (IP Geolocation by DB-IP) per tenant and UTC day: events and distinct visitors, bots left out." },
];

/**
 * What each daily view shows and the rollup table that keeps it: the view's description, its
 * columns (the rollup's, less computed_at) and the query that computes them from a FROM item of
 * deduplicated events. core/rollups.ts keeps the tables with these queries; the views read them.
 */
export interface DailyAggregate {
  readonly view: string;
  readonly rollup: string;
  readonly description: string;
  readonly columns: readonly string[];
  /** Which of `columns` are keys (tenant, event_date and the dimensions); the rest are counts. */
  readonly keys: readonly string[];
  query(source: string, dialect: SqlDialect): string;
}

export function dailyAggregates(settings: CoreSettings): readonly DailyAggregate[] {
  const keyed = (keys: readonly string[], counts: readonly string[]) => ({ keys: [TENANT_COLUMN, EVENT_DATE_COLUMN, ...keys], columns: [TENANT_COLUMN, EVENT_DATE_COLUMN, ...keys, ...counts] });
  return [
    {
      view: VIEWS.dailyCounts,
      rollup: ROLLUPS.counts,
      description: "Deduplicated events counted per tenant, UTC day, event type and page (the referer without query string), with bot events, human events and distinct visitors.",
      ...keyed(["event_type", "page"], COUNT_COLUMNS),
      query: (source, dialect) => dailyCountsQuery(settings, source, dialect),
    },
    ...BREAKDOWNS.map((breakdown) => ({
      view: breakdown.name,
      rollup: breakdown.rollup,
      description: breakdown.description,
      ...keyed(breakdown.dimensions, ["events", "visitors"]),
      query: (source: string, dialect: SqlDialect) => breakdownQuery(breakdown.dimensions, source, dialect),
    })),
    {
      view: VIEWS.dailyTotals,
      rollup: ROLLUPS.totals,
      description: "Deduplicated events per tenant and UTC day, with bot events, human events and the day's distinct visitors of the whole tenant (add days up, never the rows of the other daily views).",
      ...keyed([], COUNT_COLUMNS),
      query: (source, dialect) => dailyTotalsQuery(source, dialect),
    },
  ];
}

/** A daily view: its rollup table's columns but computed_at, so the view keeps the columns it had before the rollups. */
export function dailyViewQuery(aggregate: DailyAggregate, dialect: SqlDialect): string {
  return ["SELECT", aggregate.columns.map((name) => `  ${dialect.identifier(name)}`).join(",\n"), `FROM ${dialect.table(aggregate.rollup)}`].join("\n");
}

export interface ViewDefinition {
  readonly name: string;
  readonly description: string;
  readonly query: string;
}

/** The views in the order they must be created, each reading the one before; the daily views need the rollup tables. */
export function viewQueries(settings: CoreSettings, dialect: WildcardDialect): readonly ViewDefinition[] {
  return [
    {
      name: VIEWS.events,
      description: "Every event with its tenant and UTC day (event_date), in either layout. Redelivered duplicates included: see events_dedup.",
      query: eventsQuery(settings, dialect),
    },
    ...viewsOverEvents(settings, dialect),
  ];
}

/** The views after `events`, the same in every layout and store: what the local database creates as they are. */
export function viewsOverEvents(settings: CoreSettings, dialect: SqlDialect): readonly ViewDefinition[] {
  return [
    {
      name: VIEWS.dedup,
      description: "The events view with one row per insert_id: copies from Pub/Sub redelivery or replay removed.",
      query: dedupQuery(dialect),
    },
    ...dailyAggregates(settings).map((aggregate) => ({ name: aggregate.view, description: aggregate.description, query: dailyViewQuery(aggregate, dialect) })),
  ];
}

/** A row filter that keeps one tenant's events: a row access policy's predicate. */
export function tenantFilter(tenant: string, dialect: SqlDialect): string {
  return `${dialect.identifier(TENANT_COLUMN)} = ${dialect.string(tenant)}`;
}

/**
 * One tenant's events, for an authorized view in a dataset of its own (docs/analytics.md). With
 * per-tenant-day, the range on _TABLE_SUFFIX holds exactly that tenant's day tables (an encoded
 * tenant never contains "_"), and BigQuery reads no other table.
 */
export function tenantEventsQuery(settings: CoreSettings, tenant: string, dialect: WildcardDialect): string {
  if (settings.layout === "partitioned") return `${partitionedEventsQuery(dialect)}\nWHERE ${tenantFilter(tenant, dialect)}`;
  const encoded = encodeTenant(tenant);
  return [
    "SELECT",
    `  ${dialect.wildcardColumns},`,
    `  ${dialect.string(tenant)} AS ${dialect.identifier(TENANT_COLUMN)},`,
    `  ${dialect.dateFromDigits(SUFFIX_DAY)} AS ${dialect.identifier(EVENT_DATE_COLUMN)}`,
    `FROM ${dialect.tablesStartingWith(settings.templateTable)}`,
    `WHERE _TABLE_SUFFIX BETWEEN '_${encoded}_00000000' AND '_${encoded}_99999999'`,
  ].join("\n");
}

/** Whether `text` is a real day as YYYY-MM-DD (not 2026-02-30): what ranges of UTC days are made of. */
export function isUtcDay(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;
}

/** One tenant over a range of UTC days, both ends included, as YYYY-MM-DD. */
export interface TenantRange {
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
}

/** Only this tenant's days; on the partitioned table the filter prunes to them. */
function tenantRangeFilter(range: TenantRange, dialect: SqlDialect): string {
  const column = (name: string) => dialect.identifier(name);
  return `${tenantFilter(range.tenant, dialect)} AND ${column(EVENT_DATE_COLUMN)} BETWEEN DATE ${dialect.string(range.from)} AND DATE ${dialect.string(range.to)}`;
}

/**
 * What a tenant's range adds up to, from its days in rollup_totals: a few rows however many events.
 * Visitor ids are daily (core/visitor.ts), so the visitors of a range are visitor-days: the same
 * person on two days counts twice, as the sum of the days' rows does. The totals, the days and the
 * breakdowns below come from rollups of the same run, so they count the same events.
 */
export function rangeTotalsQuery(range: TenantRange, dialect: SqlDialect): string {
  const column = (name: string) => dialect.identifier(name);
  // SUM over no rows is NULL; an empty range has zero of each.
  const sum = (name: string) => `COALESCE(SUM(${column(name)}), 0) AS ${column(name)}`;
  return ["SELECT", `  ${["events", "bot_events", "visitors"].map(sum).join(",\n  ")}`, `FROM ${dialect.table(ROLLUPS.totals)}`, `WHERE ${tenantRangeFilter(range, dialect)}`].join("\n");
}

/** Per UTC day of the range that has events: the events of people, of bots, and the day's visitors of the tenant. */
export function rangeDaysQuery(range: TenantRange, dialect: SqlDialect): string {
  const column = (name: string) => dialect.identifier(name);
  return [
    "SELECT",
    `  ${[EVENT_DATE_COLUMN, "human_events", "bot_events", "visitors"].map(column).join(",\n  ")}`,
    `FROM ${dialect.table(ROLLUPS.totals)}`,
    `WHERE ${tenantRangeFilter(range, dialect)}`,
    "ORDER BY 1",
  ].join("\n");
}

/** The `limit` most frequent values of a breakdown's dimensions over the range, with their events and visitor-days, from its rollup. */
export function rangeBreakdownQuery(breakdown: (typeof BREAKDOWNS)[number], range: TenantRange, dialect: SqlDialect, limit: number): string {
  const column = (name: string) => dialect.identifier(name);
  const { dimensions } = breakdown;
  return [
    "SELECT",
    ...dimensions.map((dimension) => `  ${column(dimension)},`),
    `  SUM(${column("events")}) AS ${column("events")},`,
    `  SUM(${column("visitors")}) AS ${column("visitors")}`,
    `FROM ${dialect.table(breakdown.rollup)}`,
    `WHERE ${tenantRangeFilter(range, dialect)}`,
    `GROUP BY ${dimensions.map((_, index) => index + 1).join(", ")}`,
    // Ties in the order of the dimensions, so the top rows are the same on every read.
    `ORDER BY ${column("events")} DESC, ${column("visitors")} DESC, ${dimensions.map((_, index) => index + 1).join(", ")}`,
    `LIMIT ${Math.trunc(limit)}`,
  ].join("\n");
}

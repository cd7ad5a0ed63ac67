import type { CoreSettings } from "./config/coreSettings";
import { EVENT_DATE_COLUMN, PARTITIONED_TABLE, TABLE_NAME_COLUMNS, TENANT_COLUMN } from "./layout";
import { STANDARD_COLUMNS } from "./schema";
import type { SchemaField } from "./schema";
import { bigQueryDialect, COUNT_COLUMNS, dailyAggregates, dedupQuery, googleSqlString, isUtcDay, perTenantDayEventsQuery } from "./views";
import type { DailyAggregate, SqlDialect, WildcardDialect } from "./views";

/**
 * The rollup tables: the daily answers (core/views.ts dailyAggregates) kept as tables, one row per
 * tenant, UTC day and key, so a report reads kilobytes of aggregates instead of its range's raw
 * events on every refresh. The daily_* views read them. A run recomputes a range of days, whole or
 * for some tenants only, in one transaction, from the deduplicated events of those days only;
 * BigQuery runs it as a scheduled query (infra/) and `npm run rollup` for older days, whole days
 * both, and the local loader for the tenants' days each batch touched. Pure: SQL text and schemas
 * only.
 */

/** When the row was computed: the rollups are as fresh as their last run. */
export const COMPUTED_AT_COLUMN = "computed_at";

/** A rollup table as BigQuery and DuckDB create it. */
export interface RollupTable {
  readonly name: string;
  /** The daily_* view that reads it. */
  readonly view: string;
  readonly description: string;
  /** Its columns: the aggregate's, then computed_at. */
  readonly schema: readonly SchemaField[];
  /** BigQuery partitions by this DATE column... */
  readonly partitionColumn: typeof EVENT_DATE_COLUMN;
  /** ...and clusters by these. */
  readonly clusterColumns: readonly string[];
}

/**
 * Visitor ids change every UTC day (core/visitor.ts), so a row's visitors are that day's: summed
 * over days they are visitor-days, and they never add up across rows, as one visitor may be on
 * several pages, devices or campaigns of a day.
 */
const ROW_VISITORS =
  "Distinct visitors of this row's tenant, day and key, bots left out. Visitor ids change every UTC day, so a sum over days of one row counts visitor-days; never add rows of one day up (a visitor on two pages is in both): the day's visitors of the whole tenant are in rollup_totals.";
const TENANT_VISITORS =
  "The day's distinct visitors of the whole tenant, bots left out. Visitor ids change every UTC day, so a sum over days counts visitor-days: a person seen on two days counts twice.";

const STANDARD_DESCRIPTIONS = new Map(STANDARD_COLUMNS.map((column) => [column.name, column.description]));
const KEY_DESCRIPTIONS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(TABLE_NAME_COLUMNS.map((column) => [column.name, column.description])),
  event_type: "The event type: the value of the stack's eventTypeAttribute, as text; NULL without one.",
  page: "The page: the Referer without query string or fragment.",
};
const COUNT_DESCRIPTIONS: Readonly<Record<(typeof COUNT_COLUMNS)[number], string>> = {
  events: "Deduplicated events (one per insert_id), bots included.",
  bot_events: "Events whose user agent is a crawler, monitor or script, or missing (is_bot).",
  email_proxy_events: "Events fetched by an e-mail image proxy (email_proxy): prefetches, not opens.",
  human_events: "Events of people: events less bot_events.",
  visitors: ROW_VISITORS,
};

function rollupSchema(aggregate: DailyAggregate, totals: boolean): SchemaField[] {
  const keys = new Set(aggregate.keys);
  const breakdown = !aggregate.columns.includes("human_events");
  const fields = aggregate.columns.map((name): SchemaField => {
    if (keys.has(name)) {
      const required = name === TENANT_COLUMN || name === EVENT_DATE_COLUMN;
      return { name, type: name === EVENT_DATE_COLUMN ? "DATE" : "STRING", mode: required ? "REQUIRED" : "NULLABLE", description: KEY_DESCRIPTIONS[name] ?? STANDARD_DESCRIPTIONS.get(name) ?? name };
    }
    const description =
      name === "visitors" ? (totals ? TENANT_VISITORS : ROW_VISITORS) : name === "events" && breakdown ? "Deduplicated events of people (one per insert_id), bots left out." : COUNT_DESCRIPTIONS[name as keyof typeof COUNT_DESCRIPTIONS];
    return { name, type: "INT64", mode: "REQUIRED", description };
  });
  return [...fields, { name: COMPUTED_AT_COLUMN, type: "TIMESTAMP", mode: "REQUIRED", description: "When this row was computed (UTC): the rollup run that last replaced its day." }];
}

/** The rollup tables, in the order of the daily views that read them. */
export function rollupTables(settings: CoreSettings): readonly RollupTable[] {
  return dailyAggregates(settings).map((aggregate) => ({
    name: aggregate.rollup,
    view: aggregate.view,
    description: `The rollup that ${aggregate.view} reads: ${aggregate.description} Recomputed a day at a time; computed_at says when.`,
    schema: rollupSchema(aggregate, aggregate.keys.length === 2),
    partitionColumn: EVENT_DATE_COLUMN,
    clusterColumns: [TENANT_COLUMN],
  }));
}

/** A range's first or last UTC day: a date (YYYY-MM-DD), or a GoogleSQL DATE expression such as `@run_date`. */
export type DayBound = { readonly date: string } | { readonly sql: string };

/** Both ends included. */
export interface DayRange<Bound = string> {
  readonly from: Bound;
  readonly to: Bound;
}

/** A DATE literal of a YYYY-MM-DD day, checked, so a bound never carries anything but a date. */
export function dateLiteral(day: string, dialect: SqlDialect): string {
  if (!isUtcDay(day)) throw new Error(`${JSON.stringify(day)} is not a day as YYYY-MM-DD`);
  return `DATE ${dialect.string(day)}`;
}

/**
 * The distinct days (YYYY-MM-DD) as the fewest ranges of consecutive days, in order: a batch's
 * late event recomputes its own day, not every day between it and today.
 */
export function consecutiveDays(days: Iterable<string>): DayRange[] {
  const ranges: { from: string; to: string }[] = [];
  for (const day of [...new Set(days)].sort()) {
    const last = ranges.at(-1);
    if (last && Date.parse(`${day}T00:00:00Z`) - Date.parse(`${last.to}T00:00:00Z`) === 86_400_000) last.to = day;
    else ranges.push({ from: day, to: day });
  }
  return ranges;
}

/**
 * The most tenants one recompute lists: beyond it, the days are recomputed for every tenant, so a
 * batch of many tenants never builds a statement with an IN list of thousands of literals.
 */
export const MAX_LISTED_TENANTS = 200;

/** Days to recompute, for the tenants listed, or for every tenant when there is no list. */
export interface RollupScope {
  readonly days: DayRange;
  readonly tenants?: readonly string[];
}

/**
 * The (tenant, day) pairs a batch touched as scopes that recompute exactly them: consecutive days
 * with the same tenants share one scope (a batch of one tenant's events of today and yesterday is
 * one); a day with more than `maxTenants` tenants is recomputed for every tenant. In order of their
 * first day.
 */
export function touchedRollupScopes(touched: Iterable<{ readonly tenant: string; readonly day: string }>, maxTenants = MAX_LISTED_TENANTS): RollupScope[] {
  const tenantsByDay = new Map<string, Set<string>>();
  for (const { tenant, day } of touched) tenantsByDay.set(day, (tenantsByDay.get(day) ?? new Set()).add(tenant));
  const daysByTenants = new Map<string, { tenants?: string[]; days: string[] }>();
  for (const [day, tenantSet] of tenantsByDay) {
    const tenants = tenantSet.size > maxTenants ? undefined : [...tenantSet].sort();
    const key = JSON.stringify(tenants ?? null);
    const group = daysByTenants.get(key) ?? { tenants, days: [] };
    group.days.push(day);
    daysByTenants.set(key, group);
  }
  const scopes = [...daysByTenants.values()].flatMap(({ tenants, days }) => consecutiveDays(days).map((range): RollupScope => (tenants ? { days: range, tenants } : { days: range })));
  return scopes.sort((a, b) => (a.days.from < b.days.from ? -1 : a.days.from > b.days.from ? 1 : 0));
}

/** The time a run stamps on its rows, in each dialect's words. */
export interface RollupDialect extends SqlDialect {
  /** The current time as a TIMESTAMP in UTC; in a BigQuery transaction, its start. */
  readonly currentTimestamp: string;
}

/**
 * The rows of the range's days (`days`: DATE expressions), of every tenant or of the `tenants`
 * listed: a rollup row is one tenant's day, computed from that tenant's events of the day alone,
 * so a recompute limited to some tenants leaves the other tenants' rows as they are.
 */
function daysAndTenants(days: DayRange, dialect: SqlDialect, tenants?: readonly string[]): string {
  const range = `${dialect.identifier(EVENT_DATE_COLUMN)} BETWEEN ${days.from} AND ${days.to}`;
  if (tenants === undefined) return range;
  if (tenants.length === 0) throw new Error("The tenants to recompute are an empty list: list at least one tenant, or pass none to recompute every tenant of the days.");
  return `${range} AND ${dialect.identifier(TENANT_COLUMN)} IN (${tenants.map((tenant) => dialect.string(tenant)).join(", ")})`;
}

/** The DELETE of the range's days (of the `tenants` listed, or every tenant) from each rollup table: the first half of replacing them. */
export function rollupDeletes(settings: CoreSettings, days: DayRange, dialect: SqlDialect, tenants?: readonly string[]): string[] {
  return dailyAggregates(settings).map((aggregate) => `DELETE FROM ${dialect.table(aggregate.rollup)} WHERE ${daysAndTenants(days, dialect, tenants)}`);
}

/** The INSERT of each rollup table's rows computed from `source`, a FROM item of the deduplicated events of exactly the range's days. */
export function rollupInserts(settings: CoreSettings, source: string, dialect: RollupDialect): string[] {
  return dailyAggregates(settings).map((aggregate) => insertStatement(aggregate, source, dialect));
}

function insertStatement(aggregate: DailyAggregate, source: string, dialect: RollupDialect): string {
  const columns = [...aggregate.columns, COMPUTED_AT_COLUMN].map((name) => dialect.identifier(name)).join(", ");
  return `INSERT INTO ${dialect.table(aggregate.rollup)} (${columns})\nSELECT *, ${dialect.currentTimestamp}\nFROM (\n${aggregate.query(source, dialect)}\n)`;
}

/**
 * The deduplicated events of the days (of the `tenants` listed, or every tenant) in a table that
 * stores tenant and event_date: the partitioned table, in BigQuery and locally. A constant range on
 * the partitioning column is what BigQuery prunes partitions by, and what requirePartitionFilter
 * asks for (https://cloud.google.com/bigquery/docs/querying-partitioned-tables).
 */
export function partitionedSource(days: DayRange, dialect: SqlDialect, tenants?: readonly string[]): string {
  return `(\n${dedupQuery(dialect, dialect.table(PARTITIONED_TABLE), daysAndTenants(days, dialect, tenants))}\n)`;
}

/**
 * The statements that replace days of every rollup from the partitioned table, whole or only the
 * rows of the `tenants` listed, deletes first: run together in one transaction, a run repeated gives
 * the same rows (but computed_at), and a run that fails leaves the old ones. What the local
 * database runs, and BigQuery in that layout.
 */
export function partitionedRollupStatements(settings: CoreSettings, days: DayRange, dialect: RollupDialect, tenants?: readonly string[]): string[] {
  return [...rollupDeletes(settings, days, dialect, tenants), ...rollupInserts(settings, partitionedSource(days, dialect, tenants), dialect)];
}

/** Script variables: a name starting with "_" can be no column (attribute names start with a letter), so none hides them. */
const FIRST_DAY = "_first_day";
const LAST_DAY = "_last_day";
const DAY_TABLE_SUFFIXES = "_day_table_suffixes";
/** Where the per-tenant-day INSERT takes the list of its day tables' suffixes. */
const SUFFIX_LIST_MARK = "__DAY_TABLE_SUFFIX_LIST__";
/** Where the partitioned INSERT takes its first and last day, as constants. */
const FIRST_DAY_MARK = "__FIRST_DAY__";
const LAST_DAY_MARK = "__LAST_DAY__";

/**
 * EXECUTE IMMEDIATE of `statement` with each mark replaced by the value of a script expression, so
 * that what the statement reads is named by constants when it runs: BigQuery limits what it reads
 * by constant predicates only (partitions and wildcard tables alike), and a script variable is not
 * documented as one.
 */
function executeWithConstants(statement: string, values: readonly (readonly [mark: string, expression: string])[]): string {
  const expressions = new Map(values);
  const pattern = new RegExp(values.map(([mark]) => mark).join("|"), "g");
  const parts: string[] = [];
  let start = 0;
  for (const match of statement.matchAll(pattern)) {
    parts.push(googleSqlString(statement.slice(start, match.index)), expressions.get(match[0])!);
    start = match.index + match[0].length;
  }
  parts.push(googleSqlString(statement.slice(start)));
  return `EXECUTE IMMEDIATE ${parts.join(" || ")};`;
}

/**
 * per-tenant-day: the deduplicated events of the day tables whose suffixes `suffixList` holds, as
 * quoted literals. A `_TABLE_SUFFIX` condition of constants limits the tables a wildcard reads;
 * a filter on the events view's event_date does not, nor REGEXP_CONTAINS
 * (https://cloud.google.com/bigquery/docs/querying-wildcard-tables#filter_selected_tables_using_table_suffix).
 */
export function dayTablesSource(settings: CoreSettings, suffixList: string, dialect: WildcardDialect): string {
  return `(\n${dedupQuery(dialect, `(\n${perTenantDayEventsQuery(settings.templateTable, dialect, `_TABLE_SUFFIX IN (${suffixList})`)}\n)`)}\n)`;
}

/**
 * per-tenant-day: the suffixes of the day tables of the range, as one text of quoted literals
 * separated by commas (NULL when there are none), from the dataset's INFORMATION_SCHEMA.TABLES
 * (https://cloud.google.com/bigquery/docs/information-schema-tables). Only names the core
 * produces, `<template>_<encoded tenant>_<YYYYMMDD>`, whose alphabet needs no escaping.
 */
export function dayTableSuffixesQuery(settings: CoreSettings, project: string, dataset: string, days: DayRange): string {
  const start = settings.templateTable.length + 1;
  return [
    `SELECT STRING_AGG(FORMAT("'%s'", SUBSTR(table_name, ${start})), ', ' ORDER BY table_name)`,
    `FROM \`${project}.${dataset}.INFORMATION_SCHEMA.TABLES\``,
    `WHERE STARTS_WITH(table_name, ${googleSqlString(`${settings.templateTable}_`)})`,
    `  AND REGEXP_CONTAINS(SUBSTR(table_name, ${start}), r'^_[A-Za-z0-9]+_[0-9]{8}$')`,
    `  AND SAFE.PARSE_DATE('%Y%m%d', SUBSTR(table_name, -8)) BETWEEN ${days.from} AND ${days.to}`,
  ].join("\n");
}

/** GoogleSQL with the time of the transaction, as every rollup row of one BigQuery run is stamped. */
export function bigQueryRollupDialect(project: string, dataset: string): WildcardDialect & RollupDialect {
  return { ...bigQueryDialect(project, dataset), currentTimestamp: "CURRENT_TIMESTAMP()" };
}

/**
 * The BigQuery per-tenant-day INSERT statements, each split where a run puts its list of day
 * table suffixes (quoted literals separated by commas): the script joins the parts in SQL, tests
 * with sample lists.
 */
export function dayTablesInserts(settings: CoreSettings, project: string, dataset: string): { readonly before: string; readonly after: string }[] {
  const dialect = bigQueryRollupDialect(project, dataset);
  return rollupInserts(settings, dayTablesSource(settings, SUFFIX_LIST_MARK, dialect), dialect).map((insert) => {
    const [before, after] = insert.split(SUFFIX_LIST_MARK);
    return { before, after };
  });
}

function boundSql(bound: DayBound, dialect: SqlDialect): string {
  return "date" in bound ? dateLiteral(bound.date, dialect) : bound.sql;
}

/**
 * The BigQuery script that recomputes every rollup for a range of days, in the stack's layout: the
 * scheduled query's text (bounds such as `DATE_SUB(@run_date, INTERVAL 2 DAY)`) and what
 * `npm run rollup` runs (dates). The bounds are evaluated once, so every statement covers the same
 * days. Reads only those days: in the partitioned layout, a range on event_date; per-tenant-day,
 * the day tables listed from INFORMATION_SCHEMA.TABLES, read through the wildcard with a
 * `_TABLE_SUFFIX IN (...)` list of constants built for the run (EXECUTE IMMEDIATE:
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/procedural-language#execute_immediate).
 * The days are replaced in one multi-statement transaction: an error rolls all of it back
 * (https://cloud.google.com/bigquery/docs/transactions). Two runs over the same table at once
 * conflict, and BigQuery aborts one of them: the caller retries (cli/rollup.ts), a scheduled run
 * recomputes on its next run.
 */
export function bigQueryRollupScript(settings: CoreSettings, project: string, dataset: string, days: DayRange<DayBound>, options: { countRows?: boolean } = {}): string {
  const dialect = bigQueryRollupDialect(project, dataset);
  const variables = { from: FIRST_DAY, to: LAST_DAY };
  const lines = [
    `DECLARE ${FIRST_DAY} DATE DEFAULT ${boundSql(days.from, dialect)};`,
    `DECLARE ${LAST_DAY} DATE DEFAULT ${boundSql(days.to, dialect)};`,
  ];
  // A script's result is its last statement's: the rows the run left in its days, for `npm run rollup`'s summary.
  const counted = (script: string[]) => (options.countRows ? [...script, `${rollupRowCountQuery(settings, variables, dialect)};`] : script).join("\n");
  if (settings.layout === "partitioned") {
    // The event table may require a partition filter, which only a constant range satisfies: the INSERTs get the days as literals.
    const constantDays = [[FIRST_DAY_MARK, `FORMAT('%T', ${FIRST_DAY})`], [LAST_DAY_MARK, `FORMAT('%T', ${LAST_DAY})`]] as const;
    const inserts = rollupInserts(settings, partitionedSource({ from: FIRST_DAY_MARK, to: LAST_DAY_MARK }, dialect), dialect);
    lines.push("BEGIN TRANSACTION;", ...rollupDeletes(settings, variables, dialect).map((statement) => `${statement};`));
    lines.push(...inserts.map((insert) => executeWithConstants(insert, constantDays)), "COMMIT TRANSACTION;");
    return counted(lines);
  }
  // INFORMATION_SCHEMA is read before the transaction: the list is only the names of the day tables to read.
  lines.push(`DECLARE ${DAY_TABLE_SUFFIXES} STRING DEFAULT (\n${dayTableSuffixesQuery(settings, project, dataset, variables)}\n);`);
  lines.push("BEGIN TRANSACTION;", ...rollupDeletes(settings, variables, dialect).map((statement) => `${statement};`));
  // Days without a day table keep no rows: the DELETE alone replaces them.
  lines.push(`IF ${DAY_TABLE_SUFFIXES} IS NOT NULL THEN`);
  for (const insert of rollupInserts(settings, dayTablesSource(settings, SUFFIX_LIST_MARK, dialect), dialect)) {
    lines.push(`  ${executeWithConstants(insert, [[SUFFIX_LIST_MARK, DAY_TABLE_SUFFIXES]])}`);
  }
  lines.push("END IF;", "COMMIT TRANSACTION;");
  return counted(lines);
}

/** The rows every rollup table holds for the range's days, as one number `rows_written`: read from the rollups alone. */
export function rollupRowCountQuery(settings: CoreSettings, days: DayRange, dialect: SqlDialect): string {
  const counts = dailyAggregates(settings).map(
    (aggregate) => `(SELECT COUNT(*) FROM ${dialect.table(aggregate.rollup)} WHERE ${dialect.identifier(EVENT_DATE_COLUMN)} BETWEEN ${days.from} AND ${days.to})`,
  );
  return `SELECT ${counts.join("\n  + ")} AS ${dialect.identifier("rows_written")}`;
}

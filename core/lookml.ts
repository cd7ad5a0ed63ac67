import type { CoreSettings } from "./config/coreSettings";
import { CONFIG_NAMESPACE, ConfigError } from "./config/fields";
import { EVENT_DATE_COLUMN, partitionedSchema, ROLLUPS, TENANT_COLUMN, TABLE_NAME_COLUMNS, VIEWS } from "./layout";
import { COMPUTED_AT_COLUMN, rollupTables } from "./rollups";
import { templateSchema } from "./schema";
import type { SchemaField } from "./schema";
import { bigQueryDialect, dailyAggregates, dedupQuery, perTenantDayEventsQuery } from "./views";
import type { WildcardDialect } from "./views";

/**
 * A LookML project for a stack (docs/looker.md), generated from the one schema source so that it
 * cannot drift from the tables: a manifest with the connection, project and dataset as constants,
 * a model with its explores, a view per rollup table and one over the deduplicated events. Pure:
 * it returns the files' text; cli/lookml.ts writes them.
 */

/** What the project needs besides the stack's core settings. */
export interface LookmlSettings {
  /** The Looker connection's name: the manifest constant `connection`. */
  readonly connection: string;
  /** The Google Cloud project and BigQuery dataset: the constants `gcp_project` and `dataset`. */
  readonly project: string;
  readonly dataset: string;
  /** When set, every explore keeps each user to the tenant this Looker user attribute names. */
  readonly tenantUserAttribute?: string;
}

/** A table the project reads pre-aggregated: its columns from the schema source, and which of them make a row unique. */
export interface AggregateTable {
  readonly name: string;
  readonly description: string;
  readonly schema: readonly SchemaField[];
  readonly keys: readonly string[];
}

export interface LookmlFile {
  /** Relative to the project's root, with `/`. */
  readonly path: string;
  readonly content: string;
}

/** An attribute shown under another name in LookML; its column keeps its own. */
export interface RenamedField {
  readonly view: string;
  readonly column: string;
  readonly field: string;
}

export interface LookmlProject {
  readonly files: readonly LookmlFile[];
  readonly renamed: readonly RenamedField[];
}

/** The manifest constants the generated SQL names; an importing project may override them. */
export const LOOKML_CONSTANTS = { connection: "connection", project: "gcp_project", dataset: "dataset" } as const;
export const MODEL_NAME = "pixel_pipeline";
/** Refreshes cached results when a rollup run has replaced days (rollups keep computed_at). */
export const ROLLUP_DATAGROUP = "rollup_refresh";
/** The per-tenant-day raw explore's filters: the tenant's encoded form (core/tenant.ts) and a range of UTC days. */
export const RAW_TENANT_PARAMETER = "tenant_code";
export const RAW_DATE_FILTER = "date_range";
/** The hidden dimension each view keeps its rows unique by, for Looker's symmetric aggregates. */
export const ROW_KEY = "row_key";

/** Timeframes of the dimension groups: what an explore can group a day or a time by. */
const DATE_TIMEFRAMES = ["raw", "date", "week", "month", "quarter", "year"];
const TIME_TIMEFRAMES = ["raw", "time", "hour_of_day", "date", "week", "month", "quarter", "year"];

/** A LookML field name: a lower-case letter, then lower-case letters, digits and _ (Looker's rule for field names). */
const FIELD_NAME = /^[a-z][a-z0-9_]*$/;

const constant = (name: keyof typeof LOOKML_CONSTANTS) => `@{${LOOKML_CONSTANTS[name]}}`;

/** GoogleSQL as the views' SQL names tables: through the manifest constants, so an importing project can point them elsewhere. */
export function lookmlDialect(): WildcardDialect {
  return bigQueryDialect(constant("project"), constant("dataset"));
}

/** A LookML string: double quotes, with quotes and backslashes escaped. */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (character) => `\\${character}`).replace(/\s+/g, " ")}"`;
}

/** "utm_source" -> "Utm Source": what Looker would show, made explicit so renamed attributes keep their own label. */
function labelOf(name: string): string {
  return name
    .split("_")
    .filter((part) => part !== "")
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join(" ");
}

function block(kind: string, name: string | undefined, lines: readonly string[], indent = "  "): string {
  const head = name === undefined ? `${kind}: {` : `${kind}: ${name} {`;
  // A line may be a nested block of several lines: each is indented one more step.
  const body = lines.flatMap((line) => line.split("\n")).map((line) => `${indent}  ${line}`);
  return [`${indent}${head}`, ...body, `${indent}}`].join("\n");
}

/** The fields one column adds: a dimension, or a dimension group for a DATE or TIMESTAMP. */
interface ColumnField {
  readonly column: SchemaField;
  /** The LookML name: the column's, unless renamed. */
  readonly name: string;
}

/** The field names a dimension group declares: one per timeframe. */
function groupFieldNames(field: ColumnField): string[] {
  const timeframes = field.column.type === "DATE" ? DATE_TIMEFRAMES : field.column.type === "TIMESTAMP" ? TIME_TIMEFRAMES : undefined;
  return timeframes ? timeframes.map((timeframe) => `${field.name}_${timeframe}`) : [field.name];
}

function columnSql(column: string): string {
  return `\${TABLE}.\`${column}\``;
}

function dimensionText(field: ColumnField, hidden = false): string {
  const { column } = field;
  const common = [
    `label: ${quoted(labelOf(column.name))}`,
    `description: ${quoted(field.name === column.name ? column.description : `${column.description} (Column ${column.name}.)`)}`,
    ...(hidden ? ["hidden: yes"] : []),
  ];
  if (column.type === "DATE") {
    return block("dimension_group", field.name, [
      "type: time",
      `timeframes: [${DATE_TIMEFRAMES.join(", ")}]`,
      "datatype: date",
      "convert_tz: no",
      ...common,
      `sql: ${columnSql(column.name)} ;;`,
    ]);
  }
  if (column.type === "TIMESTAMP") {
    return block("dimension_group", field.name, ["type: time", `timeframes: [${TIME_TIMEFRAMES.join(", ")}]`, "datatype: timestamp", ...common, `sql: ${columnSql(column.name)} ;;`]);
  }
  const type = column.type === "STRING" ? "string" : column.type === "BOOL" ? "yesno" : "number";
  return block("dimension", field.name, [`type: ${type}`, ...common, `sql: ${columnSql(column.name)} ;;`]);
}

/**
 * The hidden primary key: the row's key columns as one JSON text. A STRUCT keeps NULL apart from
 * every string (the campaign row whose utm_* are all NULL), and JSON quoting keeps any separator
 * inside a value from joining two values into one.
 */
function rowKeyText(keys: readonly string[]): string {
  const parts = keys.map((key) => `${columnSql(key)} AS \`${key}\``).join(", ");
  return block("dimension", ROW_KEY, [
    "primary_key: yes",
    "hidden: yes",
    "type: string",
    `description: ${quoted(`Unique per row: its ${keys.join(", ")} as JSON text.`)}`,
    `sql: TO_JSON_STRING(STRUCT(${parts})) ;;`,
  ]);
}

interface Measure {
  readonly name: string;
  readonly lines: readonly string[];
}

/**
 * Names the columns' fields: a column keeps its name when LookML allows it and no generated field
 * has it; otherwise an attribute is shown as `attribute_<name>` (lower case), its column kept. A
 * name that stays taken even so is refused, with the attribute to rename.
 */
function nameColumns(view: string, columns: readonly SchemaField[], attributeNames: ReadonlySet<string>, generated: readonly string[]): { fields: ColumnField[]; renamed: RenamedField[] } {
  const taken = new Set(generated);
  const fields: ColumnField[] = [];
  const renamed: RenamedField[] = [];
  const standard = columns.filter((column) => !attributeNames.has(column.name));
  // Standard columns first: their names are fixed, and attributes give way to them.
  for (const column of standard) {
    const field = { column, name: column.name };
    groupFieldNames(field).forEach((name) => taken.add(name));
    fields.push(field);
  }
  for (const column of columns.filter((candidate) => attributeNames.has(candidate.name))) {
    const lower = column.name.toLowerCase();
    const fits = (name: string) => FIELD_NAME.test(name) && groupFieldNames({ column, name }).every((part) => !taken.has(part));
    const name = column.name === lower && fits(lower) ? lower : `attribute_${lower}`;
    if (!fits(name)) {
      throw new ConfigError([
        `${CONFIG_NAMESPACE}:attributes.${column.name}: LookML cannot show it in ${view} as "${lower}" nor as "${name}", which other fields of the view already use; rename the attribute.`,
      ]);
    }
    groupFieldNames({ column, name }).forEach((part) => taken.add(part));
    fields.push({ column, name });
    if (name !== column.name) renamed.push({ view, column: column.name, field: name });
  }
  // Keep the schema's column order.
  const order = new Map(columns.map((column, index) => [column.name, index]));
  fields.sort((a, b) => (order.get(a.column.name) ?? 0) - (order.get(b.column.name) ?? 0));
  return { fields, renamed };
}

function measureText(measure: Measure): string {
  return block("measure", measure.name, measure.lines);
}

/** The bot share of `events`, as a percentage of them. */
function botShare(botEvents: string, events: string): Measure {
  return {
    name: "bot_share",
    lines: [
      "type: number",
      'label: "Bot Share"',
      `description: ${quoted("Bot events as a share of all events (crawlers, monitors, scripts, and requests without a user agent).")}`,
      "value_format_name: percent_1",
      `sql: SAFE_DIVIDE(\${${botEvents}}, \${${events}}) ;;`,
    ],
  };
}

/** A rollup table's measures: the sum of each count column, with the schema's description, and the bot share where it has both counts. */
function aggregateMeasures(table: AggregateTable, drillFields: readonly string[]): Measure[] {
  const keys = new Set(table.keys);
  const counts = table.schema.filter((column) => !keys.has(column.name) && column.type === "INT64");
  const measures: Measure[] = counts.map((column) => ({
    name: column.name,
    lines: [
      "type: sum",
      `label: ${quoted(labelOf(column.name))}`,
      `description: ${quoted(column.description)}`,
      `sql: ${columnSql(column.name)} ;;`,
      `drill_fields: [${drillFields.join(", ")}]`,
    ],
  }));
  const names = new Set(counts.map((column) => column.name));
  if (names.has("bot_events") && names.has("events")) measures.push(botShare("bot_events", "events"));
  return measures;
}

/** The fields a drill shows: the tenant, the day, then the row's other key columns. */
function drillFieldsOf(fields: readonly ColumnField[], keys: readonly string[]): string[] {
  return keys.map((key) => {
    const field = fields.find((candidate) => candidate.column.name === key);
    if (!field) throw new Error(`key ${key} is not a column`);
    return field.column.type === "DATE" ? `${field.name}_date` : field.name;
  });
}

function viewFile(name: string, header: string, source: readonly string[], fields: readonly ColumnField[], keys: readonly string[], measures: (drill: readonly string[]) => Measure[], extra: readonly string[] = []): LookmlFile {
  const drill = drillFieldsOf(fields, keys);
  const body = [
    ...source.map((line) => `  ${line}`),
    ...extra,
    rowKeyText(keys),
    ...fields.map((field) => dimensionText(field)),
    ...measures(drill).map(measureText),
  ];
  return { path: `views/${name}.view.lkml`, content: `${header}\nview: ${name} {\n${body.join("\n\n")}\n}\n` };
}

/**
 * encodeTenant (core/tenant.ts) in GoogleSQL, for the code the raw explore asks for: each
 * character outside a-z and 0-9 becomes X and the hex digits of each of its UTF-8 bytes.
 */
function tenantCodeSql(tenant: string): string {
  const bytesOf = "(SELECT STRING_AGG(FORMAT('X%02X', byte), '' ORDER BY byte_position) FROM UNNEST(TO_CODE_POINTS(CAST(character AS BYTES))) AS byte WITH OFFSET AS byte_position)";
  const characters = `ARRAY(SELECT IF(REGEXP_CONTAINS(character, r'^[a-z0-9]$'), character, ${bytesOf}) FROM UNNEST(SPLIT(${tenant}, '')) AS character WITH OFFSET AS position ORDER BY position)`;
  return `IF(REGEXP_CONTAINS(${tenant}, r'^[a-z0-9]*$'), ${tenant}, ARRAY_TO_STRING(${characters}, ''))`;
}

/** The tenant code: a dimension of the rollups, and what the raw explore asks for. */
const TENANT_CODE_FIELD = RAW_TENANT_PARAMETER;

function tenantCodeText(): string {
  return block("dimension", TENANT_CODE_FIELD, [
    "type: string",
    'label: "Tenant Code"',
    `description: ${quoted("The tenant as the day tables name it, for the Raw Events explore: itself when it has only a-z and 0-9, else each other character as X and the hex digits of its UTF-8 bytes.")}`,
    `sql: ${tenantCodeSql(columnSql(TENANT_COLUMN))} ;;`,
  ]);
}

function aggregateView(table: AggregateTable, header: string, attributeNames: ReadonlySet<string>): { file: LookmlFile; renamed: RenamedField[] } {
  const keys = new Set(table.keys);
  const dimensions = table.schema.filter((column) => keys.has(column.name) || column.type !== "INT64");
  const generatedMeasures = aggregateMeasures(table, []).map((measure) => measure.name);
  const { fields, renamed } = nameColumns(table.name, dimensions, attributeNames, [ROW_KEY, TENANT_CODE_FIELD, ...generatedMeasures]);
  const source = [`description: ${quoted(table.description)}`, `sql_table_name: ${lookmlDialect().table(table.name)} ;;`];
  return { file: viewFile(table.name, header, source, fields, table.keys, (drill) => aggregateMeasures(table, drill), [tenantCodeText()]), renamed };
}

/** The deduplicated events' measures, counted from their rows. */
function eventMeasures(drill: readonly string[]): Measure[] {
  const drillLine = `drill_fields: [${drill.join(", ")}]`;
  const sum = (name: string, description: string, condition: string): Measure => ({
    name,
    lines: ["type: sum", `label: ${quoted(labelOf(name))}`, `description: ${quoted(description)}`, `sql: CASE WHEN ${condition} THEN 1 ELSE 0 END ;;`, drillLine],
  });
  return [
    { name: "events", lines: ["type: count", 'label: "Events"', `description: ${quoted("Deduplicated events (one per insert_id), bots included.")}`, drillLine] },
    sum("human_events", "Events of people: not flagged as bots (is_bot false).", `NOT ${columnSql("is_bot")}`),
    sum("bot_events", "Events whose user agent is a crawler, monitor or script, or missing (is_bot).", columnSql("is_bot")),
    sum("dnt_events", "Events whose pixel URL carried dnt: stored without remote_ip and user_agent, and without a visitor id.", columnSql("dnt")),
    botShare("bot_events", "events"),
    {
      name: "visitors",
      lines: [
        "type: count_distinct",
        'label: "Visitors"',
        `description: ${quoted(
          "Distinct visitor ids, bots left out. Visitor ids change every UTC day, so over several days this counts visitor-days: a person seen on two days counts twice, as the rollups' sums over days do.",
        )}`,
        `sql: IF(${columnSql("is_bot")}, NULL, ${columnSql("visitor_id")}) ;;`,
        drillLine,
      ],
    },
  ];
}

/**
 * per-tenant-day: the raw events of one tenant's days, deduplicated. `_TABLE_SUFFIX` is
 * `_<encoded tenant>_<YYYYMMDD>`, so only a tenant and a range of days give bounds that are
 * constant, the only filter that limits the day tables a wildcard reads. Looker writes the
 * parameter as a quoted, escaped string and the date filter's ends as timestamps; the end is
 * exclusive. A "before"/"after" or empty range makes an end NULL, and the query reads nothing.
 */
export function rawEventsSql(settings: CoreSettings): string {
  const dialect = lookmlDialect();
  const suffix = (day: string) => `CONCAT('_', {% parameter ${RAW_TENANT_PARAMETER} %}, '_', FORMAT_DATE('%Y%m%d', ${day}))`;
  const first = `DATE({% date_start ${RAW_DATE_FILTER} %})`;
  const last = `DATE_SUB(DATE({% date_end ${RAW_DATE_FILTER} %}), INTERVAL 1 DAY)`;
  return dedupQuery(dialect, `(\n${perTenantDayEventsQuery(settings.templateTable, dialect, `_TABLE_SUFFIX BETWEEN ${suffix(first)} AND ${suffix(last)}`)}\n)`);
}

function eventsView(settings: CoreSettings, header: string): { file: LookmlFile; renamed: RenamedField[] } {
  const schema = settings.layout === "partitioned" ? partitionedSchema(settings.attributes) : [...templateSchema(settings.attributes), ...TABLE_NAME_COLUMNS];
  const attributeNames = new Set(settings.attributes.map((attribute) => attribute.name));
  // The tenant attribute's column is the raw tenant; the tenant column is the one filtered on.
  const generated = [ROW_KEY, ...eventMeasures([]).map((measure) => measure.name), ...(settings.layout === "per-tenant-day" ? [RAW_TENANT_PARAMETER, RAW_DATE_FILTER] : [])];
  const { fields, renamed } = nameColumns(VIEWS.dedup, schema, attributeNames, generated);
  const keys = [TENANT_COLUMN, EVENT_DATE_COLUMN, "insert_id"];
  if (settings.layout === "partitioned") {
    const source = [`description: ${quoted("Every event, one row per insert_id, from the events_dedup view. Filter on a range of event dates: the table is partitioned by it.")}`, `sql_table_name: ${lookmlDialect().table(VIEWS.dedup)} ;;`];
    return { file: viewFile(VIEWS.dedup, header, source, fields, keys, eventMeasures), renamed };
  }
  const source = [
    `description: ${quoted("One tenant's events over a range of UTC days, one row per insert_id. Pick the tenant's code and the days: only those day tables are read.")}`,
    `derived_table: {\n    sql:\n${indentSql(rawEventsSql(settings), "      ")} ;;\n  }`,
  ];
  const filters = [
    block("parameter", RAW_TENANT_PARAMETER, [
      "type: string",
      'label: "Tenant Code"',
      `description: ${quoted("The tenant as day tables name it: a tenant of a-z and 0-9 only is its own code; any other character becomes X and the two hex digits of each of its UTF-8 bytes (acme-corp: acmeX2Dcorp). The Tenant Code column of the Daily Totals explore shows each tenant's.")}`,
    ]),
    block("filter", RAW_DATE_FILTER, ["type: date", 'label: "Date Range"', `description: ${quoted("The UTC days to read, both ends included; only their day tables are scanned.")}`]),
  ];
  return { file: viewFile(VIEWS.dedup, header, source, fields, keys, eventMeasures, filters), renamed };
}

function indentSql(sql: string, indent: string): string {
  return sql
    .split("\n")
    .map((line) => indent + line)
    .join("\n");
}

function manifestFile(settings: LookmlSettings, header: string): LookmlFile {
  const constants: [keyof typeof LOOKML_CONSTANTS, string, string][] = [
    ["connection", settings.connection, "The Looker connection to BigQuery (Admin > Connections)."],
    ["project", settings.project, "The Google Cloud project of the event dataset."],
    ["dataset", settings.dataset, "The stack's BigQuery dataset."],
  ];
  const body = constants.map(([key, value, description]) => `# ${description}\nconstant: ${LOOKML_CONSTANTS[key]} {\n  value: ${quoted(value)}\n  export: override_optional\n}`);
  return { path: "manifest.lkml", content: `${header}\nproject_name: ${quoted(MODEL_NAME)}\n\n${body.join("\n\n")}\n` };
}

function exploreText(name: string, lines: readonly string[]): string {
  return block("explore", name, lines, "");
}

function modelFile(core: CoreSettings, rollups: readonly AggregateTable[], settings: LookmlSettings, header: string, totals: AggregateTable): LookmlFile {
  const access = (view: string) =>
    settings.tenantUserAttribute ? [block("access_filter", undefined, [`field: ${view}.${TENANT_COLUMN}`, `user_attribute: ${settings.tenantUserAttribute}`], "")] : [];
  const dayOf = (view: string) => `\${${view}.${EVENT_DATE_COLUMN}_raw}`;
  const explores = rollups.map((table) => {
    const join =
      table.name === totals.name
        ? []
        : [
            block(
              "join",
              totals.name,
              [
                "type: left_outer",
                "relationship: many_to_one",
                `sql_on: \${${table.name}.${TENANT_COLUMN}} = \${${totals.name}.${TENANT_COLUMN}} AND ${dayOf(table.name)} = ${dayOf(totals.name)} ;;`,
              ],
              "",
            ),
          ];
    return exploreText(table.name, [`label: ${quoted(labelOf(table.name.replace(/^rollup_/, "daily_")))}`, `description: ${quoted(table.description)}`, ...access(table.name), ...join]);
  });
  const rawFilters =
    core.layout === "partitioned"
      ? [`filters: [${VIEWS.dedup}.${EVENT_DATE_COLUMN}_date: "7 days"]`]
      : [`filters: [${VIEWS.dedup}.${RAW_TENANT_PARAMETER}: "", ${VIEWS.dedup}.${RAW_DATE_FILTER}: "7 days"]`];
  explores.push(
    exploreText(VIEWS.dedup, [
      'label: "Raw Events"',
      `description: ${quoted("Every deduplicated event with all its columns; billed by the bytes of the days read, so keep the range short.")}`,
      // Raw rows change as events arrive, not when the rollups run.
      'persist_for: "1 hour"',
      block("always_filter", undefined, rawFilters, ""),
      ...access(VIEWS.dedup),
    ]),
  );
  const datagroup = block(
    "datagroup",
    ROLLUP_DATAGROUP,
    [
      `description: ${quoted("Cached results stay until a rollup run has replaced days (a new computed_at in the totals), or a day has passed.")}`,
      `sql_trigger: SELECT MAX(\`${COMPUTED_AT_COLUMN}\`) FROM ${lookmlDialect().table(totals.name)} ;;`,
      'max_cache_age: "24 hours"',
    ],
    "",
  );
  const content = [header, `connection: "${constant("connection")}"`, "", 'include: "/views/*.view.lkml"', "", datagroup, "", `persist_with: ${ROLLUP_DATAGROUP}`, "", explores.join("\n\n"), ""].join("\n");
  return { path: `${MODEL_NAME}.model.lkml`, content };
}

/** The rollup tables (core/rollups.ts) with the key columns of their rows (core/views.ts dailyAggregates). */
export function aggregateTables(core: CoreSettings): AggregateTable[] {
  const keys = new Map(dailyAggregates(core).map((aggregate) => [aggregate.rollup, aggregate.keys]));
  return rollupTables(core).map((table) => ({ name: table.name, description: table.description, schema: table.schema, keys: keys.get(table.name) ?? [] }));
}

/**
 * The project's files, `header` (comment lines) heading each, and the attributes LookML shows
 * under another name. Throws a ConfigError naming the attribute when one cannot be shown at all.
 */
export function lookmlProject(core: CoreSettings, settings: LookmlSettings, header: string): LookmlProject {
  const rollups = aggregateTables(core);
  const totals = rollups.find((table) => table.name === ROLLUPS.totals);
  if (!totals) throw new Error(`${ROLLUPS.totals} is not among the rollup tables`);
  const attributeNames = new Set(core.attributes.map((attribute) => attribute.name));
  const views = [...rollups.map((table) => aggregateView(table, header, attributeNames)), eventsView(core, header)];
  return {
    files: [manifestFile(settings, header), modelFile(core, rollups, settings, header, totals), ...views.map((view) => view.file)],
    renamed: views.flatMap((view) => view.renamed),
  };
}

import { parseFiles } from "lookml-parser";
import type { LookmlFile } from "../core/lookml";

/**
 * Offline checks of a generated LookML project: its syntax through lookml-parser's parseFiles
 * (whose CLI exits 0 even on errors), and what the parser leaves unchecked (references, constants,
 * duplicate fields, primary keys, access filters, persist_with), as Looker's validator would
 * refuse them. And the SQL of each view as Looker writes it, for the analyzer.
 */

/** A node of lookml-parser's output: named objects by type and name, values as strings. */
export interface Node {
  readonly $strings?: readonly unknown[];
  readonly $type?: string;
  readonly $name?: string;
  readonly [key: string]: unknown;
}

export interface ParsedProject {
  readonly errors?: readonly { readonly error: string; readonly $file_path: string }[];
  /** By file path without the .lkml extension: "views/rollup_totals.view". */
  readonly file: Readonly<Record<string, Node>>;
}

const QUIET = { log() {}, warn() {}, error() {} };

export async function parseProject(files: readonly LookmlFile[]): Promise<ParsedProject> {
  return (await parseFiles({ source: files.map((file) => ({ path: file.path, content: file.content })), fileOutput: "by-name", console: QUIET })) as ParsedProject;
}

function children(node: Node | undefined, type: string): [string, Node][] {
  return Object.entries((node?.[type] as Record<string, Node> | undefined) ?? {});
}

/** Every view in the project's files, by name. */
export function viewsOf(project: ParsedProject): Map<string, Node> {
  return new Map(Object.values(project.file).flatMap((file) => children(file, "view")));
}

function timeframesOf(group: Node): string[] {
  const timeframes = group.timeframes;
  return Array.isArray(timeframes) ? (timeframes as string[]) : [];
}

/**
 * The fields a view declares, in the order written, as Looker names them: a dimension group
 * declares one field per timeframe. From the parser's $strings, which keep a name declared twice
 * twice (its objects keep only the last).
 */
export function declaredFields(view: Node): string[] {
  const names: string[] = [];
  for (const entry of view.$strings ?? []) {
    const match = typeof entry === "string" ? /^@(dimension|dimension_group|measure|filter|parameter)\.(.+)$/.exec(entry) : null;
    if (!match) continue;
    const [, type, name] = match;
    if (type === "dimension_group") timeframesOf((view.dimension_group as Record<string, Node>)[name]).forEach((timeframe) => names.push(`${name}_${timeframe}`));
    else names.push(name);
  }
  return names;
}

/** The `${…}` references in a SQL text. */
function references(sql: string): string[] {
  return [...sql.matchAll(/\$\{([^}]*)\}/g)].map((match) => match[1]);
}

/** What a project must satisfy beyond its syntax. */
export interface MeaningOptions {
  /** The Looker user attribute every explore must filter the tenant by, when the stack sets one. */
  readonly tenantUserAttribute?: string;
  /** The raw explore and the field its always_filter must hold. */
  readonly rawExplore: string;
  readonly rawDateFilter: string;
  readonly tenantField: string;
}

/** Every problem of the project's meaning, each naming where it is; empty when there are none. */
export function meaningProblems(project: ParsedProject, files: readonly LookmlFile[], options: MeaningOptions): string[] {
  const problems: string[] = [];
  const views = viewsOf(project);
  const fields = new Map([...views].map(([name, view]) => [name, new Set(declaredFields(view))]));

  // Constants: every @{…} in any file is declared in the manifest.
  const constants = new Set(children(project.file.manifest, "constant").map(([name]) => name));
  for (const file of files) {
    for (const match of file.content.matchAll(/@\{([^}]*)\}/g)) if (!constants.has(match[1])) problems.push(`${file.path}: @{${match[1]}} is not a constant of manifest.lkml`);
  }

  for (const [name, view] of views) {
    const own = fields.get(name) ?? new Set<string>();
    const declared = declaredFields(view);
    for (const field of new Set(declared.filter((field, index) => declared.indexOf(field) !== index))) problems.push(`view ${name}: ${field} is declared twice`);
    const resolves = (reference: string) => reference === "TABLE" || own.has(reference) || isQualified(reference, fields);
    for (const type of ["dimension", "dimension_group", "measure"]) {
      for (const [fieldName, field] of children(view, type)) {
        for (const reference of references(String(field.sql ?? ""))) if (!resolves(reference)) problems.push(`view ${name}, ${type} ${fieldName}: \${${reference}} does not resolve`);
        for (const drill of (field.drill_fields as string[] | undefined) ?? []) if (!own.has(drill) && !isQualified(drill, fields)) problems.push(`view ${name}, ${type} ${fieldName}: drill field ${drill} does not exist`);
      }
    }
    const measures = children(view, "measure").length;
    const keys = children(view, "dimension").filter(([, dimension]) => [true, "yes"].includes(dimension.primary_key as string)).length;
    if (measures > 0 && keys !== 1) problems.push(`view ${name}: has measures and ${keys} primary keys, not exactly one`);
  }

  const model = Object.values(project.file).find((file) => file.$file_type === "model");
  if (!model) return [...problems, "no model file"];
  const datagroups = new Set(children(model, "datagroup").map(([name]) => name));
  if (typeof model.persist_with !== "string" || !datagroups.has(model.persist_with)) problems.push(`model: persist_with ${String(model.persist_with)} names no datagroup`);
  for (const [name, datagroup] of children(model, "datagroup")) {
    for (const reference of references(String(datagroup.sql_trigger ?? ""))) problems.push(`datagroup ${name}: \${${reference}} cannot be used in a sql_trigger`);
  }
  for (const [name, explore] of children(model, "explore")) {
    const base = typeof explore.from === "string" ? explore.from : name;
    if (!views.has(base)) problems.push(`explore ${name}: no view ${base}`);
    const scope = new Set([name, ...children(explore, "join").map(([join]) => join)]);
    const inScope = (reference: string) => {
      const [view, field] = reference.split(".");
      return scope.has(view) && (fields.get(view)?.has(field) ?? false);
    };
    for (const [joinName, join] of children(explore, "join")) {
      if (!views.has(joinName)) problems.push(`explore ${name}: joins unknown view ${joinName}`);
      for (const reference of references(String(join.sql_on ?? ""))) if (!inScope(reference)) problems.push(`explore ${name}, join ${joinName}: \${${reference}} does not resolve`);
    }
    const access = explore.access_filter as Node | undefined;
    if (access && !inScope(String(access.field))) problems.push(`explore ${name}: access_filter field ${String(access.field)} does not resolve`);
    if (options.tenantUserAttribute) {
      if (access?.user_attribute !== options.tenantUserAttribute || access.field !== `${name}.${options.tenantField}`) {
        problems.push(`explore ${name}: no access_filter on ${name}.${options.tenantField} by the user attribute ${options.tenantUserAttribute}`);
      }
    }
    const filters = Object.keys(((explore.always_filter as Node | undefined)?.filters as Node | undefined) ?? {}).filter((key) => !key.startsWith("$"));
    for (const filter of filters) if (!inScope(filter)) problems.push(`explore ${name}: always_filter field ${filter} does not resolve`);
    if (name === options.rawExplore && !filters.includes(`${name}.${options.rawDateFilter}`)) problems.push(`explore ${name}: no always_filter on ${name}.${options.rawDateFilter}`);
  }
  if (!children(model, "explore").some(([name]) => name === options.rawExplore)) problems.push(`model: no explore ${options.rawExplore}`);
  return problems;
}

function isQualified(reference: string, fields: ReadonlyMap<string, ReadonlySet<string>>): boolean {
  const [view, field, ...rest] = reference.split(".");
  return rest.length === 0 && field !== undefined && (fields.get(view)?.has(field) ?? false);
}

/** The manifest's constants and their values. */
export function constantsOf(project: ParsedProject): Map<string, string> {
  return new Map(children(project.file.manifest, "constant").map(([name, constant]) => [name, String(constant.value)]));
}

/**
 * Looker's Liquid for the templated filters and parameters the SQL uses, rendered with sample
 * values as Looker writes them for BigQuery: a parameter of type string as a quoted string, a
 * date filter's ends as TIMESTAMPs. Throws on any Liquid it does not know.
 */
export function renderLiquid(sql: string, samples: { readonly parameters: Readonly<Record<string, string>>; readonly dates: Readonly<Record<string, { start: string; end: string }>> }, quote: (value: string) => string): string {
  const rendered = sql.replace(/\{%\s*(parameter|date_start|date_end)\s+(\w+)\s*%\}/g, (tag, kind: string, name: string) => {
    if (kind === "parameter" && name in samples.parameters) return quote(samples.parameters[name]);
    const range = samples.dates[name];
    if (kind !== "parameter" && range) return `TIMESTAMP('${kind === "date_start" ? range.start : range.end} 00:00:00')`;
    throw new Error(`no sample value for ${tag}`);
  });
  if (/\{%|\{\{/.test(rendered)) throw new Error(`Liquid left after rendering:\n${rendered}`);
  return rendered;
}

/** The column types Looker's field types need of their SQL. */
export const EXPECTED_TYPES: Readonly<Record<string, readonly string[]>> = {
  string: ["STRING"],
  number: ["INT64", "FLOAT64"],
  yesno: ["BOOL"],
  date: ["DATE"],
  timestamp: ["TIMESTAMP"],
};

/** A select-list entry of a view's expanded SELECT, and the types its field type allows. */
export interface ExpandedField {
  readonly name: string;
  readonly sql: string;
  readonly types: readonly string[];
}

/**
 * The view as one query, as Looker writes the SQL of an explore of it: its sql_table_name or
 * derived table as `FROM … AS t`, each dimension and dimension group's SQL (with ${TABLE} as t and
 * ${field} references expanded), then each measure aggregated, grouped by the dimensions.
 * `resolveConstants` replaces the @{…} constants, `render` the Liquid.
 */
export function expandedView(view: Node, resolveConstants: (sql: string) => string): { sql: string; fields: ExpandedField[] } {
  const dimensions = new Map<string, Node>([...children(view, "dimension"), ...children(view, "dimension_group")]);
  const groupTimeframes = new Map<string, string>(children(view, "dimension_group").flatMap(([name, group]) => timeframesOf(group).map((timeframe) => [`${name}_${timeframe}`, name] as const)));
  const measures = new Map(children(view, "measure"));
  const expand = (sql: string, depth = 0): string => {
    if (depth > 10) throw new Error(`references too deep: ${sql}`);
    return sql.trim().replace(/\$\{([^}]*)\}/g, (_, reference: string) => {
      if (reference === "TABLE") return "t";
      const dimension = dimensions.get(groupTimeframes.get(reference) ?? reference);
      if (dimension) return `(${expand(String(dimension.sql), depth + 1)})`;
      const measure = measures.get(reference);
      if (measure) return `(${aggregate(measure, depth + 1)})`;
      throw new Error(`\${${reference}} is no field of the view`);
    });
  };
  const aggregate = (measure: Node, depth: number): string => {
    const sql = measure.sql === undefined ? "" : expand(String(measure.sql), depth);
    switch (measure.type) {
      case "count":
        return "COUNT(*)";
      case "sum":
        return `SUM(${sql})`;
      case "count_distinct":
        return `COUNT(DISTINCT ${sql})`;
      case "number":
        return sql;
      default:
        throw new Error(`measure type ${String(measure.type)} is not expanded`);
    }
  };
  const fields: ExpandedField[] = [...dimensions].map(([name, dimension]) => ({
    name,
    sql: expand(String(dimension.sql)),
    types: EXPECTED_TYPES[dimension.$type === "dimension_group" ? String(dimension.datatype ?? "timestamp") : String(dimension.type ?? "string")],
  }));
  const measureFields: ExpandedField[] = [...measures].map(([name, measure]) => ({ name, sql: aggregate(measure, 0), types: EXPECTED_TYPES.number }));
  const derived = view.derived_table as Node | undefined;
  const from = derived ? `(\n${String(derived.sql).trim()}\n)` : String(view.sql_table_name).trim();
  const select = [...fields, ...measureFields].map((field) => `  ${field.sql} AS \`${field.name}\``).join(",\n");
  const sql = `SELECT\n${select}\nFROM ${from} AS t\nGROUP BY ${fields.map((_, index) => index + 1).join(", ")}`;
  return { sql: resolveConstants(sql), fields: [...fields, ...measureFields] };
}

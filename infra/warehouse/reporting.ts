import type { CoreSettings } from "../../core/config/coreSettings";
import { VIEWS } from "../../core/layout";
import { BREAKDOWNS, bigQueryDialect, tenantEventsQuery } from "../../core/views";

/**
 * The reporting snippets in the stack outputs: a Looker Studio link and per-tenant view queries.
 * Pure: strings only.
 */

export const LOOKER_STUDIO_CREATE_URL = "https://lookerstudio.google.com/reporting/create";

/**
 * The views with a report of their own in the lookerStudioReports output: the daily answers, each
 * over its rollup table, so a report reads aggregates, never the raw events. `events` and
 * `events_dedup` stay for ad-hoc SQL.
 */
export const REPORT_VIEWS: readonly string[] = [VIEWS.dailyCounts, ...BREAKDOWNS.map((breakdown) => breakdown.name), VIEWS.dailyTotals];

/** The view the lookerStudioUrl output opens: each tenant's days, with the day's visitors of the whole tenant. */
export const MAIN_REPORT_VIEW = VIEWS.dailyTotals;

export interface LookerStudioReport {
  readonly project: string;
  readonly dataset: string;
  /** The table or view the report's data source reads. */
  readonly table: string;
  readonly reportName: string;
}

/**
 * A Looker Studio Linking API URL that opens a new report, in edit mode, on one BigQuery table
 * or view (https://developers.google.com/looker-studio/integrate/linking-api). Without
 * `c.reportId` Looker Studio starts from its default report; `ds.ds0.connector` makes the URL
 * replace that report's data source entirely with this BigQuery configuration. Queries are billed
 * to the table's project unless the user picks another billing project in the data source.
 */
export function lookerStudioUrl(report: LookerStudioReport): string {
  const parameters = new URLSearchParams({
    "c.mode": "edit",
    "r.reportName": report.reportName,
    "ds.ds0.datasourceName": `${report.dataset}.${report.table}`,
    "ds.ds0.connector": "bigQuery",
    "ds.ds0.type": "TABLE",
    "ds.ds0.projectId": report.project,
    "ds.ds0.datasetId": report.dataset,
    "ds.ds0.tableId": report.table,
  });
  return `${LOOKER_STUDIO_CREATE_URL}?${parameters.toString()}`;
}

/**
 * For each allowlisted tenant, the query of an authorized view that shows that tenant's events
 * only (docs/analytics.md); undefined without an allowlist, since the tenants are not known.
 */
export function tenantViewQueries(project: string, dataset: string, core: CoreSettings): Record<string, string> | undefined {
  const dialect = bigQueryDialect(project, dataset);
  return core.tenantAllowlist && Object.fromEntries(core.tenantAllowlist.map((tenant) => [tenant, tenantEventsQuery(core, tenant, dialect)]));
}

import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { PARTITIONED_TABLE } from "../../core/layout";
import type { CoreSettings } from "../../core/config/coreSettings";
import { bigQueryDialect, viewQueries } from "../../core/views";
import { MAIN_REPORT_VIEW, REPORT_VIEWS } from "./reporting";
import { allReaders } from "../../core/config/tenantReaders";
import type { TenantReaders } from "../../core/config/tenantReaders";
import { memberResourceName } from "./tenantAccess";
import { tenantRowPolicies } from "./tenantRowPolicies";
import { clearInheritedExpiration } from "./tableExpiration";

export interface AnalyticsViewsArgs {
  readonly project: string;
  /** The event dataset's id; views name their tables fully qualified. */
  readonly datasetId: string;
  readonly core: CoreSettings;
  /** The table the events view reads (EventWarehouse.eventSource); BigQuery refuses a view over a table that does not exist yet. */
  readonly eventSource: gcp.bigquery.Table;
  /** Who may read which tenant's rows: of the events too with the partitioned layout, else through the daily views only. */
  readonly tenantReaders?: TenantReaders;
  /** Besides allTenantsReaders, the members that must see every event: the rollups' scheduled query. */
  readonly allRowsMembers?: readonly pulumi.Input<string>[];
  /** The tables the daily views read (Rollups): BigQuery refuses a view over a table that does not exist yet. */
  readonly rollupTables: readonly gcp.bigquery.Table[];
  /**
   * Set when the dataset gives new tables an expiration (tableExpiration.ts): each view's is
   * cleared by a query job in the dataset's location.
   */
  readonly clearInheritedExpiration?: { readonly location: string };
}

/**
 * The views users query from SQL, Looker and Looker Studio, in the event dataset (core/views.ts
 * has their SQL): events and events_dedup over the raw events, for ad-hoc SQL, and the daily views
 * over the rollup tables, for reports. With tenantReaders, row access policies decide which rows
 * each reader sees through them: on the partitioned table here, on the rollups in Rollups.
 */
export class AnalyticsViews extends pulumi.ComponentResource {
  /** The `events` view's table id. */
  public readonly eventsViewId: pulumi.Output<string>;
  /** The table ids of the views a Looker Studio report opens on (REPORT_VIEWS), once they exist. */
  public readonly reportViewIds: pulumi.Output<string[]>;
  /** The table id of the view the main Looker Studio link opens (MAIN_REPORT_VIEW), once it exists. */
  public readonly mainReportViewId: pulumi.Output<string>;

  constructor(name: string, args: AnalyticsViewsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:AnalyticsViews", name, {}, opts);

    const dialect = bigQueryDialect(args.project, args.datasetId);
    // Each view reads the one before, and BigQuery checks a view's tables when it is created.
    const views: { name: string; table: gcp.bigquery.Table }[] = [];
    for (const view of viewQueries(args.core, dialect)) {
      const table = new gcp.bigquery.Table(
        `${name}-${view.name.replace(/_/g, "-")}`,
        {
          datasetId: args.eventSource.datasetId,
          tableId: view.name,
          view: { query: view.query, useLegacySql: false },
          description: view.description,
          // A view holds no data; protecting it would only stop `pulumi destroy`.
          deletionProtection: false,
        },
        { parent: this, dependsOn: [views.at(-1)?.table ?? args.eventSource, ...args.rollupTables] },
      );
      views.push({ name: view.name, table });
      if (args.clearInheritedExpiration) {
        clearInheritedExpiration(`${name}-${view.name.replace(/_/g, "-")}-keep`, table, { kind: "VIEW", location: args.clearInheritedExpiration.location }, this);
      }
    }

    if (args.tenantReaders) {
      // The day tables of per-tenant-day are created on demand and get no policy: readers reach the
      // rollups only, through the daily views (docs/analytics.md has the authorized views for the rest).
      const partitioned = args.core.layout === "partitioned";
      if (partitioned) {
        tenantRowPolicies(name, { table: args.eventSource, readers: args.tenantReaders, dialect, allRowsMembers: args.allRowsMembers }, this);
      }
      // Reading through a view needs read access to it and to the table below; the policies pick the rows.
      const readable = partitioned ? [{ name: PARTITIONED_TABLE, table: args.eventSource }, ...views] : views.filter((view) => REPORT_VIEWS.includes(view.name));
      for (const member of allReaders(args.tenantReaders)) {
        for (const { name: tableName, table: readableTable } of readable) {
          new gcp.bigquery.IamMember(
            `${name}-${tableName.replace(/_/g, "-")}-${memberResourceName(member)}`,
            { datasetId: readableTable.datasetId, tableId: readableTable.tableId, role: "roles/bigquery.dataViewer", member },
            { parent: this },
          );
        }
      }
    }

    // viewQueries lists the events view first: the others read it.
    this.eventsViewId = views[0].table.tableId;
    this.reportViewIds = pulumi.all(views.filter((view) => REPORT_VIEWS.includes(view.name)).map((view) => view.table.tableId));
    this.mainReportViewId = views.find((view) => view.name === MAIN_REPORT_VIEW)!.table.tableId;
    this.registerOutputs({ eventsViewId: this.eventsViewId, reportViewIds: this.reportViewIds, mainReportViewId: this.mainReportViewId });
  }
}

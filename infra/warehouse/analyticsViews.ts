import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { PARTITIONED_TABLE } from "../../core/layout";
import type { CoreSettings } from "../../core/config/coreSettings";
import { encodeTenant } from "../../core/tenant";
import { bigQueryDialect, tenantFilter, viewQueries } from "../../core/views";
import { REPORT_VIEWS } from "./reporting";
import { allReaders } from "../../core/config/tenantReaders";
import type { TenantReaders } from "../../core/config/tenantReaders";
import { ALL_TENANTS_POLICY_ID, memberResourceName, tenantPolicyId } from "./tenantAccess";

export interface AnalyticsViewsArgs {
  readonly project: string;
  /** The event dataset's id; views name their tables fully qualified. */
  readonly datasetId: string;
  readonly core: CoreSettings;
  /** The table the events view reads (EventWarehouse.eventSource); BigQuery refuses a view over a table that does not exist yet. */
  readonly eventSource: gcp.bigquery.Table;
  /** With the partitioned layout: who may read which tenant's rows. */
  readonly tenantReaders?: TenantReaders;
}

/**
 * The views users query from SQL, Looker and Looker Studio: events, events_dedup,
 * daily_counts and the daily breakdowns, in the event dataset (core/views.ts has their SQL). With
 * tenantReaders, row access policies on the partitioned table decide which rows each reader sees
 * through them.
 */
export class AnalyticsViews extends pulumi.ComponentResource {
  /** The `events` view's table id. */
  public readonly eventsViewId: pulumi.Output<string>;
  /** The table ids of the views a Looker Studio report opens on (REPORT_VIEWS), once they exist. */
  public readonly reportViewIds: pulumi.Output<string[]>;

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
        { parent: this, dependsOn: views.at(-1)?.table ?? args.eventSource },
      );
      views.push({ name: view.name, table });
    }

    if (args.tenantReaders) {
      const table = { datasetId: args.eventSource.datasetId, tableId: args.eventSource.tableId };
      // Once a table has row access policies, a query returns only the rows of policies that name its user.
      new gcp.bigquery.RowAccessPolicy(
        `${name}-all-tenants`,
        { ...table, policyId: ALL_TENANTS_POLICY_ID, filterPredicate: "TRUE", grantees: [...args.tenantReaders.allTenants] },
        { parent: this },
      );
      for (const [tenant, members] of args.tenantReaders.byTenant) {
        new gcp.bigquery.RowAccessPolicy(
          `${name}-tenant-${encodeTenant(tenant)}`,
          { ...table, policyId: tenantPolicyId(tenant), filterPredicate: tenantFilter(tenant, dialect), grantees: [...members] },
          { parent: this },
        );
      }
      // Reading through a view needs read access to it and to the table below; the policies pick the rows.
      const readable = [{ name: PARTITIONED_TABLE, table: args.eventSource }, ...views];
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
    this.registerOutputs({ eventsViewId: this.eventsViewId, reportViewIds: this.reportViewIds });
  }
}

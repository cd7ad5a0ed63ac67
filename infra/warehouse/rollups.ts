import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { TenantReaders } from "../../core/config/tenantReaders";
import type { WarehouseSettings } from "../../core/config/warehouse";
import type { RetentionSettings } from "../../core/config/retention";
import { partitionExpiration } from "./tableExpiration";
import { allReaders } from "../../core/config/tenantReaders";
import { bigQueryRollupScript, rollupTables } from "../../core/rollups";
import type { DayBound, DayRange } from "../../core/rollups";
import { declareServiceAgent, SERVICE_AGENTS, serviceAccountId } from "../naming";
import { bigQueryDialect } from "../../core/views";
import { memberResourceName } from "./tenantAccess";
import { tenantRowPolicies } from "./tenantRowPolicies";

/** What the rollups' tables and their schedule are declared for: one pipeline's dataset and settings. */
interface RollupTarget {
  /** Keeps the runner's account id and the scheduled query's name apart from other stacks' and pipelines' (PixelPipeline). */
  readonly scope: string;
  readonly project: string;
  /** The event dataset's id, as the script names its tables. */
  readonly datasetId: string;
  /** The dataset's location: a scheduled query runs where its data is. */
  readonly location: string;
  readonly core: CoreSettings;
  readonly settings: WarehouseSettings;
}

export interface RollupsArgs extends RollupTarget {
  readonly deletionProtection: boolean;
  /** A rollup day is kept as long as the events it counts. */
  readonly retention: RetentionSettings;
  /** The table the events are stored in (EventWarehouse.eventSource): the partitioned table, or the template beside the day tables. */
  readonly eventSource: gcp.bigquery.Table;
  /** Who may read which tenant's rollup rows. */
  readonly tenantReaders?: TenantReaders;
  /** Besides allTenantsReaders and the runner, the members the all-tenants row access policy names: Looker's connection. */
  readonly allRowsMembers?: readonly pulumi.Input<string>[];
}

/**
 * The scheduled query's window: today (the run's UTC date, @run_date) and the `lateDays` days
 * before it (https://cloud.google.com/bigquery/docs/scheduling-queries#available_parameters).
 */
export function scheduledRange(lateDays: number): DayRange<DayBound> {
  return { from: { sql: `DATE_SUB(@run_date, INTERVAL ${lateDays} DAY)` }, to: { sql: "@run_date" } };
}

/**
 * The rollup tables (core/rollups.ts), and the account the scheduled query (RollupSchedule) runs
 * as, which may read the events, write the rollups and run jobs, and nothing else. With
 * tenantReaders, row access policies give each reader its tenants' rollup rows, and the runner
 * every row.
 */
export class Rollups extends pulumi.ComponentResource {
  /** The rollup tables, for the daily views that read them. */
  public readonly tables: gcp.bigquery.Table[];
  /** The scheduled query's account, as an IAM member: a row access policy on the events must let it read every row. */
  public readonly runnerMember: pulumi.Output<string>;
  /** The same account's email, as the scheduled query (RollupSchedule) names the account it runs as. */
  public readonly runnerEmail: pulumi.Output<string>;

  constructor(name: string, args: RollupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:Rollups", name, {}, opts);
    const datasetId = args.eventSource.datasetId;
    const dialect = bigQueryDialect(args.project, args.datasetId);
    const definitions = rollupTables(args.core);
    this.tables = definitions.map(
      (definition) =>
        new gcp.bigquery.Table(
          `${name}-${resourcePart(definition.name)}`,
          {
            datasetId,
            tableId: definition.name,
            schema: JSON.stringify(definition.schema),
            // A report's date range reads its days' partitions, and its tenant filter their blocks.
            timePartitioning: { type: "DAY", field: definition.partitionColumn, ...partitionExpiration(args.retention) },
            clusterings: [...definition.clusterColumns],
            deletionProtection: args.deletionProtection,
            description: definition.description,
          },
          { parent: this },
        ),
    );

    const runner = new gcp.serviceaccount.Account(
      `${name}-runner`,
      {
        accountId: serviceAccountId(args.scope, "rollup"),
        displayName: "Pixel pipeline rollups",
        description: "Runs the scheduled queries that recompute the rollup tables: reads the events, writes the rollups.",
      },
      { parent: this },
    );
    this.runnerMember = runner.member;
    this.runnerEmail = runner.email;

    // Read the events. Per-tenant-day: BigQuery creates the day tables on demand, so only a grant
    // on the dataset reaches them (and lets the run list them in INFORMATION_SCHEMA.TABLES).
    if (args.core.layout === "partitioned") {
      new gcp.bigquery.IamMember(
        `${name}-events-reader`,
        { datasetId, tableId: args.eventSource.tableId, role: "roles/bigquery.dataViewer", member: runner.member },
        { parent: this },
      );
    } else {
      new gcp.bigquery.DatasetIamMember(`${name}-events-reader`, { datasetId, role: "roles/bigquery.dataViewer", member: runner.member }, { parent: this });
    }
    // Write the rollups: Data Editor on those tables only, never on the events.
    this.tables.forEach(
      (table, index) =>
        new gcp.bigquery.IamMember(
          `${name}-${resourcePart(definitions[index].name)}-writer`,
          { datasetId, tableId: table.tableId, role: "roles/bigquery.dataEditor", member: runner.member },
          { parent: this },
        ),
    );
    // Run the query jobs: the one project-wide role, as jobs belong to a project.
    new gcp.projects.IAMMember(`${name}-job-user`, { project: args.project, role: "roles/bigquery.jobUser", member: runner.member }, { parent: this });
    // The Data Transfer Service's agent mints the runner's tokens for each run; Google creates the agent lazily.
    const transferAgent = declareServiceAgent(`${name}-transfer-agent`, args.project, SERVICE_AGENTS.dataTransfer, this);
    new gcp.serviceaccount.IAMMember(
      `${name}-transfer-agent-token-creator`,
      { serviceAccountId: runner.name, role: "roles/iam.serviceAccountTokenCreator", member: transferAgent },
      { parent: this },
    );

    if (args.tenantReaders) {
      this.tables.forEach((table, index) =>
        tenantRowPolicies(`${name}-${resourcePart(definitions[index].name)}`, { table, readers: args.tenantReaders!, dialect, allRowsMembers: [runner.member, ...(args.allRowsMembers ?? [])] }, this),
      );
      for (const member of allReaders(args.tenantReaders)) {
        this.tables.forEach(
          (table, index) =>
            new gcp.bigquery.IamMember(
              `${name}-${resourcePart(definitions[index].name)}-${memberResourceName(member)}`,
              { datasetId, tableId: table.tableId, role: "roles/bigquery.dataViewer", member },
              { parent: this },
            ),
        );
      }
    }

    this.registerOutputs({ runnerMember: this.runnerMember, runnerEmail: this.runnerEmail });
  }
}

/** A table name as part of a resource name: `rollup_counts` → `rollup-counts`. */
function resourcePart(tableName: string): string {
  return tableName.replace(/_/g, "-");
}

export interface RollupScheduleArgs extends RollupTarget {
  /** The account the runs act as (Rollups.runnerEmail). */
  readonly runnerEmail: pulumi.Input<string>;
  /**
   * What a run needs in place before the first one: the Rollups, with the runner's grants and the
   * rollup tables' row access policies, and the AnalyticsViews, with the event table's. A run
   * before a policy that names the runner reads no rows of that table and replaces its days with
   * nothing.
   */
  readonly after: readonly pulumi.Resource[];
}

/**
 * The BigQuery scheduled query that recomputes the rollups' latest days on the stack's schedule.
 * A component of its own, declared after the views, because the row access policies on the event
 * table that must name its account are declared there, and the views read the rollup tables.
 */
export class RollupSchedule extends pulumi.ComponentResource {
  constructor(name: string, args: RollupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:RollupSchedule", name, {}, opts);
    // No destination table: the script's DELETEs and INSERTs write the rollups.
    new gcp.bigquery.DataTransferConfig(
      name,
      {
        project: args.project,
        displayName: `Pixel rollups (${args.scope})`,
        location: args.location,
        dataSourceId: "scheduled_query",
        schedule: args.settings.rollupSchedule,
        serviceAccountName: args.runnerEmail,
        params: { query: bigQueryRollupScript(args.core, args.project, args.datasetId, scheduledRange(args.settings.rollupLateDays)) },
      },
      // Depending on a component waits for every resource in it.
      { parent: this, dependsOn: [...args.after] },
    );
    this.registerOutputs({});
  }
}

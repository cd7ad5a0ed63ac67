import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { EVENT_DATE_COLUMN, PARTITIONED_TABLE, partitionedSchema, TENANT_COLUMN } from "../../core/layout";
import { templateSchema } from "../../core/schema";
import { LOAD_LEDGER_SCHEMA, LOAD_LEDGER_TABLE } from "../../core/batchLoad";
import type { IngestMode } from "../../core/batchLoad";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { RetentionSettings } from "../../core/config/retention";
import { clearInheritedExpiration, datasetExpirations, givesTablesExpiration, partitionExpiration } from "./tableExpiration";

export interface EventWarehouseArgs {
  readonly datasetId: string;
  readonly location: string;
  readonly core: CoreSettings;
  /** Keeps `pulumi destroy` from deleting the template table and the day tables with it. */
  readonly deletionProtection: boolean;
  /** Partitioned layout: BigQuery refuses queries and DML on the table that do not filter on event_date. */
  readonly requirePartitionFilter: boolean;
  /** How long the day tables and the partitions are kept, and the time travel window. */
  readonly retention: RetentionSettings;
  /** Batch also keeps the load ledger here: what became of each archive object. */
  readonly ingest: IngestMode;
}

/**
 * The dataset and the tables the function streams into. per-tenant-day: the template table, from
 * which BigQuery creates each `<template>_<tenant>_<YYYYMMDD>` table on first use. partitioned:
 * one table partitioned by event date; the template stays, empty, so switching to it deletes no
 * table.
 */
export class EventWarehouse extends pulumi.ComponentResource {
  public readonly datasetId: pulumi.Output<string>;
  public readonly templateTableId: pulumi.Output<string>;
  /** What the events view reads: the template, whose wildcard also reaches the day tables, or the partitioned table. */
  public readonly eventSource: gcp.bigquery.Table;

  constructor(name: string, args: EventWarehouseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:EventWarehouse", name, {}, opts);

    // Table names must stay case-sensitive: tenants "Acme" and "x41cme" encode to "X41cme" and "x41cme".
    const dataset = new gcp.bigquery.Dataset(
      `${name}-dataset`,
      {
        datasetId: args.datasetId,
        location: args.location,
        isCaseInsensitive: false,
        ...datasetExpirations(args.core.layout, args.retention),
        deleteContentsOnDestroy: !args.deletionProtection,
        description:
          args.core.layout === "partitioned"
            ? "Pixel events: one table partitioned by UTC day and clustered by tenant; query the events view."
            : "Pixel events: one table per tenant and UTC day, created from the template table.",
      },
      { parent: this },
    );
    const template = new gcp.bigquery.Table(
      `${name}-template`,
      {
        datasetId: dataset.datasetId,
        tableId: args.core.templateTable,
        schema: JSON.stringify(templateSchema(args.core.attributes)),
        deletionProtection: args.deletionProtection,
        description: "Template for the day tables; holds no rows itself.",
      },
      { parent: this },
    );
    // The day tables are created from it: it must outlive them.
    if (givesTablesExpiration(args.core.layout, args.retention)) {
      clearInheritedExpiration(`${name}-template-keep`, template, { kind: "TABLE", location: args.location }, this);
    }

    // A query for some days of some tenants reads only their partitions and blocks, not the table.
    const partitioned =
      args.core.layout === "partitioned"
        ? new gcp.bigquery.Table(
            `${name}-partitioned`,
            {
              datasetId: dataset.datasetId,
              tableId: PARTITIONED_TABLE,
              schema: JSON.stringify(partitionedSchema(args.core.attributes)),
              timePartitioning: { type: "DAY", field: EVENT_DATE_COLUMN, ...partitionExpiration(args.retention) },
              // An unfiltered query is refused instead of billed for every day ever stored.
              requirePartitionFilter: args.requirePartitionFilter,
              clusterings: [TENANT_COLUMN, ...(args.core.eventTypeAttribute ? [args.core.eventTypeAttribute] : [])],
              deletionProtection: args.deletionProtection,
              description: "Every event, partitioned by its UTC day and clustered by tenant (then event type); streamed without templateSuffix.",
            },
            { parent: this },
          )
        : undefined;

    if (args.ingest === "batch") {
      new gcp.bigquery.Table(
        `${name}-load-ledger`,
        {
          datasetId: dataset.datasetId,
          tableId: LOAD_LEDGER_TABLE,
          schema: JSON.stringify(LOAD_LEDGER_SCHEMA),
          // The sweep reads the recent rows; a day's partition is what a look at one day scans.
          timePartitioning: { type: "DAY", field: "recorded_at" },
          clusterings: ["object"],
          deletionProtection: args.deletionProtection,
          description: "The batch tier's record of each archive object: loaded, failed (an attempt) or dead, with its load jobs.",
        },
        { parent: this },
      );
    }

    this.datasetId = dataset.datasetId;
    this.templateTableId = template.tableId;
    this.eventSource = partitioned ?? template;
    this.registerOutputs({ datasetId: this.datasetId, templateTableId: this.templateTableId });
  }
}

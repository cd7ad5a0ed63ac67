import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { templateSchema } from "../functions/core/schema";
import type { CoreSettings } from "../functions/core/settings";

export interface EventWarehouseArgs {
  readonly datasetId: string;
  readonly location: string;
  readonly core: CoreSettings;
  /** Keeps `pulumi destroy` from deleting the template table and the day tables with it. */
  readonly deletionProtection: boolean;
}

/**
 * The dataset and the template table. The function streams rows with a templateSuffix, and
 * BigQuery creates each `<template>_<tenant>_<YYYYMMDD>` table from the template on first use.
 */
export class EventWarehouse extends pulumi.ComponentResource {
  public readonly datasetId: pulumi.Output<string>;
  public readonly templateTableId: pulumi.Output<string>;

  constructor(name: string, args: EventWarehouseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:EventWarehouse", name, {}, opts);

    // Table names must stay case-sensitive: tenants "Acme" and "x41cme" encode to "X41cme" and "x41cme".
    const dataset = new gcp.bigquery.Dataset(
      `${name}-dataset`,
      {
        datasetId: args.datasetId,
        location: args.location,
        isCaseInsensitive: false,
        deleteContentsOnDestroy: !args.deletionProtection,
        description: "Pixel events: one table per tenant and UTC day, created from the template table.",
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

    this.datasetId = dataset.datasetId;
    this.templateTableId = template.tableId;
    this.registerOutputs({ datasetId: this.datasetId, templateTableId: this.templateTableId });
  }
}

import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { Layout } from "../../core/layout";
import { retentionMs } from "../../core/config/retention";
import type { RetentionSettings } from "../../core/config/retention";

/**
 * How the retention reaches BigQuery (docs/privacy.md).
 *
 * The dataset's defaults apply to tables created after they are set, and to no table that exists
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets, defaultTableExpirationMs):
 * - defaultTableExpirationMs gives each new day table (per-tenant-day) an expiration of its
 *   creation, which is its day's first event, plus the retention;
 * - defaultPartitionExpirationMs gives each new partitioned table the retention as its partition
 *   expiration, and then BigQuery gives it no table expiration: the partitioned event table and the
 *   rollups keep their partitions for the retention, and the tables themselves for ever.
 * Tables that exist get theirs from the declarations (partitionExpiration) or, for day tables
 * created before, from `npm run retention`.
 */
export interface DatasetExpirations {
  readonly defaultTableExpirationMs?: number;
  readonly defaultPartitionExpirationMs?: number;
  /** The provider takes the window as a string of hours. */
  readonly maxTimeTravelHours: string;
}

export function datasetExpirations(layout: Layout, retention: RetentionSettings): DatasetExpirations {
  const expiration = retentionMs(retention);
  return {
    ...(expiration !== undefined && givesTablesExpiration(layout, retention) ? { defaultTableExpirationMs: expiration } : {}),
    ...(expiration !== undefined ? { defaultPartitionExpirationMs: expiration } : {}),
    maxTimeTravelHours: String(retention.timeTravelHours),
  };
}

/**
 * Whether the dataset gives every new table an expiration: only per-tenant-day creates tables as
 * days go by. The partitioned layout creates none, and its template and views then need no care.
 */
export function givesTablesExpiration(layout: Layout, retention: Pick<RetentionSettings, "days">): boolean {
  return layout === "per-tenant-day" && retention.days !== undefined;
}

/**
 * A declared partitioned table's partition expiration, so that tables created before the dataset's
 * default get it too (the provider updates it in place). For ever: none is sent, and a partition
 * expiration set earlier stays (the provider cannot send 0); docs/privacy.md says how to clear it.
 */
export function partitionExpiration(retention: Pick<RetentionSettings, "days">): { expirationMs?: number } {
  const expiration = retentionMs(retention);
  return expiration === undefined ? {} : { expirationMs: expiration };
}

/**
 * Clears the expiration BigQuery gives a declared table that is not partitioned (the template, a
 * view) when the dataset has a default table expiration: the provider cannot create a table
 * without one there, as it sends no expirationTime for 0 (terraform-provider-google#6509). A query
 * job runs the DDL once per creation of the table: its id holds the table's creation time, so a
 * table created again is cleared again. A job cannot be deleted: removing the resource only drops
 * it from the state.
 */
export function clearInheritedExpiration(
  name: string,
  table: gcp.bigquery.Table,
  args: { readonly kind: "TABLE" | "VIEW"; readonly location: string },
  parent: pulumi.Resource,
): gcp.bigquery.Job {
  return new gcp.bigquery.Job(
    name,
    {
      jobId: pulumi.interpolate`keep_${table.datasetId}_${table.tableId}_${table.creationTime}`,
      location: args.location,
      query: {
        query: pulumi.interpolate`ALTER ${args.kind} \`${table.project}.${table.datasetId}.${table.tableId}\` SET OPTIONS (expiration_timestamp = NULL)`,
        useLegacySql: false,
        // A DDL statement takes no disposition; the provider's defaults would be refused.
        createDisposition: "",
        writeDisposition: "",
      },
    },
    { parent },
  );
}

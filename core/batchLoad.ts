import { createHash } from "node:crypto";
import type { SchemaField } from "./schema";

/**
 * How events reach the warehouse. `streaming` (the default): every request log entry is pushed
 * through Pub/Sub to the collector function and streamed in within seconds. `batch`: the raw
 * archive's hourly files are loaded with free BigQuery load jobs, hours later, for about the
 * price of the CDN alone (docs/costs.md).
 */
export const INGEST_MODES = ["streaming", "batch"] as const;
export type IngestMode = (typeof INGEST_MODES)[number];

/**
 * Where the archive sink writes the load balancer's request log: one folder per log id, then
 * `YYYY/MM/DD/HH:00:00_HH:59:59_S<n>.json` (or `A<n>` for late entries). Only these objects are
 * loaded: anything else in the bucket, such as what the pipeline writes itself, is not a source.
 */
export const SINK_OBJECT_PREFIX = "requests/";

export function isSinkObject(objectName: string): boolean {
  return objectName.startsWith(SINK_OBJECT_PREFIX) && objectName.endsWith(".json");
}

/** BigQuery job ids: letters, digits, underscores and dashes, at most 1,024 characters. */
const JOB_ID_HASH_LENGTH = 40;

/**
 * The id of the one load job that moves an archive object's rows into one table. It depends on the
 * bucket, the object's name and the table only, never on the object's generation: a redelivered
 * event, the sweep, a replay and a later rewrite of the object (erasure) all name the same job, and
 * BigQuery runs a job id at most once. A rebuild names a new job on purpose, with its own token.
 */
export function loadJobId(bucket: string, objectName: string, table: string, rebuildToken?: string): string {
  // JSON keeps the parts apart whatever characters they hold.
  const key = JSON.stringify([bucket, objectName, table, ...(rebuildToken === undefined ? [] : [rebuildToken])]);
  const hash = createHash("sha256").update(key).digest("hex").slice(0, JOB_ID_HASH_LENGTH);
  return rebuildToken === undefined ? `pixel_load_${hash}` : `pixel_rebuild_${hash}`;
}

/**
 * The batch tier's record of what became of each archive object, one row per attempt. The sweep
 * loads any sink object with no `loaded` or `dead` row; `failed` rows count the attempts before
 * an object is recorded dead. It holds object names and counts, never an entry's content.
 */
export const LOAD_LEDGER_TABLE = "load_ledger";

export const LOAD_OUTCOMES = ["loaded", "failed", "dead"] as const;
export type LoadOutcome = (typeof LOAD_OUTCOMES)[number];

export const LOAD_LEDGER_SCHEMA: readonly SchemaField[] = [
  { name: "object", type: "STRING", mode: "REQUIRED", description: "The archive object, gs://bucket/name." },
  { name: "generation", type: "STRING", mode: "NULLABLE", description: "The object's generation when it was read." },
  { name: "outcome", type: "STRING", mode: "REQUIRED", description: `One of ${LOAD_OUTCOMES.join(", ")}.` },
  { name: "entries", type: "INT64", mode: "NULLABLE", description: "Log entries read from the object." },
  { name: "rows", type: "INT64", mode: "NULLABLE", description: "Rows its load jobs wrote (or had written before)." },
  { name: "refused", type: "INT64", mode: "NULLABLE", description: "Entries refused by the core, as the collector refuses them." },
  { name: "jobs", type: "STRING", mode: "NULLABLE", description: "JSON list of the object's load jobs: table, job id, rows." },
  { name: "detail", type: "STRING", mode: "NULLABLE", description: "Why an attempt failed or the object is dead." },
  { name: "recorded_at", type: "TIMESTAMP", mode: "REQUIRED", description: "When this row was written." },
];

/**
 * The `reason` of the one ERROR line the batch functions log when they record an archive object
 * as dead (unreadable, or over the size bound, after bounded retries): monitoring counts these
 * lines and alerts on them, so the two must agree on the value.
 */
export const ARCHIVE_OBJECT_DEAD_REASON = "archive_object_dead";

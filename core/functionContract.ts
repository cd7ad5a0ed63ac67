/**
 * What the deployed function and the program that deploys it agree on: the entry point and the
 * environment variables it reads. Both sides take the names from here, so the Pulumi program
 * never loads the function's runtime modules to learn them.
 */
export const FUNCTION_ENTRY_POINT = "collectPixelEvent";
/** The parser settings as JSON (serializeCoreSettings); never the signing keys. */
export const SETTINGS_VARIABLE = "PIXEL_PIPELINE_SETTINGS";
export const DATASET_VARIABLE = "PIXEL_DATASET_ID";
/** The signing keys, one per line or comma-separated: a secret environment variable from Secret Manager. */
export const SIGNING_KEYS_VARIABLE = "PIXEL_SIGNING_KEYS";
/** The key of the daily visitor ids: a secret environment variable from Secret Manager. */
export const VISITOR_KEY_VARIABLE = "PIXEL_VISITOR_KEY";
/** The IP-to-country table (core/country.ts), deployed beside the bundle's index.js. */
export const COUNTRY_TABLE_FILE = "countries.bin";
/** Pub/Sub's delivery budget (maxDeliveryAttempts), so the function's delivery policy is the one Pub/Sub applies. */
export const DELIVERY_ATTEMPTS_VARIABLE = "PIXEL_MAX_DELIVERY_ATTEMPTS";

/** The batch tier's loader: a CloudEvent function on each archive object finalized (functions/batchIndex.ts). */
export const LOADER_ENTRY_POINT = "loadArchiveObject";
/** The batch tier's sweep: a CloudEvent function on the scheduler's Pub/Sub message, in the loader's bundle. */
export const SWEEP_ENTRY_POINT = "sweepArchive";
/** The archive bucket the loader reads and the sweep lists. */
export const ARCHIVE_BUCKET_VARIABLE = "PIXEL_ARCHIVE_BUCKET";
/**
 * The dataset's BigQuery location, for the batch loader's jobs: BigQuery finds a job in the US or
 * EU multi-region without it, but a job in a region (europe-west3, say) only when told where.
 */
export const DATASET_LOCATION_VARIABLE = "PIXEL_DATASET_LOCATION";

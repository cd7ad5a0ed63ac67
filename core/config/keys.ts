/**
 * Every `pixel-pipeline:` stack setting, once: its description, the type Pulumi checks, and its
 * default. The validators take their defaults from here, and Pulumi.yaml declares exactly these
 * (test/core/config/keys.test.ts compares the two).
 *
 * Pulumi merges a declared default into every stack that does not set the key, and refuses to run
 * a stack that lacks a declared key without a default. So an optional key whose default depends on
 * other settings declares an empty value ("", [] or {}), which the validators read as "not set".
 * Such keys, and the lists (which also take one comma-separated string), declare no type.
 */
/**
 * The oldest Pulumi CLI that accepts these declarations: `type: object` (attributes, tenantReaders)
 * arrived in 3.187.0 (pulumi/pulumi#20132); older CLIs refuse the stack. Pulumi.yaml's comment, the
 * README and docs/deploy.md name this version (test/core/config/keys.test.ts holds them to it).
 */
export const MIN_PULUMI_CLI_VERSION = "3.187";

export interface ConfigKeySpec {
  readonly description: string;
  /** Pulumi's own check of the value, where it accepts every form the validator accepts. */
  readonly type?: "string" | "integer" | "boolean" | "object";
  /** Absent for a required key. */
  readonly default?: string | number | boolean | readonly [] | Readonly<Record<string, never>>;
}

const NOT_SET = "";
const NO_ITEMS: readonly [] = [];
const NO_ENTRIES: Readonly<Record<string, never>> = {};

export const CONFIG_KEYS = {
  // What the parser reads: the function, npm start, parse and replay share these.
  attributes: {
    type: "object",
    description: "The query parameters to keep, in column order, each with its type: STRING, INT64, FLOAT64 or BOOL. Must include the tenant attribute.",
  },
  tenantAttribute: { type: "string", default: "user_id", description: "The query parameter that names the tenant; its value picks the table." },
  tenantAllowlist: { default: NO_ITEMS, description: "When not empty, every other tenant is refused before a table could be created." },
  pixelPath: { type: "string", default: "/pixel.png", description: "The path of the pixel; only requests for it are events." },
  anonymizeIp: { type: "boolean", default: true, description: "Cut client IPs to /24 (IPv4) or /48 (IPv6) before they are stored." },
  maxValueLength: { type: "integer", default: 1024, description: "Longer STRING values are cut to this many characters (1 to 65536)." },
  templateTable: { type: "string", default: "pixel", description: "The template table; day tables are <templateTable>_<tenant>_<YYYYMMDD>." },
  layout: { type: "string", default: "per-tenant-day", description: "per-tenant-day (a table per tenant and UTC day) or partitioned (one table partitioned by day)." },
  eventTypeAttribute: { type: "string", default: NOT_SET, description: "The attribute that names an event's type; empty: the attribute named type, if there is one." },
  signedUrls: { type: "boolean", default: false, description: "Refuse pixel URLs without a valid sig; needs signingKeys (set them with --secret)." },
  utmColumns: { type: "boolean", default: true, description: "Fill utm_source, utm_medium, utm_campaign, utm_term and utm_content from the pixel URL or the page's query; false leaves them NULL." },

  // What the Pulumi program reads.
  ingest: {
    type: "string",
    default: "streaming",
    description: "streaming (each event through Pub/Sub and the collector, in BigQuery within seconds) or batch (the raw archive's hourly files loaded with free load jobs, hours later; needs archive).",
  },
  domain: { type: "string", default: NOT_SET, description: "Serve HTTPS on this host name with a managed certificate; empty: plain HTTP on the IP." },
  region: { type: "string", default: NOT_SET, description: "Where the function and the buckets live; empty: gcp:region, else us-central1." },
  datasetId: { type: "string", default: NOT_SET, description: "The BigQuery dataset; empty: pixel_<stack>." },
  datasetLocation: { type: "string", default: "US", description: "The dataset's BigQuery location, such as US, EU or europe-west3." },
  deletionProtection: { type: "boolean", default: true, description: "Keep pulumi destroy from deleting the tables, the dataset and the archive with their data." },
  functionMemory: { type: "string", default: "512Mi", description: "Memory per function instance, 128Mi to 32Gi." },
  functionCpu: { type: "string", default: "1", description: "vCPUs per function instance: 0.08 to 1, or 2, 4, 6 or 8." },
  functionMaxInstances: { type: "integer", default: 10, description: "Upper bound on function instances, and so on cost (1 to 1000)." },
  functionConcurrency: { type: "integer", default: 16, description: "Requests one instance handles at once (1 to 1000); above 1 needs 1 vCPU or more." },
  functionTimeoutSeconds: { type: "integer", default: 60, description: "The function's timeout and the push subscription's ack deadline (10 to 600)." },
  maxDeliveryAttempts: { type: "integer", default: 10, description: "Deliveries of one message before it moves to the dead-letter topic (5 to 100)." },
  secretLocations: {
    default: NO_ITEMS,
    description: "Where Secret Manager keeps the function's secrets (regions, user-managed replication); empty: the stack's region, and secrets that exist stay where they are.",
  },
  tenantReaders: { type: "object", default: NO_ENTRIES, description: "Per tenant, the IAM principals who see that tenant's rows only: of the rollups, and with layout partitioned of the events too." },
  allTenantsReaders: { default: NO_ITEMS, description: "Required with tenantReaders: the IAM principals who see every row." },
  rollupLateDays: { type: "integer", default: 2, description: "Each scheduled rollup run recomputes today and this many days before it, for late events (1 to 31)." },
  rollupSchedule: { type: "string", default: "every 1 hours", description: "When the rollups are recomputed, in UTC: every N minutes (5 to 1440), every N hours (1 to 24) or every day HH:MM." },
  lookerTenantUserAttribute: { type: "string", default: NOT_SET, description: "The Looker user attribute holding each user's tenant; npm run lookml puts a tenant access_filter on every explore. Empty: none." },
  lookerConnection: { type: "string", default: NOT_SET, description: "Grant Looker read-only access: service-account (one the program creates) or serviceAccount:<email> (such as Looker (Google Cloud core)'s agent); empty: none." },
  requirePartitionFilter: { type: "boolean", default: true, description: "Partitioned layout: refuse queries and DML on events_partitioned without an event_date filter, instead of billing a full scan." },

  // Retention: how long what is stored is kept, and how long BigQuery keeps what was deleted (docs/privacy.md).
  retentionDays: {
    default: NOT_SET,
    description: 'Rows, rollups, the archive and the local database keep each UTC day this many days (1 to 3650), or "forever"; empty: 760 (25 months), and pulumi preview warns.',
  },
  timeTravelHours: { type: "integer", default: 48, description: "How long BigQuery can still read back deleted or changed tables and rows (48 to 168, in whole days)." },

  // Operations: archive, log storage, monitoring, the edge policy.
  archive: { type: "boolean", default: true, description: "Keep every request log entry in a private archive bucket, for npm run replay." },
  archiveColdAfterDays: { type: "integer", default: 30, description: "Archived files move to Coldline this many days after they were written." },
  archiveDeleteAfterDays: { default: NOT_SET, description: "Archived files are deleted this many days after they were written (at most retentionDays); empty: after retentionDays." },
  archiveSoftDeleteDays: { type: "integer", default: 7, description: "Deleted or rewritten archive files stay recoverable this many days (Cloud Storage soft delete): 0, or 7 to 90." },
  excludeRequestLogsFromDefaultBucket: { default: NOT_SET, description: "Keep the request logs out of the _Default log bucket (true or false); empty: the value of archive." },
  monitoring: { type: "boolean", default: true, description: "Declare the log-based metrics, alert policies and dashboard." },
  alertEmail: { type: "string", default: NOT_SET, description: "Also send alerts to this e-mail address." },
  alertBacklogMinutes: { type: "integer", default: 30, description: "Alert when the oldest message waiting for the function is older than this (15 to 1440)." },
  edgeDeniedIpRanges: { default: NO_ITEMS, description: "IP addresses or CIDR ranges that get a 403 at the edge (Cloud Armor), at most 100." },
  edgeDeniedRegions: { default: NO_ITEMS, description: "ISO 3166-1 alpha-2 region codes that get a 403 at the edge, at most 50." },
} as const satisfies Readonly<Record<string, ConfigKeySpec>>;

/**
 * The signing keys are a setting too, but are not declared in Pulumi.yaml: a secret cannot have a
 * plain default, and without one Pulumi would require the key on every stack.
 */
export const SECRET_CONFIG_KEYS = ["signingKeys"] as const;

export type ConfigKey = keyof typeof CONFIG_KEYS | (typeof SECRET_CONFIG_KEYS)[number];

/** Every setting the validators know; any other key is reported as a problem. */
export const KNOWN_CONFIG_KEYS: readonly ConfigKey[] = [...(Object.keys(CONFIG_KEYS) as (keyof typeof CONFIG_KEYS)[]), ...SECRET_CONFIG_KEYS];

/** Whether a value is what Pulumi.yaml declares as the key's default: a switched-off feature's key may hold it. */
export function isDeclaredDefault(key: keyof typeof CONFIG_KEYS, value: unknown): boolean {
  const declared = (CONFIG_KEYS[key] as ConfigKeySpec).default;
  return declared !== undefined && JSON.stringify(typeof value === "string" && typeof declared !== "string" ? parseJson(value) : value) === JSON.stringify(declared);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

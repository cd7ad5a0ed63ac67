import { batchLoadQuotaWarnings } from "../batchLimits";
import {
  ConfigError,
  ConfigProblems,
  RawConfig,
  readBoolean,
  readInteger,
  readString,
  readStringList,
  reportUnknownKeys,
} from "./fields";
import { SIGNING_KEYS_VARIABLE } from "../functionContract";
import { INGEST_MODES } from "../batchLoad";
import type { IngestMode } from "../batchLoad";
import { CoreSettings, readCoreSettings, withSigningKeys } from "./coreSettings";
import { CONFIG_KEYS, KNOWN_CONFIG_KEYS } from "./keys";
import { OperationsSettings, readOperationsSettings, reportUnused } from "./operations";
import { readTenantReaders, TenantReaders } from "./tenantReaders";
import { readWarehouseSettings, WarehouseSettings } from "./warehouse";
import { readRetentionSettings, RETENTION_FOREVER, RetentionSettings } from "./retention";
import { LookerSettings, readLookerSettings } from "./looker";

/** How the collector function runs; the limits follow Cloud Run's CPU, memory and concurrency rules. */
export interface CollectorSettings {
  /** Memory per instance, in Mi or Gi, e.g. "512Mi". */
  readonly memory: string;
  /** vCPUs per instance: 0.08 to 1, or 2, 4, 6, 8. */
  readonly cpu: string;
  readonly maxInstances: number;
  /** Requests one instance handles at once; above 1 needs at least 1 vCPU. */
  readonly concurrency: number;
  /** Also the push subscription's ack deadline, so Pub/Sub never redelivers a message still being handled. */
  readonly timeoutSeconds: number;
}

/**
 * Where Secret Manager keeps the function's secrets: user-managed replicas in these locations,
 * because automatic replication counts as the `global` location, which the organisation policy
 * constraints/gcp.resourceLocations commonly refuses. A secret's replication cannot change once it
 * is created: changing it replaces the secret.
 */
export interface SecretPlacement {
  /** The regions that hold a replica: secretLocations, else the stack's region. */
  readonly locations: readonly string[];
  /**
   * True when the stack does not set secretLocations: a secret that exists keeps its replication
   * (stacks deployed before this setting keep their automatic replication), and only new ones
   * follow `locations`. False: every secret follows the setting, replaced if it was created elsewhere.
   */
  readonly keepExisting: boolean;
}

/** Everything the program needs, validated; only infra/config.ts builds it from the stack's config. */
export interface StackConfig {
  readonly stack: string;
  readonly project: string;
  readonly region: string;
  readonly core: CoreSettings;
  /** How events reach the warehouse: streamed one by one, or loaded from the raw archive's files (core/batchLoad.ts). */
  readonly ingest: IngestMode;
  /** Serve HTTPS on this host name; without it the pixel is served over plain HTTP on the IP. */
  readonly domain?: string;
  readonly datasetId: string;
  readonly datasetLocation: string;
  readonly deletionProtection: boolean;
  readonly collector: CollectorSettings;
  /** Deliveries of one message before it goes to the dead-letter topic. */
  readonly maxDeliveryAttempts: number;
  /** Where the function's secrets are replicated. */
  readonly secretPlacement: SecretPlacement;
  /** With signedUrls only: the signing keys, one per line, as the function reads them. */
  readonly signingKeys?: string;
  /** Who may read which tenant's rows: of the rollups, and with the partitioned layout of the events (docs/analytics.md). */
  readonly tenantReaders?: TenantReaders;
  /** The rollups' schedule and window, and the event table's partition filter. */
  readonly warehouse: WarehouseSettings;
  /** How long rows, rollups and archived entries are kept, and BigQuery's time travel window (docs/privacy.md). */
  readonly retention: RetentionSettings;
  readonly looker: LookerSettings;
  /** Raw archive, log exclusion, monitoring and the edge policy (docs/operations.md). */
  readonly operations: OperationsSettings;
}

/** Values that live outside the `pixel-pipeline:` namespace. */
export interface StackContext {
  readonly stack: string;
  /** `gcp:project` */
  readonly project?: string;
  /** The Pulumi program needs a project; the local commands validate a stack without one. */
  readonly projectOptional?: boolean;
  /** `gcp:region` */
  readonly providerRegion?: string;
}

export const DEFAULT_REGION = "us-central1";

export const DEFAULT_STACK_SETTINGS = {
  ingest: CONFIG_KEYS.ingest.default,
  datasetLocation: CONFIG_KEYS.datasetLocation.default,
  deletionProtection: CONFIG_KEYS.deletionProtection.default,
  functionMemory: CONFIG_KEYS.functionMemory.default,
  functionCpu: CONFIG_KEYS.functionCpu.default,
  functionMaxInstances: CONFIG_KEYS.functionMaxInstances.default,
  functionConcurrency: CONFIG_KEYS.functionConcurrency.default,
  functionTimeoutSeconds: CONFIG_KEYS.functionTimeoutSeconds.default,
  maxDeliveryAttempts: CONFIG_KEYS.maxDeliveryAttempts.default,
} as const;

/**
 * What a valid configuration still leaves open, for `pulumi preview` to say before anything is
 * deployed. Without an allowlist or signed URLs anyone can invent tenants; a batch stack in the
 * per-tenant-day layout may run out of BigQuery's load jobs (core/batchLimits.ts).
 */
export function stackConfigWarnings(config: Pick<StackConfig, "core" | "retention" | "ingest">): string[] {
  return [...openTenantsWarnings(config), ...retentionWarnings(config), ...batchLoadQuotaWarnings(config.ingest, config.core.layout, config.core.tenantAllowlist)];
}

/**
 * The default retention is also applied to stacks deployed before the setting existed: their
 * next update would set expirations that delete every day older than it.
 */
function retentionWarnings({ retention }: Pick<StackConfig, "retention">): string[] {
  if (retention.chosen) return [];
  return [
    `pixel-pipeline:retentionDays is not set, so data is kept ${retention.days} days: on a stack deployed before this setting existed, the next pulumi up makes BigQuery expire the partitions (rollups, events_partitioned), and the archive delete the files, of every day older than that. Set it, to ${retention.days} or to "${RETENTION_FOREVER}" to keep everything, and run npm run retention -- --dry-run to see what would go (docs/deploy.md#upgrading-to-a-retention).`,
  ];
}

function openTenantsWarnings({ core }: Pick<StackConfig, "core">): string[] {
  if (core.tenantAllowlist || core.signedUrls) return [];
  const cost =
    core.layout === "per-tenant-day"
      ? "each new tenant creates BigQuery tables, a table per day, and BigQuery creates at most about 10 tables a second, so a flood of invented tenants backs up the whole pipeline"
      : "each invented tenant becomes rows in your tables and a series of the request metric";
  return [
    `Anyone can invent tenants: with neither pixel-pipeline:tenantAllowlist nor pixel-pipeline:signedUrls set, any ${core.tenantAttribute} value is accepted, and ${cost}. Set tenantAllowlist, or turn on signedUrls, before you publish the pixel (docs/deploy.md#production-checklist).`,
  ];
}

/** BigQuery dataset ids allow [A-Za-z0-9_]; stack names also allow "-" and ".". */
export function defaultDatasetId(stack: string): string {
  return `pixel_${stack.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
const DATASET_ID = /^[A-Za-z0-9_]{1,1024}$/;
const DATASET_LOCATION = /^(?:[A-Za-z]+|[a-z]+-[a-z]+[0-9]+)$/;
const HOST_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MEMORY = /^([0-9]+)(Mi|Gi)$/;
const CPU = /^(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)$/;
const INGEST_MODE = new RegExp(`^(?:${INGEST_MODES.join("|")})$`);

/** The push subscription's and its backlog alert's settings: a batch stack has neither. */
const STREAMING_ONLY_KEYS = ["functionTimeoutSeconds", "maxDeliveryAttempts", "alertBacklogMinutes"] as const;

/** Memory Cloud Run allows per whole vCPU count, in MiB. */
const MEMORY_RANGE_BY_CPU: Readonly<Record<number, readonly [number, number]>> = {
  1: [128, 4 * 1024],
  2: [128, 8 * 1024],
  4: [2 * 1024, 16 * 1024],
  6: [4 * 1024, 24 * 1024],
  8: [4 * 1024, 32 * 1024],
};

/**
 * Validates the stack's configuration and throws one ConfigError listing every problem, each with
 * its key and the fix, before any resource is declared.
 */
export function validateStackConfig(raw: RawConfig, context: StackContext): StackConfig {
  const problems = new ConfigProblems();
  reportUnknownKeys(raw, KNOWN_CONFIG_KEYS, problems);
  const project = readProject(context, problems);
  const core = readCoreSettings(raw, problems);
  const region = readString(raw, "region", problems, {
    fallback: context.providerRegion ?? DEFAULT_REGION,
    pattern: REGION,
    hint: 'use a Cloud Functions region such as "us-central1" or "europe-west1"',
  });
  const domain = readString(raw, "domain", problems, {
    pattern: HOST_NAME,
    hint: 'use a host name you control, such as "track.example.com": no scheme, path, port, wildcard or trailing dot',
  });
  const datasetId = readString(raw, "datasetId", problems, {
    fallback: defaultDatasetId(context.stack),
    pattern: DATASET_ID,
    hint: "use 1 to 1024 letters, digits and _",
  });
  const datasetLocation = readString(raw, "datasetLocation", problems, {
    fallback: DEFAULT_STACK_SETTINGS.datasetLocation,
    pattern: DATASET_LOCATION,
    hint: 'use a BigQuery location such as "US", "EU" or "europe-west3"',
  });
  const signingKeys = core.signedUrls ? readSigningKeys(raw, core, problems) : undefined;
  const tenantReaders = readTenantReaders(raw, core, problems);
  const warehouse = readWarehouseSettings(raw, core, problems);
  const retention = readRetentionSettings(raw, warehouse.rollupLateDays, problems);
  const operations = readOperationsSettings(raw, retention, problems);
  const ingest = readIngestMode(raw, operations, problems);
  const config = {
    stack: context.stack,
    project,
    region,
    core,
    ingest,
    ...(domain ? { domain: domain.toLowerCase() } : {}),
    datasetId,
    datasetLocation,
    deletionProtection: readBoolean(raw, "deletionProtection", problems, DEFAULT_STACK_SETTINGS.deletionProtection),
    collector: readCollectorSettings(raw, problems),
    maxDeliveryAttempts: readInteger(raw, "maxDeliveryAttempts", problems, {
      fallback: DEFAULT_STACK_SETTINGS.maxDeliveryAttempts,
      min: 5,
      max: 100,
    }),
    secretPlacement: readSecretPlacement(raw, region, problems),
    ...(signingKeys ? { signingKeys } : {}),
    ...(tenantReaders ? { tenantReaders } : {}),
    warehouse,
    retention,
    looker: readLookerSettings(raw, problems),
    operations,
  };
  if (!problems.isEmpty) throw new ConfigError(problems.messages);
  return config;
}

/**
 * The batch tier loads the raw archive's files, so it needs the archive. Its functions run on
 * events with the longest timeout those may have, and nothing is pushed or backs up in Pub/Sub, so
 * the push settings would be ignored.
 */
function readIngestMode(raw: RawConfig, operations: OperationsSettings, problems: ConfigProblems): IngestMode {
  const ingest = readString(raw, "ingest", problems, {
    fallback: DEFAULT_STACK_SETTINGS.ingest,
    pattern: INGEST_MODE,
    hint: 'use "streaming" (each event in BigQuery within seconds, the default) or "batch" (the archive\'s hourly files loaded hours later, for about the price of the CDN alone)',
  }) as IngestMode;
  if (ingest !== "batch") return ingest;
  if (!operations.archive) {
    problems.add("ingest", "batch loads the raw archive's files, but archive is false: set archive to true, or ingest to streaming.");
  }
  reportUnused(raw, STREAMING_ONLY_KEYS, { while: "ingest is batch", fix: "set ingest to streaming" }, problems);
  return ingest;
}

function readProject({ project, projectOptional }: StackContext, problems: ConfigProblems): string {
  if (!project && !projectOptional) {
    problems.addQualified("gcp:project", "is required: run `pulumi config set gcp:project <your-project-id>`.");
  } else if (project && !PROJECT_ID.test(project)) {
    problems.addQualified("gcp:project", `${JSON.stringify(project)} is not a project id: use the id (6 to 30 of a-z, 0-9 and -), not the project name or number.`);
  }
  return project ?? "";
}

function readSecretPlacement(raw: RawConfig, region: string, problems: ConfigProblems): SecretPlacement {
  const locations = readStringList(raw, "secretLocations", problems) ?? [];
  locations.forEach((location, index) => {
    if (!REGION.test(location)) {
      problems.add(`secretLocations[${index}]`, `${JSON.stringify(location)} is not a region: use regions such as "europe-west1", which your organisation's resource locations allow.`);
    } else if (locations.indexOf(location) !== index) {
      problems.add(`secretLocations[${index}]`, `${JSON.stringify(location)} is listed twice: name each region once.`);
    }
  });
  return locations.length > 0 ? { locations, keepExisting: false } : { locations: [region], keepExisting: true };
}

/** The function's own start-up check decides which keys are usable, so the two can never disagree. */
function readSigningKeys(raw: RawConfig, core: CoreSettings, problems: ConfigProblems): string | undefined {
  const keys = readStringList(raw, "signingKeys", problems)?.join("\n");
  try {
    withSigningKeys(core, { [SIGNING_KEYS_VARIABLE]: keys });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.messages.push(...error.problems);
  }
  return keys;
}

function readCollectorSettings(raw: RawConfig, problems: ConfigProblems): CollectorSettings {
  const memory = readValid(problems, () => readMemory(raw, problems));
  const cpu = readValid(problems, () => readCpu(raw, problems));
  const concurrency = readValid(problems, () =>
    readInteger(raw, "functionConcurrency", problems, { fallback: DEFAULT_STACK_SETTINGS.functionConcurrency, min: 1, max: 1000 }),
  );
  const cpuCount = Number(cpu.value);
  if (cpu.valid && concurrency.valid && cpuCount < 1 && concurrency.value > 1) {
    problems.add("functionConcurrency", `${concurrency.value} needs at least 1 vCPU, but functionCpu is ${cpu.value}: set functionCpu to 1 or more, or functionConcurrency to 1.`);
  }
  if (cpu.valid && memory.valid) checkMemoryForCpu(memory.value, cpuCount, problems);
  return {
    memory: memory.value,
    cpu: cpu.value,
    maxInstances: readInteger(raw, "functionMaxInstances", problems, { fallback: DEFAULT_STACK_SETTINGS.functionMaxInstances, min: 1, max: 1000 }),
    concurrency: concurrency.value,
    // Pub/Sub allows ack deadlines of 10 to 600 s, and the deadline must cover the whole run.
    timeoutSeconds: readInteger(raw, "functionTimeoutSeconds", problems, { fallback: DEFAULT_STACK_SETTINGS.functionTimeoutSeconds, min: 10, max: 600 }),
  };
}

function readMemory(raw: RawConfig, problems: ConfigProblems): string {
  const memory = readString(raw, "functionMemory", problems, {
    fallback: DEFAULT_STACK_SETTINGS.functionMemory,
    pattern: MEMORY,
    hint: 'use a whole number of Mi or Gi, such as "512Mi" or "2Gi"',
  });
  const memoryMiB = mebibytes(memory);
  if (memoryMiB >= 128 && memoryMiB <= 32 * 1024) return memory;
  problems.add("functionMemory", `${memory} is outside the 128Mi to 32Gi a function may have.`);
  return DEFAULT_STACK_SETTINGS.functionMemory;
}

function readCpu(raw: RawConfig, problems: ConfigProblems): string {
  const hint = "use a number from 0.08 to 1, or 2, 4, 6 or 8";
  const text = readString(raw, "functionCpu", problems, { fallback: DEFAULT_STACK_SETTINGS.functionCpu, pattern: CPU, hint });
  const count = Number(text);
  if ((count >= 0.08 && count <= 1) || MEMORY_RANGE_BY_CPU[count]) return String(count);
  problems.add("functionCpu", `${JSON.stringify(text)} is not valid: ${hint}.`);
  return DEFAULT_STACK_SETTINGS.functionCpu;
}

function checkMemoryForCpu(memory: string, cpu: number, problems: ConfigProblems): void {
  const memoryMiB = mebibytes(memory);
  const range = MEMORY_RANGE_BY_CPU[cpu];
  if (range && (memoryMiB < range[0] || memoryMiB > range[1])) {
    problems.add("functionMemory", `${memory} does not fit ${cpu} vCPU, which needs ${range[0]}Mi to ${range[1]}Mi: change functionMemory or functionCpu.`);
  } else if (!range && cpu < 0.5 && memoryMiB > 512) {
    problems.add("functionMemory", `${memory} needs at least 0.5 vCPU, but functionCpu is ${cpu}: raise functionCpu or use at most 512Mi.`);
  } else if (!range && memoryMiB > 1024) {
    problems.add("functionMemory", `${memory} needs at least 1 vCPU, but functionCpu is ${cpu}: raise functionCpu or use at most 1Gi.`);
  }
}

function mebibytes(memory: string): number {
  const [, amount, unit] = MEMORY.exec(memory) ?? [];
  return Number(amount) * (unit === "Gi" ? 1024 : 1);
}

/** Runs a reader and tells whether it added a problem, so cross-checks skip values that fell back to a default. */
function readValid<T>(problems: ConfigProblems, read: () => T): { value: T; valid: boolean } {
  const before = problems.messages.length;
  const value = read();
  return { value, valid: problems.messages.length === before };
}

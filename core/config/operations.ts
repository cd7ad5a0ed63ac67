import { parseIPv4, parseIPv6 } from "../ip";
import { ConfigProblems, isAbsent, RawConfig, readBoolean, readInteger, readString, readStringList } from "./fields";
import { CONFIG_KEYS, isDeclaredDefault } from "./keys";
import type { ConfigKey } from "./keys";
import type { RetentionSettings } from "./retention";

/** The raw archive: every request log entry, kept in a private bucket for replay. */
export interface ArchiveSettings {
  /** Objects move to Coldline this many days after they were written. */
  readonly coldAfterDays: number;
  /**
   * Objects are deleted this many days after they were written, or, for an object an erasure
   * rewrote, after the hour its customTime holds; undefined keeps them for ever. archiveDeleteAfterDays
   * when set, else the retention.
   */
  readonly deleteAfterDays?: number;
  /** Deleted and overwritten objects stay recoverable this many days (Cloud Storage soft delete); 0 turns it off. */
  readonly softDeleteDays: number;
}

export interface MonitoringSettings {
  /** Alerts are also sent here by e-mail; without it they show only in Cloud Monitoring. */
  readonly alertEmail?: string;
  /** Alert when the oldest undelivered message of the push subscription is older than this. */
  readonly backlogAlertMinutes: number;
}

/** A Cloud Armor edge policy on the backend bucket: allow and deny only (see docs/operations.md). */
export interface EdgeSecuritySettings {
  /** IPv4 or IPv6 addresses or CIDR ranges that get a 403 before the cache is consulted. */
  readonly deniedIpRanges: readonly string[];
  /** ISO 3166-1 alpha-2 region codes that get a 403. */
  readonly deniedRegions: readonly string[];
}

export interface OperationsSettings {
  /** Undefined when the archive is off. */
  readonly archive?: ArchiveSettings;
  /** Keep the load balancer's request logs out of the `_Default` log bucket: they are exported anyway. */
  readonly excludeRequestLogsFromDefaultBucket: boolean;
  /** Undefined when monitoring is off. */
  readonly monitoring?: MonitoringSettings;
  /** Undefined unless some IP range or region is denied. */
  readonly edgeSecurity?: EdgeSecuritySettings;
}

export const DEFAULT_OPERATIONS_SETTINGS = {
  archive: CONFIG_KEYS.archive.default,
  archiveColdAfterDays: CONFIG_KEYS.archiveColdAfterDays.default,
  archiveSoftDeleteDays: CONFIG_KEYS.archiveSoftDeleteDays.default,
  monitoring: CONFIG_KEYS.monitoring.default,
  alertBacklogMinutes: CONFIG_KEYS.alertBacklogMinutes.default,
} as const;

/** The operations keys, which docs/operations.md documents. */
export const OPERATIONS_CONFIG_KEYS: readonly ConfigKey[] = [
  "archive",
  "archiveColdAfterDays",
  "archiveDeleteAfterDays",
  "archiveSoftDeleteDays",
  "excludeRequestLogsFromDefaultBucket",
  "monitoring",
  "alertEmail",
  "alertBacklogMinutes",
  "edgeDeniedIpRanges",
  "edgeDeniedRegions",
]; 

/** Ten years: a lifecycle age beyond that is a typo. */
const MAX_DAYS = 3650;
/** Cloud Storage's soft-delete retention: none, or 7 to 90 days. */
const MIN_SOFT_DELETE_DAYS = 7;
const MAX_SOFT_DELETE_DAYS = 90;
/** Cloud Armor allows at most 10 ranges per basic rule; a few dozen rules stay well inside its per-policy limits. */
export const MAX_DENIED_IP_RANGES = 100;
export const MAX_DENIED_REGIONS = 50;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const REGION_CODE = /^[A-Z]{2}$/;

/**
 * Reads the operations keys, adding every problem to `problems`; defaults keep a fresh stack
 * archived and monitored. The archive's entries are deleted with the retention unless
 * archiveDeleteAfterDays is set.
 */
export function readOperationsSettings(raw: RawConfig, retention: Pick<RetentionSettings, "days">, problems: ConfigProblems): OperationsSettings {
  const archiveOn = readBoolean(raw, "archive", problems, DEFAULT_OPERATIONS_SETTINGS.archive);
  const monitoringOn = readBoolean(raw, "monitoring", problems, DEFAULT_OPERATIONS_SETTINGS.monitoring);
  const archive = readArchive(raw, retention, problems);
  const monitoring = readMonitoring(raw, problems);
  if (!archiveOn) reportUnused(raw, ["archiveColdAfterDays", "archiveDeleteAfterDays", "archiveSoftDeleteDays"], { while: "archive is false", fix: "set archive to true" }, problems);
  if (!monitoringOn) reportUnused(raw, ["alertEmail", "alertBacklogMinutes"], { while: "monitoring is false", fix: "set monitoring to true" }, problems);
  const edgeSecurity = readEdgeSecurity(raw, problems);
  return {
    ...(archiveOn ? { archive } : {}),
    // Without the archive the _Default bucket is the only place the raw entries stay, so it keeps them unless told otherwise.
    excludeRequestLogsFromDefaultBucket: readBoolean(raw, "excludeRequestLogsFromDefaultBucket", problems, archiveOn),
    ...(monitoringOn ? { monitoring } : {}),
    ...(edgeSecurity.deniedIpRanges.length + edgeSecurity.deniedRegions.length > 0 ? { edgeSecurity } : {}),
  };
}

/**
 * archiveDeleteAfterDays, when set, wins over the retention for the archive, but may only shorten
 * it: the archive holds full client IPs, and a replay of an entry older than the retention would
 * bring back a row the retention removed. A shorter archive is allowed: it only limits how far
 * back rows can be rebuilt (replay), which is a choice, not a loss.
 */
function readArchive(raw: RawConfig, retention: Pick<RetentionSettings, "days">, problems: ConfigProblems): ArchiveSettings {
  const coldAfterDays = readInteger(raw, "archiveColdAfterDays", problems, {
    fallback: DEFAULT_OPERATIONS_SETTINGS.archiveColdAfterDays,
    min: 1,
    max: MAX_DAYS,
  });
  const softDeleteDays = readSoftDeleteDays(raw, problems);
  const deleteAfterDays = readDeleteAfterDays(raw, retention, problems);
  if (deleteAfterDays === undefined) return { coldAfterDays, softDeleteDays };
  if (deleteAfterDays.days <= coldAfterDays) {
    problems.add(
      deleteAfterDays.key,
      deleteAfterDays.key === "archiveDeleteAfterDays"
        ? `${deleteAfterDays.days} must be more than archiveColdAfterDays (${coldAfterDays}): raise it, or lower archiveColdAfterDays, or remove it to keep the archive as long as retentionDays.`
        : `${deleteAfterDays.days} also deletes archived files, which must outlast archiveColdAfterDays (${coldAfterDays}): lower archiveColdAfterDays, or raise retentionDays.`,
    );
  }
  return { coldAfterDays, deleteAfterDays: deleteAfterDays.days, softDeleteDays };
}

function readDeleteAfterDays(
  raw: RawConfig,
  retention: Pick<RetentionSettings, "days">,
  problems: ConfigProblems,
): { key: "archiveDeleteAfterDays" | "retentionDays"; days: number } | undefined {
  if (isAbsent(raw.archiveDeleteAfterDays)) return retention.days === undefined ? undefined : { key: "retentionDays", days: retention.days };
  const before = problems.messages.length;
  const days = readInteger(raw, "archiveDeleteAfterDays", problems, { fallback: 0, min: 2, max: MAX_DAYS });
  if (problems.messages.length > before) return undefined;
  if (retention.days !== undefined && days > retention.days) {
    problems.add(
      "archiveDeleteAfterDays",
      `${days} keeps archived entries, with their full IPs, longer than retentionDays (${retention.days}) keeps their rows, and a replay would bring those rows back: lower it to at most ${retention.days}, remove it, or raise retentionDays.`,
    );
  }
  return { key: "archiveDeleteAfterDays", days };
}

function readSoftDeleteDays(raw: RawConfig, problems: ConfigProblems): number {
  const days = readInteger(raw, "archiveSoftDeleteDays", problems, {
    fallback: DEFAULT_OPERATIONS_SETTINGS.archiveSoftDeleteDays,
    min: 0,
    max: MAX_SOFT_DELETE_DAYS,
  });
  if (days > 0 && days < MIN_SOFT_DELETE_DAYS) {
    problems.add("archiveSoftDeleteDays", `${days} is not a soft-delete retention Cloud Storage accepts: use 0 (off) or ${MIN_SOFT_DELETE_DAYS} to ${MAX_SOFT_DELETE_DAYS}.`);
    return DEFAULT_OPERATIONS_SETTINGS.archiveSoftDeleteDays;
  }
  return days;
}

function readMonitoring(raw: RawConfig, problems: ConfigProblems): MonitoringSettings {
  const alertEmail = readString(raw, "alertEmail", problems, { pattern: EMAIL, hint: 'use one e-mail address, such as "oncall@example.com"' });
  return {
    ...(alertEmail ? { alertEmail } : {}),
    backlogAlertMinutes: readInteger(raw, "alertBacklogMinutes", problems, {
      fallback: DEFAULT_OPERATIONS_SETTINGS.alertBacklogMinutes,
      // Below Pub/Sub's 10-minute maximum backoff, one retried message would page someone.
      min: 15,
      max: 24 * 60,
    }),
  };
}

function readEdgeSecurity(raw: RawConfig, problems: ConfigProblems): EdgeSecuritySettings {
  const deniedIpRanges = readStringList(raw, "edgeDeniedIpRanges", problems) ?? [];
  deniedIpRanges.forEach((range, index) => {
    if (!isIpRange(range)) {
      problems.add(`edgeDeniedIpRanges[${index}]`, `${JSON.stringify(range)} is not an IP address or CIDR range: use e.g. "203.0.113.0/24" or "2001:db8::/32".`);
    }
  });
  if (deniedIpRanges.length > MAX_DENIED_IP_RANGES) {
    problems.add("edgeDeniedIpRanges", `lists ${deniedIpRanges.length} ranges; at most ${MAX_DENIED_IP_RANGES} are supported: merge them into wider ranges.`);
  }
  const deniedRegions = readStringList(raw, "edgeDeniedRegions", problems) ?? [];
  deniedRegions.forEach((region, index) => {
    if (!REGION_CODE.test(region)) {
      problems.add(`edgeDeniedRegions[${index}]`, `${JSON.stringify(region)} is not a region code: use two capital letters (ISO 3166-1 alpha-2), such as "FR".`);
    }
  });
  if (deniedRegions.length > MAX_DENIED_REGIONS) {
    problems.add("edgeDeniedRegions", `lists ${deniedRegions.length} regions; at most ${MAX_DENIED_REGIONS} are supported.`);
  }
  return { deniedIpRanges, deniedRegions };
}

/** An address, or an address with a prefix length that fits its family. */
export function isIpRange(text: string): boolean {
  const [address, prefix, ...rest] = text.split("/");
  const family = parseIPv4(address) !== undefined ? 4 : parseIPv6(address) ? 6 : 0;
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A setting of a switched-off feature would be ignored without a word: `while` names the switch, `fix` how to turn it on. */
export function reportUnused(raw: RawConfig, keys: readonly (keyof typeof CONFIG_KEYS)[], feature: { while: string; fix: string }, problems: ConfigProblems): void {
  for (const key of keys) {
    // Pulumi.yaml's default is merged into every stack, so only a value set on purpose is reported.
    if (!isAbsent(raw[key]) && !isDeclaredDefault(key, raw[key])) problems.add(key, `has no effect while ${feature.while}: remove it, or ${feature.fix}.`);
  }
}

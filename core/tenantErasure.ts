import type { CoreSettings } from "./config/coreSettings";
import { logEntryToEvent, parseUrl } from "./event";
import type { LoadBalancerLogEntry } from "./logEntry";

/**
 * Whether a log entry holds a request of this tenant: its request URL names the tenant in the
 * tenant attribute, whatever the core made of it. That covers every entry the core puts in the
 * tenant's rows (the core takes the tenant from that same parameter of that same URL), and the
 * entries it refused after reading the URL (a tenant not on the allowlist, a bad signature, a
 * status or path that is not counted, the tenant among other values): those hold the tenant's raw
 * request too, with its full IP and user agent, so an erasure takes them as well. The match is
 * on the whole decoded value: `acme` never matches `acme_eu`, `acme-corp` or `Acme`.
 */
export function entryNamesTenant(entry: unknown, tenant: string, tenantAttribute: string): boolean {
  const requestUrl = (entry as { httpRequest?: { requestUrl?: unknown } } | null)?.httpRequest?.requestUrl;
  if (typeof requestUrl !== "string") return false;
  return parseUrl(requestUrl)?.searchParams.getAll(tenantAttribute).includes(tenant) ?? false;
}

/** What erasing a tenant did to a file of log entries, one JSON object a line. */
export interface ErasedLines {
  /** The file without the tenant's lines; every other line byte for byte, with its own line end. */
  readonly content: Buffer;
  /** Lines that are log entries (JSON), the tenant's or not. */
  readonly entries: number;
  /** The tenant's lines taken out. */
  readonly removed: number;
  /** Of those, the ones the core had refused (the rest were the tenant's rows). */
  readonly removedRefused: number;
}

const NEWLINE = 0x0a;

/**
 * A file of log entries (the archive's hourly objects, the local spool's segments) without the
 * tenant's entries. It works on bytes: the lines it keeps, JSON or not, are copied as they are,
 * whatever their encoding, so an erasure changes nothing but the tenant's lines.
 */
export function withoutTenantLines(content: Buffer, tenant: string, settings: CoreSettings): ErasedLines {
  const kept: Buffer[] = [];
  let entries = 0;
  let removed = 0;
  let removedRefused = 0;
  for (let start = 0; start < content.length; ) {
    const newline = content.indexOf(NEWLINE, start);
    const end = newline === -1 ? content.length : newline + 1;
    const line = content.subarray(start, end);
    start = end;
    const entry = parseJson(line);
    if (entry === undefined) {
      kept.push(line);
      continue;
    }
    entries++;
    if (!entryNamesTenant(entry, tenant, settings.tenantAttribute)) {
      kept.push(line);
      continue;
    }
    removed++;
    if (!logEntryToEvent(entry as LoadBalancerLogEntry, settings).ok) removedRefused++;
  }
  return { content: removed === 0 ? content : Buffer.concat(kept), entries, removed, removedRefused };
}

/** The line's JSON value, or undefined for a line that is not JSON (kept as it is). */
function parseJson(line: Buffer): unknown {
  try {
    return JSON.parse(line.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

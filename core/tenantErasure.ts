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

const NEWLINE = 0x0a;

/**
 * Takes a tenant's entries out of a file of log entries, one JSON object a line (the archive's
 * hourly objects, the local spool's segments), as its chunks arrive: memory holds one line, not
 * the file. It works on bytes: every line it keeps, JSON or not, is passed on as it came, with its
 * own line end, whatever its encoding, so an erasure changes nothing but the tenant's lines.
 */
export class TenantLineFilter {
  /** Lines that are log entries (JSON), the tenant's or not. */
  entries = 0;
  /** The tenant's lines taken out. */
  removed = 0;
  /** Of those, the ones the core had refused (the rest were the tenant's rows). */
  removedRefused = 0;
  /** Bytes of the lines kept. */
  keptBytes = 0;
  /** The start of a line that the next chunk ends. */
  private partial: Buffer[] = [];

  constructor(
    private readonly tenant: string,
    private readonly settings: CoreSettings,
  ) {}

  /** The lines this chunk ends, without the tenant's. */
  push(chunk: Buffer): Buffer[] {
    const kept: Buffer[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(NEWLINE); newline !== -1; newline = chunk.indexOf(NEWLINE, start)) {
      const end = chunk.subarray(start, newline + 1);
      const line = this.partial.length === 0 ? end : Buffer.concat([...this.partial, end]);
      this.partial = [];
      if (this.keeps(line)) kept.push(line);
      start = newline + 1;
    }
    if (start < chunk.length) this.partial.push(chunk.subarray(start));
    return kept;
  }

  /** The file's last line when it does not end with a newline, unless it is the tenant's. */
  end(): Buffer[] {
    const line = Buffer.concat(this.partial);
    this.partial = [];
    return line.length > 0 && this.keeps(line) ? [line] : [];
  }

  private keeps(line: Buffer): boolean {
    const entry = parseJson(line);
    if (entry !== undefined) this.entries++;
    if (entry === undefined || !entryNamesTenant(entry, this.tenant, this.settings.tenantAttribute)) {
      this.keptBytes += line.length;
      return true;
    }
    this.removed++;
    if (!logEntryToEvent(entry as LoadBalancerLogEntry, this.settings).ok) this.removedRefused++;
    return false;
  }
}

/** The line's JSON value, or undefined for a line that is not JSON (kept as it is). */
function parseJson(line: Buffer): unknown {
  try {
    return JSON.parse(line.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

import { hash } from "node:crypto";
import { campaignOf, NO_CAMPAIGN } from "./campaign";
import { classifyClient } from "./client";
import { parseClientAddress, storedIp } from "./ip";
import { LOAD_BALANCER_RESOURCE_TYPE, LoadBalancerLogEntry } from "./logEntry";
import type { CoreSettings } from "./config/coreSettings";
import { preview, refuse } from "./refusals";
import type { Refusal } from "./refusals";
import type { Row } from "./schema";
import { checkSignature, SIGNATURE_PARAMETER } from "./signature";
import { pageOf } from "./page";
import { MAX_TENANT_BYTES, tableSuffix } from "./tenant";
import { parseTimestamp } from "./timestamp";
import { cleanText, coerceAttribute } from "./values";
import { visitorId } from "./visitor";

export interface AcceptedEvent {
  readonly ok: true;
  /** Appended by BigQuery to the template table's name: `_<encoded tenant>_<YYYYMMDD>`. */
  readonly tableSuffix: string;
  /** Stable across redeliveries of the same log entry; BigQuery's insertId and the insert_id column. */
  readonly insertId: string;
  readonly row: Row;
}

export type ParseResult = AcceptedEvent | Refusal;

/**
 * One line of newline-delimited LogEntry JSON (an archive file, a spool segment, `npm run parse`'s
 * input) as the function would take it: the event, or why it is not one. Never throws.
 */
export function parseEntryLine(line: string, settings: CoreSettings): ParseResult {
  let entry: LoadBalancerLogEntry;
  try {
    entry = JSON.parse(line) as LoadBalancerLogEntry;
  } catch {
    return refuse("invalid_message", `not JSON: ${preview(line)}`);
  }
  return logEntryToEvent(entry, settings);
}

export const DNT_PARAMETER = "dnt";
const COUNTED_STATUSES: ReadonlySet<number> = new Set([200, 304]);

/**
 * Turns one load balancer log entry into the row to stream, or says why it is not an event.
 * Pure: no I/O and no clock, so a redelivered entry always gives the same table and insertId.
 * Never throws, whatever the input.
 */
export function logEntryToEvent(entry: LoadBalancerLogEntry, settings: CoreSettings): ParseResult {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    return refuse("invalid_message", `a log entry is a JSON object, got ${preview(entry)}`);
  }
  if (entry.resource?.type !== LOAD_BALANCER_RESOURCE_TYPE) {
    return refuse("not_load_balancer", `resource.type is ${preview(entry.resource?.type)}`);
  }
  if (entry.jsonPayload?.parentInsertId !== undefined) {
    return refuse("cdn_subrequest", `parentInsertId ${preview(entry.jsonPayload.parentInsertId)}`);
  }
  const http = entry.httpRequest;
  if (typeof http !== "object" || http === null || typeof http.requestUrl !== "string") {
    return refuse("missing_http_request", "httpRequest.requestUrl is missing");
  }
  const url = parseUrl(http.requestUrl);
  if (!url) return refuse("invalid_url", `requestUrl ${preview(http.requestUrl)}`);
  if (url.pathname !== settings.pixelPath) return refuse("other_path", `path ${preview(url.pathname)}`);
  if (http.requestMethod !== undefined && http.requestMethod !== "GET") {
    return refuse("method_not_counted", `method ${preview(http.requestMethod)}`);
  }
  if (typeof http.status !== "number" || !COUNTED_STATUSES.has(http.status)) {
    return refuse("status_not_counted", `status ${preview(http.status)}`);
  }
  const instant = parseTimestamp(entry.timestamp);
  if (!instant) return refuse("invalid_entry", `timestamp ${preview(entry.timestamp)}`);
  if (typeof entry.insertId !== "string" || entry.insertId === "") {
    return refuse("invalid_entry", `insertId ${preview(entry.insertId)}`);
  }
  if (settings.signedUrls) {
    const signature = checkSignature(url.searchParams, settings.signingKeys ?? []);
    if (signature === "missing") return refuse("missing_signature", `no ${SIGNATURE_PARAMETER} in the query`);
    if (signature === "invalid") return refuse("invalid_signature", `query ${preview(url.search)}`);
  }

  const tenantValues = new Set(url.searchParams.getAll(settings.tenantAttribute));
  const [tenant] = tenantValues;
  if (tenantValues.size > 1) return refuse("ambiguous_tenant", `values ${preview([...tenantValues])}`);
  if (!tenant) return refuse("missing_tenant", `no "${settings.tenantAttribute}" in the query`);
  if (Buffer.byteLength(tenant, "utf8") > MAX_TENANT_BYTES || !tenant.isWellFormed()) {
    return refuse("invalid_tenant", `tenant ${preview(tenant)}`);
  }
  if (settings.tenantAllowlist && !settings.tenantAllowlist.includes(tenant)) {
    return refuse("tenant_not_allowed", `tenant ${preview(tenant)}`);
  }

  const insertId = stableInsertId(entry.insertId, entry.timestamp as string);
  const text = (value: unknown): string | null =>
    typeof value === "string" && value !== "" ? cleanText(value, settings.maxValueLength) : null;
  const userAgent = text(http.userAgent);
  const client = classifyClient(userAgent);
  const dnt = isDoNotTrack(url.searchParams);
  // The full address: the country and the visitor id come from it before it is cut or dropped.
  const address = parseClientAddress(http.remoteIp ?? entry.jsonPayload?.remoteIp);
  // The page comes from the whole Referer, not from the stored one, which may be cut mid-host.
  const page = pageOf(typeof http.referer === "string" ? http.referer : null, settings.maxValueLength);
  const campaign = settings.utmColumns ? campaignOf(url.searchParams, page.query, settings.maxValueLength) : NO_CAMPAIGN;
  const row: Row = {
    event_timestamp: instant.iso,
    insert_id: insertId,
    receive_timestamp: parseTimestamp(entry.receiveTimestamp)?.iso ?? null,
    log_insert_id: text(entry.insertId),
    host: text(url.hostname),
    user_agent: dnt ? null : userAgent,
    referer: text(http.referer),
    remote_ip: dnt ? null : storedIp(address, settings.anonymizeIp),
    status: http.status,
    cache_hit: http.cacheHit === true,
    cache_id: text(entry.jsonPayload?.cacheId),
    is_bot: client.isBot,
    email_proxy: client.emailProxy,
    dnt,
    invalid_attributes: null,
    visitor_id: dnt || !address || !settings.visitorKey ? null : visitorId(settings.visitorKey, instant.utcDay, tenant, address.text, userAgent),
    country: address ? (settings.countries?.countryOf(address.ip) ?? null) : null,
    browser: client.device.browser,
    browser_version: client.device.browserVersion,
    os: client.device.os,
    device_type: client.device.deviceType,
    page_host: page.host,
    page_path: page.path,
    ...campaign,
  };
  const invalid: string[] = [];
  for (const attribute of settings.attributes) {
    // A repeated key keeps its first value: later copies are usually a URL built by concatenation.
    const raw = url.searchParams.get(attribute.name);
    const value = raw === null ? null : coerceAttribute(attribute.type, raw, settings.maxValueLength);
    if (value === undefined) invalid.push(attribute.name);
    row[attribute.name] = value ?? null;
  }
  row.invalid_attributes = invalid.length > 0 ? invalid.join(",") : null;
  return { ok: true, tableSuffix: tableSuffix(tenant, instant.utcDay), insertId, row };
}

/** One parse per event: URL.canParse followed by new URL would parse every valid URL twice. */
export function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/**
 * `dnt` in the URL, with any value but 0 or false, asks that no IP and no user agent be stored,
 * and no visitor id: the coarse answers (country, device, page, campaign) stay.
 */
export function isDoNotTrack(query: URLSearchParams): boolean {
  const value = query.get(DNT_PARAMETER);
  return value !== null && value !== "0" && value.toLowerCase() !== "false";
}

/**
 * Logging gives each entry an insertId unique within its timestamp; hashing the pair gives a
 * fixed-length id that is the same on every redelivery and different for different entries.
 */
export function stableInsertId(logInsertId: string, timestamp: string): string {
  return hash("sha256", `${logInsertId}\n${timestamp}`, "base64url").slice(0, 32);
}

import type { CoreSettings } from "./config/coreSettings";
import { isDoNotTrack, parseUrl } from "./event";
import { parseClientAddress, storedIp } from "./ip";
import type { LoadBalancerLogEntry } from "./logEntry";
import { cleanText } from "./values";

/**
 * A log entry with the client's IP and user agent as a row would store them: the IP cut to /24 or
 * /48 when anonymizeIp is on, the user agent cut to maxValueLength, and neither when the URL
 * carries dnt. For what is kept beside the rows, such as refused and dead-lettered entries. The
 * core reads the result to the same row as the original, so a dead letter can still be loaded,
 * except for what only the full IP gives: country and visitor_id may differ or be NULL; and with
 * dnt, what only the user agent gives: is_bot, email_proxy and the device columns.
 */
export function withClientAsStored(entry: LoadBalancerLogEntry, settings: CoreSettings): LoadBalancerLogEntry {
  const http = typeof entry.httpRequest === "object" && entry.httpRequest !== null ? entry.httpRequest : undefined;
  const url = typeof http?.requestUrl === "string" ? parseUrl(http.requestUrl) : undefined;
  const dnt = url !== undefined && isDoNotTrack(url.searchParams);
  // An address that is there but unreadable stays, empty: the core reads the request's address
  // before the payload's, so dropping it would bring the payload's forward.
  const ipAsStored = (ip: unknown) => (dnt || ip === undefined || ip === null ? null : (storedIp(parseClientAddress(ip), settings.anonymizeIp) ?? ""));
  const stored: LoadBalancerLogEntry = { ...entry };
  if (http) {
    const { remoteIp, userAgent, ...rest } = http;
    const ip = ipAsStored(remoteIp);
    const agent = !dnt && typeof userAgent === "string" ? cleanText(userAgent, settings.maxValueLength) : null;
    stored.httpRequest = { ...rest, ...(ip !== null ? { remoteIp: ip } : {}), ...(agent !== null ? { userAgent: agent } : {}) };
  }
  if (typeof entry.jsonPayload === "object" && entry.jsonPayload !== null && "remoteIp" in entry.jsonPayload) {
    const { remoteIp, ...rest } = entry.jsonPayload;
    const ip = ipAsStored(remoteIp);
    stored.jsonPayload = { ...rest, ...(ip !== null ? { remoteIp: ip } : {}) };
  }
  return stored;
}

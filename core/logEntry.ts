/**
 * The subset of a Cloud Logging LogEntry written by an external HTTP(S) load balancer that the
 * pipeline reads. Every field is optional because log entries are untrusted input: the core
 * checks each one before use. Field layout: https://cloud.google.com/cdn/docs/logging
 */
export interface LoadBalancerLogEntry {
  insertId?: unknown;
  timestamp?: unknown;
  receiveTimestamp?: unknown;
  logName?: unknown;
  resource?: { type?: unknown; labels?: Record<string, unknown> };
  httpRequest?: HttpRequest;
  jsonPayload?: { parentInsertId?: unknown; cacheId?: unknown; statusDetails?: unknown; remoteIp?: unknown };
}

export interface HttpRequest {
  requestMethod?: unknown;
  requestUrl?: unknown;
  status?: unknown;
  userAgent?: unknown;
  remoteIp?: unknown;
  referer?: unknown;
  latency?: unknown;
  cacheHit?: unknown;
  cacheLookup?: unknown;
}

export const LOAD_BALANCER_RESOURCE_TYPE = "http_load_balancer";

import { LOAD_BALANCER_RESOURCE_TYPE } from "../core/logEntry";
import type { PubSubMessage } from "../core/message";

/**
 * The local server stands in for the whole Google front end: load balancer, Cloud CDN and the
 * bucket. What it observed about one request and its answer is all a log entry needs.
 */
export interface ObservedRequest {
  /** Unique per entry, as Cloud Logging's own insertId is. */
  readonly insertId: string;
  /** When the request arrived, in nanoseconds since the epoch: the event time. */
  readonly receivedAtNs: bigint;
  /** When the entry was written to the spool: Cloud Logging's receiveTimestamp. */
  readonly loggedAtNs: bigint;
  /** Time from arrival to the answer being ready. */
  readonly latencyNs: bigint;
  readonly method: string;
  /** Absolute: scheme, host, path and query. */
  readonly requestUrl: string;
  readonly status: number;
  readonly protocol: string;
  readonly responseSize: number;
  readonly userAgent?: string;
  readonly referer?: string;
  readonly remoteIp?: string;
  readonly serverIp?: string;
  /** The answer came from the (always warm) CDN cache: the pixel itself, or a 304 for it. */
  readonly fromCache: boolean;
}

/** An `http_load_balancer` request log entry, as Cloud Logging exports it. */
export interface LocalLogEntry {
  insertId: string;
  timestamp: string;
  receiveTimestamp: string;
  logName: string;
  resource: { type: typeof LOAD_BALANCER_RESOURCE_TYPE; labels: Record<string, string> };
  httpRequest: {
    requestMethod: string;
    requestUrl: string;
    status: number;
    responseSize: string;
    userAgent?: string;
    remoteIp?: string;
    serverIp?: string;
    referer?: string;
    latency: string;
    protocol: string;
    cacheLookup?: true;
    cacheHit?: true;
  };
  jsonPayload: { "@type": string; statusDetails: string; cacheId?: string };
}

const LOCAL_PROJECT = "local";
export const LOCAL_CACHE_ID = "LOCAL-pixel";

const LOCAL_RESOURCE_LABELS = {
  project_id: LOCAL_PROJECT,
  forwarding_rule_name: "local-pixel-forwarding-rule",
  target_proxy_name: "local-pixel-target-proxy",
  url_map_name: "local-pixel-url-map",
  // Empty for backend buckets, so nothing may filter on it.
  backend_service_name: "",
  zone: "global",
};

const NANOS_PER_SECOND = 1_000_000_000n;

/**
 * Builds the entry the load balancer would log for one request. Pure, so every field can be
 * checked against the documented format. Optional fields are left out when there is no value and
 * booleans only appear when true, as in real entries.
 */
export function buildLogEntry(request: ObservedRequest): LocalLogEntry {
  return {
    insertId: request.insertId,
    timestamp: rfc3339Nanos(request.receivedAtNs),
    receiveTimestamp: rfc3339Nanos(request.loggedAtNs),
    logName: `projects/${LOCAL_PROJECT}/logs/requests`,
    resource: { type: LOAD_BALANCER_RESOURCE_TYPE, labels: { ...LOCAL_RESOURCE_LABELS } },
    httpRequest: {
      requestMethod: request.method,
      requestUrl: request.requestUrl,
      status: request.status,
      // Sizes are int64 fields, which the LogEntry JSON form writes as strings.
      responseSize: String(request.responseSize),
      ...(request.userAgent ? { userAgent: request.userAgent } : {}),
      ...(request.remoteIp ? { remoteIp: request.remoteIp } : {}),
      ...(request.serverIp ? { serverIp: request.serverIp } : {}),
      ...(request.referer ? { referer: request.referer } : {}),
      latency: durationSeconds(request.latencyNs),
      protocol: request.protocol,
      // Every request through a CDN-enabled backend is a cache lookup.
      cacheLookup: true,
      ...(request.fromCache ? { cacheHit: true as const } : {}),
    },
    jsonPayload: {
      "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
      statusDetails: request.fromCache ? "response_from_cache" : "response_sent_by_backend",
      ...(request.fromCache ? { cacheId: LOCAL_CACHE_ID } : {}),
    },
  };
}

/** RFC 3339 in UTC with nine fractional digits, as Cloud Logging writes timestamps. */
export function rfc3339Nanos(epochNs: bigint): string {
  const seconds = floorDiv(epochNs, NANOS_PER_SECOND);
  const nanos = epochNs - seconds * NANOS_PER_SECOND;
  const wholeSeconds = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${wholeSeconds}.${nanos.toString().padStart(9, "0")}Z`;
}

/** A protobuf Duration in JSON ("0.000123s"), at the microsecond precision the load balancer logs. */
export function durationSeconds(ns: bigint): string {
  const micros = ns / 1000n;
  return `${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, "0")}s`;
}

/**
 * A Host header that is a host name or IP address and an optional port, and nothing else: no
 * path, query or fragment can ride in on it and change what the URL says was requested.
 */
const HOST_HEADER = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The absolute URL the load balancer logs for a request target. The Host header names the host
 * only when it is one (HOST_HEADER) that a URL parser takes as it is ("a.0" looks like a host but
 * ends in a number, so URL parsers read it as a broken IPv4 address); otherwise the server's own
 * address does. So the path and the query always come from the target, and the URL the core
 * reads is the request that was served.
 */
export function absoluteRequestUrl(target: string, hostHeader: string | undefined, serverAddress: string): string {
  const usable = hostHeader !== undefined && HOST_HEADER.test(hostHeader) && URL.canParse(`http://${hostHeader}/`);
  const host = usable ? hostHeader : serverAddress;
  if (target.startsWith("/")) return `http://${host}${target}`;
  // An absolute-form target ("GET http://host/path") is already a URL.
  return URL.canParse(target) ? target : `http://${host}/${target}`;
}

/** A host as it appears in a URL: IPv6 literals in brackets. */
export function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** What the Logging sink publishes: the entry as base64 JSON in `data`, as the function receives it. */
export function toPubSubMessage(entryJson: string, messageId: string, publishTime: string): PubSubMessage {
  return { data: Buffer.from(entryJson, "utf8").toString("base64"), messageId, publishTime };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const quotient = a / b;
  return a % b < 0n ? quotient - 1n : quotient;
}

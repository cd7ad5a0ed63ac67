import { logEntryToEvent } from "../core/event";
import type { AcceptedEvent } from "../core/event";
import type { CoreSettings } from "../core/config/coreSettings";
import type { LoadBalancerLogEntry } from "../core/logEntry";
import type { PubSubMessage } from "../core/message";
import { readStack } from "../cli/stackFile";
import { VISITOR_KEY_VARIABLE } from "../core/functionContract";
import { TEST_VISITOR_KEY } from "./settings";

/** The dev stack's settings as the commands read them (user_id the tenant, order_id and type, all STRING), with TEST_VISITOR_KEY. */
export const DEV_SETTINGS = readStack("dev", undefined, { [VISITOR_KEY_VARIABLE]: TEST_VISITOR_KEY }).settings;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | undefined : T[K] | undefined };

/**
 * A cache hit as Cloud CDN logs it, after the example in https://cloud.google.com/cdn/docs/logging
 * (field layout, string sizes, booleans present only when true, nanosecond timestamp).
 */
export function loadBalancerEntry(overrides: DeepPartial<LoadBalancerLogEntry> & Record<string, unknown> = {}): LoadBalancerLogEntry {
  const base = {
    insertId: "1oek5rg3l3fxj7",
    jsonPayload: {
      "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
      cacheId: "SFO-fbae48ad",
      statusDetails: "response_from_cache",
    },
    httpRequest: {
      requestMethod: "GET",
      requestUrl: "https://track.example.com/pixel.png?user_id=acme&type=click&order_id=42",
      requestSize: "577",
      status: 200,
      responseSize: "157",
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
      remoteIp: "89.160.20.156",
      referer: "https://shop.example.com/checkout",
      latency: "0.001566s",
      cacheHit: true,
      cacheLookup: true,
    },
    resource: {
      type: "http_load_balancer",
      labels: {
        zone: "global",
        url_map_name: "pixel-urlmap",
        forwarding_rule_name: "pixel-https",
        target_proxy_name: "pixel-proxy",
        backend_service_name: "",
        project_id: "demo-project",
      },
    },
    timestamp: "2017-05-17T11:12:28.408747509Z",
    severity: "INFO",
    logName: "projects/demo-project/logs/requests",
    receiveTimestamp: "2017-05-17T11:12:30.078391Z",
  };
  return merge(base, overrides) as LoadBalancerLogEntry;
}

/** Deep merge where an `undefined` override deletes the field, as when Logging omits it. */
function merge(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete merged[key];
    else if (isPlainObject(value) && isPlainObject(merged[key])) merged[key] = merge(merged[key] as Record<string, unknown>, value);
    else merged[key] = value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function pixelUrl(query: string): string {
  return `https://track.example.com/pixel.png?${query}`;
}

/** The Pub/Sub message a log sink publishes for an entry. */
export function pubSubMessage(entry: unknown, messageId = "4711"): PubSubMessage {
  return { data: Buffer.from(JSON.stringify(entry)).toString("base64"), messageId, publishTime: "2017-05-17T11:12:31.000Z", attributes: {} };
}

/**
 * Runs the core on an entry that must become an event, and throws with the refusal's reason and
 * detail when it does not, so a test fails at the entry that was refused, not at a later lookup.
 */
export function acceptedEvent(entry: unknown, settings: CoreSettings = DEV_SETTINGS): AcceptedEvent {
  const result = logEntryToEvent(entry as LoadBalancerLogEntry, settings);
  if (!result.ok) throw new Error(`expected an event, got ${result.reason}: ${result.detail}`);
  return result;
}

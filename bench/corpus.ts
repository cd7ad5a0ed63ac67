// A realistic corpus of Pub/Sub messages as the log sink publishes them: varied tenants and
// attributes, browsers, bots and e-mail proxies, IPv4 and IPv6 (some with ports), 304
// revalidations, and a share of entries the core refuses (favicons, CDN sub-requests, 404s).
import type { PubSubMessage } from "../core/message";
import { seededRandom } from "../testkit/seededRandom";

/** Browsers differ by version and build, so real traffic has thousands of distinct user agents with a heavy head. */
const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.{build} Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
  "Mozilla/5.0 (Linux; Android {major}; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.{build} Mobile Safari/537.36",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
  "Mozilla/5.0",
];
const TYPES = ["view", "click", "open", "purchase", "signup"];
const PAGES = ["https://shop.example.com/", "https://shop.example.com/checkout", "https://blog.example.org/post/42", "https://app.example.net/settings?tab=profile"];


function pick<T>(items: readonly T[], next: () => number): T {
  return items[Math.floor(next() * items.length)];
}

function userAgent(next: () => number): string {
  // Squaring skews versions and builds towards the newest, as in real traffic.
  const skewed = (range: number) => Math.floor(next() * next() * range);
  return pick(USER_AGENTS, next).replace(/\{major\}/g, String(130 - skewed(12))).replace("{build}", `${6000 + skewed(2000)}.${skewed(200)}`);
}

function clientIp(next: () => number): string {
  const octet = () => Math.floor(next() * 256);
  const roll = next();
  if (roll < 0.6) return `${octet()}.${octet()}.${octet()}.${octet()}`;
  if (roll < 0.75) return `${octet()}.${octet()}.${octet()}.${octet()}:${1024 + octet() * 200}`;
  const group = () => Math.floor(next() * 65536).toString(16);
  return `2001:db8:${group()}:${group()}::${group()}`;
}

/** One log entry as Cloud Logging writes it for a request to the load balancer. */
export function corpusEntry(index: number, next: () => number): Record<string, unknown> {
  const tenant = `tenant-${Math.floor(next() * 200)}`;
  const roll = next();
  const path = roll < 0.03 ? "/favicon.ico" : "/pixel.png";
  const status = roll < 0.03 ? 404 : roll < 0.06 ? 404 : next() < 0.3 ? 304 : 200;
  const query = `user_id=${tenant}&type=${pick(TYPES, next)}&order_id=${index}${next() < 0.2 ? "&utm_source=newsletter&utm_campaign=autumn%20sale" : ""}`;
  const second = String(index % 60).padStart(2, "0");
  const entry: Record<string, unknown> = {
    insertId: `${index.toString(36)}x${Math.floor(next() * 1e9).toString(36)}`,
    jsonPayload: {
      "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
      cacheId: pick(["SFO-fbae48ad", "FRA-2c1d9e77", "NRT-0a8b7c6d"], next),
      statusDetails: status === 404 ? "response_sent_by_backend" : "response_from_cache",
      ...(roll > 0.98 ? { parentInsertId: "parent" } : {}),
    },
    httpRequest: {
      requestMethod: "GET",
      requestUrl: `https://track.example.com${path}?${query}`,
      requestSize: "577",
      status,
      responseSize: "157",
      userAgent: userAgent(next),
      remoteIp: clientIp(next),
      referer: pick(PAGES, next),
      latency: "0.001566s",
      ...(status !== 404 ? { cacheHit: true, cacheLookup: true } : {}),
    },
    resource: {
      type: "http_load_balancer",
      labels: { zone: "global", url_map_name: "pixel-edge-pixel", forwarding_rule_name: "pixel-edge-https-rule", target_proxy_name: "pixel-edge-https-proxy", backend_service_name: "", project_id: "demo-project" },
    },
    timestamp: `2026-11-${String(1 + (index % 21)).padStart(2, "0")}T12:34:${second}.${String(index % 1e9).padStart(9, "0")}Z`,
    severity: "INFO",
    logName: "projects/demo-project/logs/requests",
    receiveTimestamp: `2026-11-${String(1 + (index % 21)).padStart(2, "0")}T12:34:${second}.900000000Z`,
  };
  return entry;
}

/** `count` messages, base64 JSON in `data`, as a Pub/Sub push or CloudEvent carries them. */
export function corpusMessages(count: number, seed = 42): PubSubMessage[] {
  const next = seededRandom(seed);
  return Array.from({ length: count }, (_, index) => ({
    data: Buffer.from(JSON.stringify(corpusEntry(index, next))).toString("base64"),
    messageId: String(index),
  }));
}

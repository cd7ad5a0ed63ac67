import fc from "fast-check";
import type { AcceptedEvent } from "../../core/event";
import { handlePixelMessage } from "../../functions/handler";
import { LOCAL_DELIVERY } from "../../core/delivery";
import type { LogLine } from "../../core/delivery";
import {
  absoluteRequestUrl,
  buildLogEntry,
  durationSeconds,
  LOCAL_CACHE_ID,
  rfc3339Nanos,
  toPubSubMessage,
} from "../../local/logEntry";
import type { ObservedRequest } from "../../local/logEntry";
import { settingsFor } from "../../testkit/settings";

const EPOCH_NS = 1_779_000_000_123_456_789n; // 2026-05-17T06:40:00.123456789Z

const pixelView: ObservedRequest = {
  insertId: "a1b2c3d4e5f60718",
  receivedAtNs: EPOCH_NS,
  loggedAtNs: EPOCH_NS + 250_000n,
  latencyNs: 123_456n,
  method: "GET",
  requestUrl: "http://127.0.0.1:8080/pixel.png?user_id=acme&type=click",
  status: 200,
  protocol: "HTTP/1.1",
  responseSize: 68,
  userAgent: "Mozilla/5.0 (X11; Linux x86_64)",
  referer: "http://127.0.0.1:8080/shop",
  remoteIp: "127.0.0.1",
  serverIp: "127.0.0.1",
  fromCache: true,
};

describe("buildLogEntry", () => {
  it("writes the documented http_load_balancer entry", () => {
    expect(buildLogEntry(pixelView)).toEqual({
      insertId: "a1b2c3d4e5f60718",
      timestamp: "2026-05-17T06:40:00.123456789Z",
      receiveTimestamp: "2026-05-17T06:40:00.123706789Z",
      logName: "projects/local/logs/requests",
      resource: {
        type: "http_load_balancer",
        labels: {
          project_id: "local",
          forwarding_rule_name: "local-pixel-forwarding-rule",
          target_proxy_name: "local-pixel-target-proxy",
          url_map_name: "local-pixel-url-map",
          backend_service_name: "",
          zone: "global",
        },
      },
      httpRequest: {
        requestMethod: "GET",
        requestUrl: "http://127.0.0.1:8080/pixel.png?user_id=acme&type=click",
        status: 200,
        responseSize: "68",
        userAgent: "Mozilla/5.0 (X11; Linux x86_64)",
        remoteIp: "127.0.0.1",
        serverIp: "127.0.0.1",
        referer: "http://127.0.0.1:8080/shop",
        latency: "0.000123s",
        protocol: "HTTP/1.1",
        cacheLookup: true,
        cacheHit: true,
      },
      jsonPayload: {
        "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
        statusDetails: "response_from_cache",
        cacheId: LOCAL_CACHE_ID,
      },
    });
  });

  describe.each<[string, Partial<ObservedRequest>, (entry: ReturnType<typeof buildLogEntry>) => void]>([
    ["a 304 revalidation is a cache hit", { status: 304, responseSize: 0 }, (entry) => {
      expect(entry.httpRequest).toMatchObject({ status: 304, cacheHit: true, cacheLookup: true, responseSize: "0" });
    }],
    ["a 404 from the bucket is a miss: no cacheHit field at all", { status: 404, fromCache: false, requestUrl: "http://h/favicon.ico" }, (entry) => {
      expect(entry.httpRequest).not.toHaveProperty("cacheHit");
      expect(entry.httpRequest.cacheLookup).toBe(true);
      expect(entry.jsonPayload).toEqual({
        "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
        statusDetails: "response_sent_by_backend",
      });
    }],
    ["absent headers leave their fields out", { userAgent: undefined, referer: undefined, remoteIp: undefined, serverIp: undefined }, (entry) => {
      for (const field of ["userAgent", "referer", "remoteIp", "serverIp"]) expect(entry.httpRequest).not.toHaveProperty(field);
    }],
    ["empty headers count as absent", { userAgent: "", referer: "" }, (entry) => {
      expect(entry.httpRequest).not.toHaveProperty("userAgent");
      expect(entry.httpRequest).not.toHaveProperty("referer");
    }],
    ["HEAD and HTTP/1.0 are logged as they came", { method: "HEAD", protocol: "HTTP/1.0" }, (entry) => {
      expect(entry.httpRequest).toMatchObject({ requestMethod: "HEAD", protocol: "HTTP/1.0" });
    }],
  ])("%s", (_name, change, check) => {
    it("matches", () => check(buildLogEntry({ ...pixelView, ...change })));
  });

  it("gives the labels to each entry by value, not shared", () => {
    const first = buildLogEntry(pixelView);
    first.resource.labels.zone = "changed";
    expect(buildLogEntry(pixelView).resource.labels.zone).toBe("global");
  });
});

describe.each([
  [0n, "1970-01-01T00:00:00.000000000Z"],
  [1n, "1970-01-01T00:00:00.000000001Z"],
  [EPOCH_NS, "2026-05-17T06:40:00.123456789Z"],
  [-1n, "1969-12-31T23:59:59.999999999Z"],
])("rfc3339Nanos(%p)", (ns, expected) => {
  it(`is ${expected}`, () => expect(rfc3339Nanos(ns)).toBe(expected));
});

describe.each([
  [0n, "0.000000s"],
  [999n, "0.000000s"],
  [123_456n, "0.000123s"],
  [1_566_000n, "0.001566s"],
  [2_500_000_000n, "2.500000s"],
])("durationSeconds(%p)", (ns, expected) => {
  it(`is ${expected}`, () => expect(durationSeconds(ns)).toBe(expected));
});

describe.each([
  ["/pixel.png?a=1", "127.0.0.1:8080", "http://127.0.0.1:8080/pixel.png?a=1"],
  ["/pixel.png?a=1", "shop.example.com", "http://shop.example.com/pixel.png?a=1"],
  ["/pixel.png", "[::1]:8080", "http://[::1]:8080/pixel.png"],
  ["//evil.example/pixel.png", "127.0.0.1:8080", "http://127.0.0.1:8080//evil.example/pixel.png"],
  ["http://other.example/pixel.png", "127.0.0.1:8080", "http://other.example/pixel.png"],
  ["*", "127.0.0.1:8080", "http://127.0.0.1:8080/*"],
  // A Host header that is not a host cannot change the path or the query: the server's address stands in.
  ["/nothing", "a/pixel.png?user_id=x#", "http://[::1]:9/nothing"],
  ["/nothing", "a?user_id=x", "http://[::1]:9/nothing"],
  ["/nothing", "a#", "http://[::1]:9/nothing"],
  ["/nothing", "user:pw@a", "http://[::1]:9/nothing"],
  ["/nothing", "a\\pixel.png", "http://[::1]:9/nothing"],
  ["/pixel.png", undefined, "http://[::1]:9/pixel.png"],
  ["/pixel.png", "", "http://[::1]:9/pixel.png"],
])("absoluteRequestUrl(%p, Host %p)", (target, host, expected) => {
  it(`is ${expected}`, () => expect(absoluteRequestUrl(target, host, "[::1]:9")).toBe(expected));
});

it("takes the path and query from the request target whatever the Host header says", () => {
  const target = fc.tuple(fc.webPath(), fc.option(fc.webQueryParameters(), { nil: undefined })).map(([pathname, query]) => `/p${pathname}${query === undefined ? "" : `?${query}`}`);
  fc.assert(
    fc.property(target, fc.oneof(fc.string(), fc.domain(), fc.webAuthority()), (requestTarget, host) => {
      const logged = new URL(absoluteRequestUrl(requestTarget, host, "127.0.0.1:8080"));
      const requested = new URL(requestTarget, "http://any.example");
      expect([logged.pathname, logged.search]).toEqual([requested.pathname, requested.search]);
    }),
    { numRuns: 2000 },
  );
  // Found by the property: a host name that ends in a number is an IPv4 address to URL parsers.
  expect(new URL(absoluteRequestUrl("/p", "A.0", "127.0.0.1:8080")).host).toBe("127.0.0.1:8080");
});

describe("an entry delivered as the sink's Pub/Sub message to the function's handler", () => {
  async function deliver(request: ObservedRequest) {
    const settings = settingsFor();
    const inserted: AcceptedEvent[] = [];
    const logged: LogLine[] = [];
    const message = toPubSubMessage(JSON.stringify(buildLogEntry(request)), "1:0", "2026-05-17T06:40:01Z");
    const { outcome } = await handlePixelMessage(message, { settings, writer: { insert: async (event) => void inserted.push(event) }, log: (line) => logged.push(line), policy: LOCAL_DELIVERY });
    return { outcome, inserted, logged };
  }

  it("becomes a row in the tenant's day table with the request's time, page and browser", async () => {
    const { inserted } = await deliver({ ...pixelView, requestUrl: "http://127.0.0.1:8080/pixel.png?user_id=acme&type=click&order_id=42&price=9.5&beta=1" });
    expect(inserted).toHaveLength(1);
    expect(inserted[0].tableSuffix).toBe("_acme_20260517");
    expect(inserted[0].row).toMatchObject({
      event_timestamp: "2026-05-17T06:40:00.123456Z",
      receive_timestamp: "2026-05-17T06:40:00.123706Z",
      log_insert_id: "a1b2c3d4e5f60718",
      host: "127.0.0.1",
      referer: "http://127.0.0.1:8080/shop",
      user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
      status: 200,
      cache_hit: true,
      cache_id: LOCAL_CACHE_ID,
      user_id: "acme",
      type: "click",
      order_id: "42",
      price: 9.5,
      beta: true,
    });
  });

  describe.each<[string, Partial<ObservedRequest>, string]>([
    ["a favicon 404", { requestUrl: "http://127.0.0.1:8080/favicon.ico", status: 404, fromCache: false }, "other_path"],
    ["a HEAD of the pixel", { method: "HEAD" }, "method_not_counted"],
    ["a pixel without tenant", { requestUrl: "http://127.0.0.1:8080/pixel.png?type=click" }, "missing_tenant"],
  ])("%s", (_name, change, reason) => {
    it(`is refused as ${reason}`, async () => {
      const { outcome, logged } = await deliver({ ...pixelView, ...change });
      expect(outcome).toEqual({ kind: "refused", refusal: expect.objectContaining({ reason }) });
      expect(logged.map((line) => line.reason)).toEqual([reason]);
    });
  });
});

import { createHmac } from "node:crypto";
import { logEntryToEvent, stableInsertId } from "../../core/event";
import type { RefusalReason } from "../../core/refusals";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import type { CoreSettings } from "../../core/config/coreSettings";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { TEST_VISITOR_KEY } from "../../testkit/settings";

const TYPED_SETTINGS: CoreSettings = {
  ...DEV_SETTINGS,
  attributes: [
    { name: "user_id", type: "STRING" },
    { name: "qty", type: "INT64" },
    { name: "price", type: "FLOAT64" },
    { name: "first_visit", type: "BOOL" },
    { name: "note", type: "STRING" },
  ],
  maxValueLength: 8,
};

describe("a real load balancer log entry", () => {
  it("becomes a row for the tenant's table of the request's UTC day", () => {
    const event = acceptedEvent(loadBalancerEntry());
    expect(event.tableSuffix).toBe("_acme_20170517");
    expect(event.row).toEqual({
      event_timestamp: "2017-05-17T11:12:28.408747Z",
      insert_id: "bIudF7T6NVkCRLlsvdKtk6rsg3u5EJ3Q",
      receive_timestamp: "2017-05-17T11:12:30.078391Z",
      log_insert_id: "1oek5rg3l3fxj7",
      host: "track.example.com",
      user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
      referer: "https://shop.example.com/checkout",
      remote_ip: "89.160.20.0",
      status: 200,
      cache_hit: true,
      cache_id: "SFO-fbae48ad",
      is_bot: false,
      email_proxy: null,
      dnt: false,
      invalid_attributes: null,
      // HMAC-SHA256 of the UTC day, tenant, full address and user agent, as JSON, cut to 16 characters of base64url.
      visitor_id: createHmac("sha256", TEST_VISITOR_KEY)
        .update(JSON.stringify(["20170517", "acme", "89.160.20.156", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"]))
        .digest("base64url")
        .slice(0, 16),
      // DB-IP: 89.160.0.0–89.160.127.255 is SE.
      country: "SE",
      browser: "Chrome",
      browser_version: "126",
      os: "Linux",
      device_type: "desktop",
      page_host: "shop.example.com",
      page_path: "/checkout",
      utm_source: null,
      utm_medium: null,
      utm_campaign: null,
      utm_term: null,
      utm_content: null,
      user_id: "acme",
      order_id: "42",
      type: "click",
    });
  });

});

/*
 * BigQuery drops a redelivered row by its insertId, and SQL dedups by insert_id, across deploys:
 * rows stored before a change and redeliveries after it must still carry the same id. So the id
 * of known entries is pinned here as a literal (base64url of SHA-256 over "<insertId>\n<timestamp>",
 * cut to 32 characters; the first also checked with `openssl dgst -sha256 -binary | base64`).
 * A change to the hash, its input or its encoding fails these rows.
 */
describe.each([
  ["1oek5rg3l3fxj7", "2017-05-17T11:12:28.408747509Z", "bIudF7T6NVkCRLlsvdKtk6rsg3u5EJ3Q"],
  ["1oek5rg3l3fxj8", "2017-05-17T11:12:28.408747509Z", "cbCMTKTmB_pyvEW5-uxabmVyMcDR5r6F"],
  ["1oek5rg3l3fxj7", "2017-05-17T11:12:29Z", "KcIbfGnDs7LxcSYLrmWvpnSL5Gko2LdB"],
  // The timestamp as Logging wrote it, not as stored: an offset is hashed as written.
  ["x", "2026-01-05T00:30:00.5+01:00", "NoPUqKTY01BsN3kvMRAGU9dQD_9pasl9"],
  // Hashed as UTF-8.
  ["münchen-ü", "2026-01-05T00:00:00Z", "r5YemixnGsbOK6CH7GOdz9VOMJmk45H7"],
])("the log entry %p at %p", (logInsertId, timestamp, expected) => {
  it(`has the insertId ${expected} on every deploy, in the call to BigQuery and in the row`, () => {
    const event = acceptedEvent(loadBalancerEntry({ insertId: logInsertId, timestamp }));
    expect(event.insertId).toBe(expected);
    expect(event.row.insert_id).toBe(expected);
    expect(stableInsertId(logInsertId, timestamp)).toBe(expected);
  });
});

describe.each([
  ["a 304 revalidation (browser re-requests with clientTtl 0)", { httpRequest: { status: 304 } }, { status: 304 }],
  ["a cache miss: cacheHit absent, as Logging omits false booleans", { httpRequest: { cacheHit: undefined, cacheLookup: undefined } }, { cache_hit: false }],
  ["remoteIp with a port", { httpRequest: { remoteIp: "89.160.20.156:9989" } }, { remote_ip: "89.160.20.0" }],
  ["an IPv6 client", { httpRequest: { remoteIp: "2001:db8:85a3:8d3:1319:8a2e:370:7348" } }, { remote_ip: "2001:db8:85a3::" }],
  ["IPv6 with a port", { httpRequest: { remoteIp: "[2001:db8::1]:443" } }, { remote_ip: "2001:db8::" }],
  ["no remoteIp in httpRequest, only in jsonPayload", { httpRequest: { remoteIp: undefined }, jsonPayload: { remoteIp: "10.1.2.3" } }, { remote_ip: "10.1.2.0" }],
  ["a garbage remoteIp", { httpRequest: { remoteIp: "not-an-ip" } }, { remote_ip: null }],
  ["a timestamp with no fraction", { timestamp: "2026-01-05T00:00:00Z" }, { event_timestamp: "2026-01-05T00:00:00.000000Z" }],
  ["a timestamp with an offset, on the previous UTC day", { timestamp: "2026-01-05T00:30:00.5+01:00" }, { event_timestamp: "2026-01-04T23:30:00.500000Z" }],
  ["percent-encoding and + as space", { httpRequest: { requestUrl: pixelUrl("user_id=acme&type=add%20to+cart&order_id=%E2%82%AC42") } }, { type: "add to cart", order_id: "€42" }],
  ["a repeated key keeps its first value", { httpRequest: { requestUrl: pixelUrl("user_id=acme&type=first&type=second") } }, { type: "first", order_id: null }],
  ["no referer or user agent", { httpRequest: { referer: undefined, userAgent: undefined } }, { referer: null, user_agent: null }],
  ["an empty referer and user agent, which are stored as NULL, not as empty text", { httpRequest: { referer: "", userAgent: "" } }, { referer: null, user_agent: null, page_host: null, page_path: null }],
  ["no jsonPayload (every field of an entry is optional)", { jsonPayload: undefined }, { cache_id: null, status: 200 }],
  ["no remoteIp anywhere: neither in httpRequest nor in a jsonPayload", { httpRequest: { remoteIp: undefined }, jsonPayload: undefined }, { remote_ip: null, country: null, status: 200 }],
  ["a tenant of exactly 64 bytes", { httpRequest: { requestUrl: pixelUrl(`user_id=${"a".repeat(64)}`) } }, { user_id: "a".repeat(64) }],
  ["a tenant of exactly 64 bytes in 32 two-byte characters", { httpRequest: { requestUrl: pixelUrl(`user_id=${"%C3%A9".repeat(32)}`) } }, { user_id: "é".repeat(32) }],
  ["a method-less entry (every httpRequest field is optional)", { httpRequest: { requestMethod: undefined } }, { status: 200 }],
])("%s", (_name, overrides, expected) => {
  it("is accepted with the expected columns", () => {
    expect(acceptedEvent(loadBalancerEntry(overrides as Record<string, unknown>)).row).toMatchObject(expected);
  });
});

it("uses the request time for the table date, not the function's clock", () => {
  const lateEvent = acceptedEvent(loadBalancerEntry({ timestamp: "2025-12-31T23:59:59.999999999Z", receiveTimestamp: "2026-01-01T00:00:07Z" }));
  expect(lateEvent.tableSuffix).toBe("_acme_20251231");
});

it("keeps IPs whole when anonymisation is off", () => {
  const settings = { ...DEV_SETTINGS, anonymizeIp: false };
  expect(acceptedEvent(loadBalancerEntry({ httpRequest: { remoteIp: "89.160.20.156:9989" } }), settings).row.remote_ip).toBe("89.160.20.156");
  expect(acceptedEvent(loadBalancerEntry({ httpRequest: { remoteIp: "::ffff:89.160.20.156" } }), settings).row.remote_ip).toBe("89.160.20.156");
});

describe.each<[string, string, Record<string, unknown>]>([
  ["typed values", "qty=3&price=9.5&first_visit=true&note=hi", { qty: "3", price: 9.5, first_visit: true, note: "hi", invalid_attributes: null }],
  ["INT64 beyond 2^53 stays exact", "qty=9223372036854775807", { qty: "9223372036854775807" }],
  ["BOOL as 1/0", "first_visit=0", { first_visit: false }],
  ["values that do not fit become NULL and are named", "qty=three&price=1e999&first_visit=maybe", { qty: null, price: null, first_visit: null, invalid_attributes: "qty,price,first_visit" }],
  ["INT64 out of range", "qty=9223372036854775808", { qty: null, invalid_attributes: "qty" }],
  ["INT64 at its lower bound", "qty=-9223372036854775808", { qty: "-9223372036854775808", invalid_attributes: null }],
  ["INT64 one below its lower bound", "qty=-9223372036854775809", { qty: null, invalid_attributes: "qty" }],
  ["long strings are cut to maxValueLength code points", "note=%F0%9F%98%80abcdefghij", { note: "😀abcdefg" }],
  ["an empty value is an empty string, not missing", "note=", { note: "" }],
])("typed attribute: %s", (_name, query, expected) => {
  it("gets its documented value", () => {
    const entry = loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl(`user_id=acme&${query}`) } });
    expect(acceptedEvent(entry, TYPED_SETTINGS).row).toMatchObject(expected);
  });
});

it("never lets a non-whitelisted query key into the row", () => {
  const entry = loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl("user_id=acme&email=a%40b.c&__proto__=x&constructor=y&insert_id=forged") } });
  const row = acceptedEvent(entry).row;
  expect(Object.keys(row)).not.toEqual(expect.arrayContaining(["email"]));
  expect(row.insert_id).not.toBe("forged");
  expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
});

const SIGNED: CoreSettings = { ...DEV_SETTINGS, signedUrls: true, signingKeys: ["0123456789abcdef"] };

// The detail is what an operator reads in the refusal's log line: what was wrong, quoted as JSON.
describe.each<[RefusalReason, string, Record<string, unknown>, CoreSettings?]>([
  ["not_load_balancer", 'resource.type is "gce_instance"', { resource: { type: "gce_instance" } }],
  ["cdn_subrequest", 'parentInsertId "1oek5rg3l3fxj6"', { jsonPayload: { parentInsertId: "1oek5rg3l3fxj6" }, httpRequest: { userAgent: "Cloud-CDN-Google (+https://cloud.google.com/cdn/docs)" } }],
  ["missing_http_request", "httpRequest.requestUrl is missing", { httpRequest: undefined }],
  ["missing_http_request", "httpRequest.requestUrl is missing", { httpRequest: { requestUrl: undefined } }],
  ["invalid_url", 'requestUrl "not a url"', { httpRequest: { requestUrl: "not a url" } }],
  ["other_path", 'path "/favicon.ico"', { httpRequest: { requestUrl: "https://track.example.com/favicon.ico" } }],
  ["other_path", 'path "/x"', { httpRequest: { requestUrl: "https://track.example.com/pixel.png/../x?user_id=acme" } }],
  ["method_not_counted", 'method "HEAD"', { httpRequest: { requestMethod: "HEAD" } }],
  ["status_not_counted", "status 404", { httpRequest: { status: 404 } }],
  ["status_not_counted", "status 0", { httpRequest: { status: 0 }, jsonPayload: { statusDetails: "client_disconnected_before_any_response" } }],
  ["status_not_counted", "status 403", { httpRequest: { status: 403 }, jsonPayload: { statusDetails: "denied_by_security_policy" } }],
  ["invalid_entry", "timestamp undefined", { timestamp: undefined }],
  ["invalid_entry", 'timestamp "2017-02-30T00:00:00Z"', { timestamp: "2017-02-30T00:00:00Z" }],
  ["invalid_entry", "insertId undefined", { insertId: undefined }],
  ["invalid_entry", 'insertId ""', { insertId: "" }],
  ["missing_tenant", 'no "user_id" in the query', { httpRequest: { requestUrl: pixelUrl("type=click") } }],
  ["missing_tenant", 'no "user_id" in the query', { httpRequest: { requestUrl: pixelUrl("user_id=&type=click") } }],
  ["ambiguous_tenant", 'values ["acme","victim"]', { httpRequest: { requestUrl: pixelUrl("user_id=acme&user_id=victim") } }],
  ["invalid_tenant", `tenant "${"a".repeat(65)}"`, { httpRequest: { requestUrl: pixelUrl(`user_id=${"a".repeat(65)}`) } }],
  // 65 bytes in 33 characters: the limit is in bytes of UTF-8, not in characters.
  ["invalid_tenant", `tenant "${"é".repeat(32)}a"`, { httpRequest: { requestUrl: pixelUrl(`user_id=${"%C3%A9".repeat(32)}a`) } }],
  ["tenant_not_allowed", 'tenant "intruder"', { httpRequest: { requestUrl: pixelUrl("user_id=intruder") } }, { ...DEV_SETTINGS, tenantAllowlist: ["acme"] }],
  ["missing_signature", "no sig in the query", { httpRequest: { requestUrl: pixelUrl("user_id=acme") } }, SIGNED],
  ["invalid_signature", 'query "?user_id=acme&sig=abc"', { httpRequest: { requestUrl: pixelUrl("user_id=acme&sig=abc") } }, SIGNED],
])("refusal %s", (reason, detail, overrides, settings = DEV_SETTINGS) => {
  it(`refuses ${JSON.stringify(overrides).slice(0, 90)}, saying ${detail.slice(0, 40)}`, () => {
    expect(logEntryToEvent(loadBalancerEntry(overrides), settings)).toEqual({ ok: false, reason, detail });
  });
});

it("accepts an allowlisted tenant and a repeated identical tenant", () => {
  const settings = { ...DEV_SETTINGS, tenantAllowlist: ["acme"] };
  expect(acceptedEvent(loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl("user_id=acme&user_id=acme") } }), settings).tableSuffix).toBe("_acme_20170517");
});

it("gives the same insertId on redelivery and different ones to a tenant's repeat events", () => {
  const first = acceptedEvent(loadBalancerEntry());
  const redelivered = acceptedEvent(JSON.parse(JSON.stringify(loadBalancerEntry())));
  const repeat = acceptedEvent(loadBalancerEntry({ insertId: "1oek5rg3l3fxj8" }));
  const sameIdLaterTime = acceptedEvent(loadBalancerEntry({ timestamp: "2017-05-17T11:12:29Z" }));
  expect(redelivered.insertId).toBe(first.insertId);
  expect(new Set([first.insertId, repeat.insertId, sameIdLaterTime.insertId]).size).toBe(3);
  expect(repeat.tableSuffix).toBe(first.tableSuffix);
});

it.each([
  [null, "null"],
  [42, "42"],
  ["text", '"text"'],
  [[], "[]"],
  [[1], "[1]"],
])("refuses a log entry that is not an object: %p", (entry, shown) => {
  expect(logEntryToEvent(entry as unknown as LoadBalancerLogEntry, DEV_SETTINGS)).toEqual({ ok: false, reason: "invalid_message", detail: `a log entry is a JSON object, got ${shown}` });
});

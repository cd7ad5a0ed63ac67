import { createHmac } from "node:crypto";
import fc from "fast-check";
import { logEntryToEvent } from "../../core/event";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import { visitorId } from "../../core/visitor";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { TEST_VISITOR_KEY } from "../../testkit/settings";

// The answer columns of a row, through logEntryToEvent: page, campaign, country and visitor id.

function row(overrides: Parameters<typeof loadBalancerEntry>[0], settings: CoreSettings = DEV_SETTINGS) {
  return acceptedEvent(loadBalancerEntry(overrides), settings).row;
}

describe.each<[string, string | undefined, string | null, string | null]>([
  ["a page with query and fragment", "https://Shop.Example.com/checkout/step-2?session=secret#top", "shop.example.com", "/checkout/step-2"],
  ["a site's home page, as browsers send a cross-origin Referer by default", "https://shop.example.com/", "shop.example.com", "/"],
  ["an encoded path", "https://m.example.de/%C3%BC/a%20b?x=1", "m.example.de", "/%C3%BC/a%20b"],
  ["an internationalised host", "https://bücher.example/", "xn--bcher-kva.example", "/"],
  ["a host with a port", "http://localhost:8080/app", "localhost", "/app"],
  ["no Referer", undefined, null, null],
  ["an app, not a web page", "android-app://com.google.android.gm/", null, null],
  ["not a URL", "definitely not a url", null, null],
])("the Referer of %s", (_, referer, pageHost, pagePath) => {
  test(`gives page_host ${pageHost} and page_path ${pagePath}, never the query or fragment`, () => {
    expect(row({ httpRequest: { referer } })).toMatchObject({ page_host: pageHost, page_path: pagePath });
  });
});

test("page_path is cut to maxValueLength like other text", () => {
  expect(row({ httpRequest: { referer: `https://a.example/${"x".repeat(50)}` } }, { ...DEV_SETTINGS, maxValueLength: 10 }).page_path).toBe("/xxxxxxxxx");
});

const CAMPAIGN_NONE = { utm_source: null, utm_medium: null, utm_campaign: null, utm_term: null, utm_content: null };

describe.each<[string, string, string | undefined, Record<string, string | null>]>([
  [
    "in the pixel URL",
    "user_id=acme&utm_source=newsletter&utm_medium=email&utm_campaign=autumn%20sale&utm_term=shoes+red&utm_content=hero",
    "https://shop.example.com/?utm_source=ignored",
    { utm_source: "newsletter", utm_medium: "email", utm_campaign: "autumn sale", utm_term: "shoes red", utm_content: "hero" },
  ],
  ["only in the page URL", "user_id=acme", "https://shop.example.com/landing?utm_source=google&utm_medium=cpc&utm_campaign=brand", { ...CAMPAIGN_NONE, utm_source: "google", utm_medium: "cpc", utm_campaign: "brand" }],
  // One place per event: a partial campaign in the pixel URL is not completed from the page.
  ["partly in the pixel URL", "user_id=acme&utm_campaign=spring", "https://shop.example.com/?utm_source=google", { ...CAMPAIGN_NONE, utm_campaign: "spring" }],
  ["repeated", "user_id=acme&utm_source=first&utm_source=second", undefined, { ...CAMPAIGN_NONE, utm_source: "first" }],
  ["empty", "user_id=acme&utm_source=", undefined, { ...CAMPAIGN_NONE, utm_source: "" }],
  ["badly encoded", "user_id=acme&utm_source=%E2%82&utm_medium=%zz", undefined, { ...CAMPAIGN_NONE, utm_source: "\uFFFD", utm_medium: "%zz" }],
  ["nowhere", "user_id=acme", "https://shop.example.com/", CAMPAIGN_NONE],
])("a campaign %s", (_, query, referer, expected) => {
  test("fills the utm_ columns, decoded like attributes", () => {
    expect(row({ httpRequest: { requestUrl: pixelUrl(query), referer } })).toMatchObject(expected);
  });
});

test("utm_ values are cut to maxValueLength, and utmColumns: false leaves them NULL", () => {
  const entry = { httpRequest: { requestUrl: pixelUrl(`user_id=acme&utm_source=${"s".repeat(40)}`) } };
  expect(row(entry, { ...DEV_SETTINGS, maxValueLength: 12 }).utm_source).toBe("s".repeat(12));
  expect(row(entry, { ...DEV_SETTINGS, utmColumns: false })).toMatchObject(CAMPAIGN_NONE);
});

describe("country", () => {
  test.each([
    ["89.160.20.156", "SE"],
    ["89.160.20.156:443", "SE"],
    ["[2a01:e0a::1]:443", "FR"],
    ["::ffff:212.27.48.10", "FR"],
    ["10.0.0.8", null],
    ["::1", null],
    ["not an address", null],
  ])("of a request from %s is %s, from the full address even when remote_ip is cut", (remoteIp, country) => {
    expect(row({ httpRequest: { remoteIp } })).toMatchObject({ country });
  });

  test("is NULL without a country table, and kept with dnt, where remote_ip is not", () => {
    expect(row({}, { ...DEV_SETTINGS, countries: undefined }).country).toBeNull();
    expect(row({ httpRequest: { requestUrl: pixelUrl("user_id=acme&dnt=1") } })).toMatchObject({ country: "SE", remote_ip: null });
  });
});

describe("visitor_id", () => {
  const at = (timestamp: string, query = "user_id=acme", remoteIp = "89.160.20.156", userAgent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0") =>
    row({ timestamp, httpRequest: { requestUrl: pixelUrl(query), remoteIp, userAgent } }).visitor_id;

  test("is the documented HMAC of UTC day, tenant, full address and user agent, as the core computes it", () => {
    const expected = createHmac("sha256", TEST_VISITOR_KEY).update('["20260105","acme","89.160.20.156","Firefox/1"]').digest("base64url").slice(0, 16);
    expect(visitorId(TEST_VISITOR_KEY, "20260105", "acme", "89.160.20.156", "Firefox/1")).toBe(expected);
    expect(expected).toMatch(/^[A-Za-z0-9_-]{16}$/);
    // No user agent hashes as an empty one: a change would split such visitors across a deploy.
    const withoutAgent = createHmac("sha256", TEST_VISITOR_KEY).update('["20260105","acme","89.160.20.156",""]').digest("base64url").slice(0, 16);
    expect(visitorId(TEST_VISITOR_KEY, "20260105", "acme", "89.160.20.156", null)).toBe(withoutAgent);
  });

  test("is the same for the same visitor all UTC day, and with the port or the IPv4-mapped form of its address", () => {
    const morning = at("2026-01-05T00:00:00Z");
    expect(at("2026-01-05T23:59:59.999Z")).toBe(morning);
    expect(at("2026-01-05T12:00:00Z", undefined, "89.160.20.156:51234")).toBe(morning);
    expect(at("2026-01-05T12:00:00Z", undefined, "::ffff:89.160.20.156")).toBe(morning);
  });

  test("changes with the day, the tenant, the address (even within its /24) and the user agent", () => {
    const base = at("2026-01-05T12:00:00Z");
    const others = [
      at("2026-01-06T00:00:00Z"),
      at("2026-01-05T12:00:00Z", "user_id=beta"),
      at("2026-01-05T12:00:00Z", undefined, "89.160.20.157"),
      at("2026-01-05T12:00:00Z", undefined, undefined, "Mozilla/5.0 (X11; Linux x86_64) Firefox/134.0"),
    ];
    expect(new Set([base, ...others]).size).toBe(5);
  });

  test("is NULL with dnt, without an address, and without a key", () => {
    expect(at("2026-01-05T12:00:00Z", "user_id=acme&dnt=1")).toBeNull();
    expect(at("2026-01-05T12:00:00Z", undefined, "garbage")).toBeNull();
    expect(row({}, { ...DEV_SETTINGS, visitorKey: undefined }).visitor_id).toBeNull();
  });

  test("depends on the key: another stack's key gives unrelated ids", () => {
    expect(row({}, { ...DEV_SETTINGS, visitorKey: "another-key-of-at-least-32-characters!" }).visitor_id).not.toBe(row({}).visitor_id);
  });

  test("never repeats across tenants or days for one visitor (property)", () => {
    const day = fc.date({ min: new Date("2020-01-01"), max: new Date("2030-12-31"), noInvalidDate: true }).map((date) => date.toISOString().slice(0, 10).replace(/-/g, ""));
    const tenant = fc.string({ minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(day, day, tenant, tenant, fc.ipV4(), (dayA, dayB, tenantA, tenantB, address) => {
        fc.pre(dayA !== dayB || tenantA !== tenantB);
        expect(visitorId(TEST_VISITOR_KEY, dayA, tenantA, address, "ua")).not.toBe(visitorId(TEST_VISITOR_KEY, dayB, tenantB, address, "ua"));
      }),
    );
  });
});

test("a request without any of it still becomes a row, the answers NULL and the device other", () => {
  const entry = loadBalancerEntry({ httpRequest: { userAgent: undefined, referer: undefined, remoteIp: undefined } }) as LoadBalancerLogEntry;
  const result = logEntryToEvent(entry, DEV_SETTINGS);
  expect(result).toMatchObject({
    ok: true,
    row: { visitor_id: null, country: null, browser: null, browser_version: null, os: null, device_type: "other", page_host: null, page_path: null, ...CAMPAIGN_NONE },
  });
});

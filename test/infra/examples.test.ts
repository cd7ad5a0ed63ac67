import { examplePixelUrl, exampleQuery, exampleTenant, imgTag, lastUtcDays, pixelUrl, servingNote } from "../../infra/examples";
import { settingsFrom } from "../../testkit/settings";

// Stack configs; each test reads its settings from one as the program does.
const DEV = { attributes: { user_id: "STRING", order_id: "INT64", type: "STRING" } };
const TYPED = { attributes: { price: "FLOAT64", customer: "STRING", opened: "BOOL" }, tenantAttribute: "customer", pixelPath: "/t/p.png" };
const ALLOWLISTED = { attributes: { user_id: "STRING" }, tenantAllowlist: ["Acme-Corp", "beta"], templateTable: "hits" };

describe.each([
  [DEV, "1.2.3.4", undefined, "http://1.2.3.4/pixel.png"],
  [DEV, "1.2.3.4", "track.example.com", "https://track.example.com/pixel.png"],
  [TYPED, "1.2.3.4", undefined, "http://1.2.3.4/t/p.png"],
])("pixelUrl(%#)", (raw, ip, domain, expected) => {
  test(`is ${expected}`, () => {
    expect(pixelUrl(settingsFrom(raw), ip, domain)).toBe(expected);
  });
});

describe.each([
  [DEV, "acme"],
  [ALLOWLISTED, "Acme-Corp"],
])("exampleTenant(%#)", (raw, tenant) => {
  test(`is ${tenant}, which the function accepts`, () => {
    expect(exampleTenant(settingsFrom(raw))).toBe(tenant);
  });
});

describe.each([
  [DEV, "https://t.example/pixel.png?user_id=acme&order_id=42&type=example"],
  [TYPED, "https://t.example/pixel.png?customer=acme&price=9.99&opened=true"],
  [ALLOWLISTED, "https://t.example/pixel.png?user_id=Acme-Corp"],
])("examplePixelUrl(%#)", (raw, expected) => {
  test("puts the tenant first and a value of the right type for every other attribute", () => {
    expect(examplePixelUrl(settingsFrom(raw), "https://t.example/pixel.png")).toBe(expected);
  });
});

describe.each([
  ["https://t.example/p.png?a=1&b=2", '<img src="https://t.example/p.png?a=1&amp;b=2" width="1" height="1" alt="" referrerpolicy="no-referrer-when-downgrade" style="position:absolute">'],
  ['https://t.example/p.png?q="x"', '<img src="https://t.example/p.png?q=&quot;x&quot;" width="1" height="1" alt="" referrerpolicy="no-referrer-when-downgrade" style="position:absolute">'],
])("imgTag(%p)", (url, expected) => {
  test("escapes the URL for an HTML attribute and asks the browser for the whole page URL as Referer", () => {
    expect(imgTag(url)).toBe(expected);
  });
});

describe.each([
  [undefined, /^HTTP only/],
  ["track.example.com", /^HTTPS on track\.example\.com; plain HTTP redirects to HTTPS with the query kept\. Point an A record/],
])("servingNote(%p)", (domain, expected) => {
  test("says how the pixel is served", () => {
    expect(servingNote(domain)).toMatch(expected);
  });
});

describe.each([
  ["2026-01-07T23:59:59Z", 7, { from: "20260101", to: "20260107" }],
  ["2026-03-01T00:00:00Z", 2, { from: "20260228", to: "20260301" }],
  ["2024-03-01T12:00:00Z", 2, { from: "20240229", to: "20240301" }],
  ["2026-01-01T05:00:00Z", 1, { from: "20260101", to: "20260101" }],
])("lastUtcDays(%p, %p)", (now, days, expected) => {
  test(`is ${expected.from}..${expected.to}`, () => {
    expect(lastUtcDays(new Date(now), days)).toEqual(expected);
  });
});

describe.each([
  [DEV, "FROM `p.pixel_dev.pixel_acme_*`", "SELECT event_timestamp, `user_id`, `order_id`, `type`"],
  [ALLOWLISTED, "FROM `p.pixel_dev.hits_X41cmeX2DX43orp_*`", "SELECT event_timestamp, `user_id`"],
])("exampleQuery(%#)", (raw, from, select) => {
  const query = () => exampleQuery("p", "pixel_dev", settingsFrom(raw), { from: "20260101", to: "20260131" });

  test("reads the example tenant's day tables through the wildcard", () => {
    expect(query()).toContain(from);
  });

  test("selects the event time and every attribute", () => {
    expect(query().split("\n")[0]).toBe(select);
  });

  test("limits the days with _TABLE_SUFFIX, which is just the day for this wildcard", () => {
    expect(query()).toContain("WHERE _TABLE_SUFFIX BETWEEN '20260101' AND '20260131'");
  });
});

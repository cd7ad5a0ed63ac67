// Hostile log entries for the fuzz run and its fast-check twin in the tests: one generator, one
// set of invariants, so `npm test` checks in seconds what `npm run fuzz` checks a million times.
import fc from "fast-check";
import { logEntryToEvent } from "../core/event";
import type { LoadBalancerLogEntry } from "../core/logEntry";
import { STANDARD_COLUMN_NAMES } from "../core/schema";
import type { CoreSettings } from "../core/config/coreSettings";
import { decodeTenant } from "../core/tenant";

const RESERVED = [..."!#$&'()*+,/:;=?@[]%\"<>\\^`{|}~ \t\r\n\0"];
const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString", "valueOf", "__defineGetter__"];
/** Overlong encodings, lone surrogates, truncated sequences, bytes that never occur in UTF-8. */
const INVALID_UTF8 = ["%C0%AF", "%ED%A0%80", "%ED%BF%BF", "%F4%90%80%80", "%FF", "%FE%FF", "%E2%82", "%C3", "%80", "%F0%9F%98"];

const anyText = fc.string({ unit: "binary", maxLength: 60 });
const reservedText = fc.array(fc.constantFrom(...RESERVED), { minLength: 1, maxLength: 12 }).map((chars) => chars.join(""));
const invalidUtf8 = fc.array(fc.oneof(fc.constantFrom(...INVALID_UTF8), fc.integer({ min: 0x80, max: 0xff }).map((byte) => `%${byte.toString(16)}`)), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(""));
/** Text percent-encoded again and again: %2525252541… */
const deeplyEncoded = fc.tuple(anyText.map((text) => text.replace(/[\uD800-\uDFFF]/g, "")), fc.integer({ min: 1, max: 10 })).map(([text, depth]) => {
  let encoded = text;
  for (let level = 0; level < depth; level++) encoded = encodeURIComponent(encoded);
  return encoded;
});
const huge = fc.tuple(fc.constantFrom("a", "%", "%41", "\u{1F600}", "&x=", "user_id="), fc.integer({ min: 5_000, max: 40_000 })).map(([unit, times]) => unit.repeat(times));

const queryText = fc.oneof(
  { weight: 4, arbitrary: anyText },
  { weight: 2, arbitrary: reservedText },
  { weight: 2, arbitrary: invalidUtf8 },
  { weight: 2, arbitrary: deeplyEncoded },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, "user_id", "type", "order_id", "sig", "dnt", "insert_id", "event_timestamp") },
);
/** Key-value pairs with duplicated keys on purpose, sometimes without "=". */
const query = fc
  .array(fc.tuple(queryText, queryText, fc.boolean()), { maxLength: 10 })
  .chain((pairs) => fc.tuple(fc.constant(pairs), fc.subarray(pairs)))
  .map(([pairs, repeated]) => [...pairs, ...repeated].map(([key, value, bare]) => (bare ? key : `${key}=${value}`)).join("&"));
/** Usually a tenant first, so that most cases reach the row builder rather than a refusal. */
const tenantValue = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(anyText, reservedText, fc.constantFrom(...PROTOTYPE_KEYS)).map((tenant) => encodeURIComponent(tenant.replace(/[\uD800-\uDFFF]/g, ""))) },
  { weight: 1, arbitrary: invalidUtf8 },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 40, maxLength: 90 }).map(encodeURIComponent) },
);
const pixelQuery = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(tenantValue, query).map(([tenant, rest]) => `user_id=${tenant}&${rest}`) },
  { weight: 1, arbitrary: query },
);

const timestamp = fc.oneof(
  { weight: 6, arbitrary: fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }).map((date) => date.toISOString().replace("Z", "123456Z")) },
  { weight: 1, arbitrary: fc.constantFrom("2026-02-29T00:00:00Z", "2026-01-01T00:00:60Z", "0000-01-01T00:00:00Z", "2026-01-01T00:00:00.1234567890123Z", "2026-01-01T00:00:00+24:00", "") },
  { weight: 1, arbitrary: fc.anything() },
);
const remoteIp = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4().map((ip) => `${ip}:65535`), fc.ipV6().map((ip) => `[${ip}]:1`), anyText, fc.anything());
const requestUrl = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom("https://t.example.com", "http://10.0.0.1:80", "https://xn--bcher-kva.example"), pixelQuery).map(([origin, q]) => `${origin}/pixel.png?${q}`) },
  { weight: 1, arbitrary: fc.tuple(reservedText, query).map(([path, q]) => `https://t.example.com/${path}?${q}`) },
  { weight: 1, arbitrary: fc.tuple(pixelQuery, huge).map(([q, tail]) => `https://t.example.com/pixel.png?${q}&note=${tail}`) },
  { weight: 1, arbitrary: fc.oneof(anyText, fc.anything()) },
);
const userAgent = fc.oneof({ weight: 30, arbitrary: anyText }, { weight: 1, arbitrary: huge }, { weight: 3, arbitrary: fc.anything() });

const mostlyValidEntry = fc
  .record({ requestUrl, status: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(200, 304) }, { weight: 1, arbitrary: fc.anything() }), remoteIp, timestamp, userAgent, referer: fc.oneof({ weight: 30, arbitrary: anyText }, { weight: 1, arbitrary: huge }), insertId: fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) }, { weight: 1, arbitrary: fc.anything() }) })
  .map(({ insertId, timestamp: time, ...http }) => ({
    insertId,
    timestamp: time,
    resource: { type: "http_load_balancer", labels: { forwarding_rule_name: "pixel-https" } },
    jsonPayload: { cacheId: "SFO-1" },
    httpRequest: { requestMethod: "GET", cacheHit: true, ...http },
  }));
const malformedEntry = fc.oneof(
  fc.anything(),
  fc.record({ resource: fc.anything(), httpRequest: fc.anything(), jsonPayload: fc.anything(), insertId: fc.anything(), timestamp: fc.anything() }, { requiredKeys: [] }),
  fc.jsonValue().map((value) => ({ resource: { type: "http_load_balancer" }, httpRequest: value, insertId: "x", timestamp: "2026-01-01T00:00:00Z" })),
);

/** Log entries an attacker or a broken client could make the load balancer write, and worse. */
export const hostileLogEntry: fc.Arbitrary<unknown> = fc.oneof({ weight: 5, arbitrary: mostlyValidEntry }, { weight: 1, arbitrary: malformedEntry });

export type Violation = "crash" | "unsafe_table" | "foreign_key" | "non_scalar" | "invalid_text" | "prototype_pollution";

/**
 * Runs one entry through the core and names the first broken promise, if any: the core never
 * throws, names only tables of BigQuery's alphabet that decode to the row's own tenant, and
 * writes only whitelisted scalar columns holding well-formed text.
 */
export function checkEntry(entry: unknown, settings: CoreSettings): { violation?: Violation; outcome: string; detail?: string } {
  let result;
  try {
    result = logEntryToEvent(entry as LoadBalancerLogEntry, settings);
  } catch (error) {
    return { violation: "crash", outcome: "crash", detail: String(error) };
  }
  if (Object.prototype.hasOwnProperty.call(Object.prototype, "polluted") || ({} as Record<string, unknown>).polluted !== undefined) {
    return { violation: "prototype_pollution", outcome: "crash" };
  }
  if (!result.ok) return { outcome: result.reason };
  const table = settings.templateTable + result.tableSuffix;
  const encodedTenant = /^_([A-Za-z0-9]+)_\d{8}$/.exec(result.tableSuffix)?.[1];
  if (!/^[A-Za-z0-9_]{1,1024}$/.test(table) || encodedTenant === undefined || decodeTenant(encodedTenant) !== result.row[settings.tenantAttribute]) {
    return { violation: "unsafe_table", outcome: "accepted", detail: table };
  }
  const allowed = new Set([...STANDARD_COLUMN_NAMES, ...settings.attributes.map((attribute) => attribute.name)]);
  const foreign = Object.keys(result.row).filter((key) => !allowed.has(key));
  if (foreign.length > 0 || Object.getPrototypeOf(result.row) !== Object.prototype) {
    return { violation: "foreign_key", outcome: "accepted", detail: foreign.join(",") };
  }
  const nonScalar = Object.entries(result.row).find(([, value]) => value !== null && !["string", "number", "boolean"].includes(typeof value));
  if (nonScalar) return { violation: "non_scalar", outcome: "accepted", detail: nonScalar[0] };
  const illFormed = Object.entries(result.row).find(([, value]) => typeof value === "string" && /[\uD800-\uDFFF]/u.test(value));
  if (illFormed) return { violation: "invalid_text", outcome: "accepted", detail: illFormed[0] };
  return { outcome: "accepted" };
}

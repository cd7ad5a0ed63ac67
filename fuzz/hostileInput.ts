// Hostile log entries for the fuzz run and its fast-check twin in the tests: one generator, one
// set of invariants, so `npm test` checks in seconds what `npm run fuzz` checks a million times.
import fc from "fast-check";
import { logEntryToEvent } from "../core/event";
import type { LoadBalancerLogEntry } from "../core/logEntry";
import { CAMPAIGN_PARAMETERS, DEVICE_TYPES, STANDARD_COLUMN_NAMES } from "../core/schema";
import type { Row } from "../core/schema";
import type { AttributeSpec, AttributeType } from "../core/attributes";
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
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, ...CAMPAIGN_PARAMETERS, "user_id", "type", "order_id", "sig", "dnt", "insert_id", "event_timestamp", "visitor_id", "country") },
);

/**
 * Attributes of the types the dev stack lacks (it keeps every attribute as STRING), so that INT64,
 * FLOAT64 and BOOL parsing meet hostile text too; the generator puts their names in most queries.
 */
export const TYPED_ATTRIBUTES: readonly AttributeSpec[] = [
  { name: "qty", type: "INT64" },
  { name: "price", type: "FLOAT64" },
  { name: "first", type: "BOOL" },
];

/** The settings with TYPED_ATTRIBUTES added: a stack with an attribute of every type. */
export function withEveryAttributeType(settings: CoreSettings): CoreSettings {
  return { ...settings, attributes: [...settings.attributes, ...TYPED_ATTRIBUTES] };
}

/** Text at the edges of the typed grammars: junk around digits, bounds, exponents, signs, number words, non-ASCII digits. */
const NEAR_TYPED = [
  "x1", "1x", "a-1", "--1", "+-1", "0x1F", "1_000", "1,5", "1e5", "1E+308", "1e999", "-1e-999", ".5", "5.", ".", "-", "+", "e5",
  "NaN", "Infinity", "-Infinity", " 42 ", "\t7\n", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
  "-9223372036854775809", "00000000000000000000001", "true", "TRUE", " false", "yes", "1.0", "\u0663", "\uFF11",
];
export const nearTypedValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NEAR_TYPED),
  fc.tuple(anyText, fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), anyText).map(([before, number, after]) => `${before}${number}${after}`),
  fc.double().map(String),
);
/**
 * Values that fit each type, in every spelling the parser accepts. Without them a value read is
 * rare (a BOOL only from "true", "TRUE" or " false"), and a run can miss it altogether.
 */
const FITTING_VALUE: Readonly<Record<AttributeType, fc.Arbitrary<string>>> = {
  STRING: anyText,
  INT64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  FLOAT64: fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  BOOL: fc
    .tuple(fc.constantFrom("true", "false", "1", "0"), fc.constantFrom("", " ", "\t"), fc.boolean())
    .map(([word, padding, upper]) => `${padding}${upper ? word.toUpperCase() : word}${padding}`),
};
const typedPair = fc.oneof(
  fc.tuple(fc.constantFrom(...TYPED_ATTRIBUTES.map((attribute) => attribute.name)), fc.oneof(nearTypedValue, queryText)),
  fc.constantFrom(...TYPED_ATTRIBUTES).chain(({ name, type }) => FITTING_VALUE[type].map((value) => [name, encodeURIComponent(value)] as const)),
);
/** Values for the typed attributes, first in the query so that they are the values read. */
const typedQuery = fc
  .array(typedPair, { maxLength: 4 })
  .map((pairs) => pairs.map(([key, value]) => `${key}=${value}`).join("&"));

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
  { weight: 9, arbitrary: fc.tuple(tenantValue, typedQuery, query).map(([tenant, typed, rest]) => `user_id=${tenant}&${typed}&${rest}`) },
  { weight: 1, arbitrary: query },
);

const timestamp = fc.oneof(
  { weight: 6, arbitrary: fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }).map((date) => date.toISOString().replace("Z", "123456Z")) },
  { weight: 1, arbitrary: fc.constantFrom("2026-02-29T00:00:00Z", "2026-01-01T00:00:60Z", "0000-01-01T00:00:00Z", "2026-01-01T00:00:00.1234567890123Z", "2026-01-01T00:00:00+24:00", "") },
  { weight: 1, arbitrary: fc.anything() },
);
const remoteIp = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((ip) => `${ip}:65535`),
  fc.ipV6().map((ip) => `[${ip}]:1`),
  fc.ipV4().map((ip) => `::ffff:${ip}`),
  fc.tuple(fc.ipV6(), anyText).map(([ip, zone]) => `${ip}%${zone}`),
  anyText,
  fc.anything(),
);
/** The page that showed the pixel: a URL with a hostile path and query (campaign parameters among them), or anything. */
const referer = fc.oneof(
  { weight: 15, arbitrary: anyText },
  { weight: 15, arbitrary: fc.tuple(fc.constantFrom("https://shop.example.com", "http://[::1]:8080", "https://xn--bcher-kva.example", "android-app://x", "https://"), reservedText, query).map(([origin, path, q]) => `${origin}/${path}?${q}#${path}`) },
  { weight: 1, arbitrary: huge },
);
const requestUrl = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom("https://t.example.com", "http://10.0.0.1:80", "https://xn--bcher-kva.example"), pixelQuery).map(([origin, q]) => `${origin}/pixel.png?${q}`) },
  { weight: 1, arbitrary: fc.tuple(reservedText, query).map(([path, q]) => `https://t.example.com/${path}?${q}`) },
  { weight: 1, arbitrary: fc.tuple(pixelQuery, huge).map(([q, tail]) => `https://t.example.com/pixel.png?${q}&note=${tail}`) },
  { weight: 1, arbitrary: fc.oneof(anyText, fc.anything()) },
);
/** Real browsers' user agents, pieces of them mixed with hostile text, and anything. */
const BROWSER_TOKENS = ["Mozilla/5.0 (", "Windows NT 10.0; Win64; x64", "iPhone; CPU iPhone OS 18_1 like Mac OS X", "Linux; Android 14; Pixel 8", ") ", "AppleWebKit/537.36 (KHTML, like Gecko) ", "Chrome/131.0.0.0 ", "Mobile ", "Safari/537.36", "Edg/131.0", "Firefox/133.0", "CrOS x86_64"];
const userAgent = fc.oneof(
  { weight: 20, arbitrary: anyText },
  { weight: 10, arbitrary: fc.array(fc.oneof(fc.constantFrom(...BROWSER_TOKENS), anyText), { maxLength: 8 }).map((parts) => parts.join("")) },
  { weight: 1, arbitrary: huge },
  { weight: 3, arbitrary: fc.anything() },
);

const mostlyValidEntry = fc
  .record({ requestUrl, status: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(200, 304) }, { weight: 1, arbitrary: fc.anything() }), remoteIp, timestamp, userAgent, referer, insertId: fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) }, { weight: 1, arbitrary: fc.anything() }) })
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

export type Violation = "crash" | "unsafe_table" | "foreign_key" | "non_scalar" | "invalid_text" | "prototype_pollution" | "mistyped_attribute" | "invalid_answer";

/** Every way a broken promise is named, for reports. */
export const VIOLATIONS: readonly Violation[] = ["crash", "unsafe_table", "foreign_key", "non_scalar", "invalid_text", "prototype_pollution", "mistyped_attribute", "invalid_answer"];

/**
 * Runs one entry through the core and names the first broken promise, if any: the core never
 * throws, names only tables of BigQuery's alphabet that decode to the row's own tenant, writes
 * only whitelisted scalar columns holding well-formed text, gives each attribute a value of its
 * type or NULL (attributeProblem), and derives only answers of their documented form (answerProblem).
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
  const attribute = attributeProblem(result.row, settings);
  if (attribute) return { violation: "mistyped_attribute", outcome: "accepted", detail: attribute };
  const answer = answerProblem(result.row, settings);
  if (answer) return { violation: "invalid_answer", outcome: "accepted", detail: answer };
  return { outcome: "accepted" };
}

/** What a value of each attribute type is in a row: INT64 travels as a decimal string, exact beyond 2^53, within 64 bits. */
const OF_TYPE: Readonly<Record<AttributeSpec["type"], (value: unknown) => boolean>> = {
  STRING: (value) => typeof value === "string",
  INT64: (value) => typeof value === "string" && /^-?\d{1,19}$/.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n,
  FLOAT64: (value) => typeof value === "number" && Number.isFinite(value),
  BOOL: (value) => typeof value === "boolean",
};

/**
 * The first attribute whose value is neither NULL nor of its type (a STRING within maxValueLength
 * code points), or that invalid_attributes names while it holds a value, as "column: value"; or
 * invalid_attributes itself when it names anything but a typed attribute.
 */
export function attributeProblem(row: Row, settings: CoreSettings): string | undefined {
  const invalid = typeof row.invalid_attributes === "string" ? row.invalid_attributes.split(",") : [];
  const typed = new Set(settings.attributes.filter((attribute) => attribute.type !== "STRING").map((attribute) => attribute.name));
  if (row.invalid_attributes === "" || invalid.some((name) => !typed.has(name))) return `invalid_attributes: ${JSON.stringify(row.invalid_attributes)}`;
  const broken = settings.attributes.find(({ name, type }) => {
    const value = row[name];
    if (value === null) return false;
    if (invalid.includes(name) || !OF_TYPE[type](value)) return true;
    return type === "STRING" && [...(value as string)].length > settings.maxValueLength;
  });
  return broken && `${broken.name}: ${JSON.stringify(row[broken.name])}`;
}

/** The first answer column whose value breaks its documented form, as "column: value", or undefined. */
export function answerProblem(row: Row, settings: CoreSettings): string | undefined {
  const nullOr = (value: unknown, valid: (text: string) => boolean) => value === null || (typeof value === "string" && valid(value));
  const codePoints = (text: string) => [...text].length;
  const checks: [string, boolean][] = [
    ["visitor_id", nullOr(row.visitor_id, (id) => /^[A-Za-z0-9_-]{16}$/.test(id)) && (row.visitor_id === null || (row.dnt === false && settings.visitorKey !== undefined))],
    ["country", nullOr(row.country, (country) => /^[A-Z]{2}$/.test(country))],
    ["browser", nullOr(row.browser, (browser) => browser !== "")],
    ["browser_version", nullOr(row.browser_version, (version) => /^\d+$/.test(version)) && (row.browser !== null || row.browser_version === null)],
    ["os", nullOr(row.os, (os) => os !== "")],
    ["device_type", DEVICE_TYPES.includes(row.device_type as (typeof DEVICE_TYPES)[number])],
    ["page_host", nullOr(row.page_host, (host) => host !== "" && !/[/?#]/.test(host)) && (row.page_host === null) === (row.page_path === null)],
    ["page_path", nullOr(row.page_path, (path) => path.startsWith("/") && !/[?#]/.test(path) && codePoints(path) <= settings.maxValueLength)],
    ...CAMPAIGN_PARAMETERS.map((name): [string, boolean] => [name, nullOr(row[name], (value) => settings.utmColumns && codePoints(value) <= settings.maxValueLength)]),
  ];
  const broken = checks.find(([, valid]) => !valid);
  return broken && `${broken[0]}: ${JSON.stringify(row[broken[0]])}`;
}

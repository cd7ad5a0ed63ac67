import fc from "fast-check";
import { logEntryToEvent } from "../../core/event";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import { STANDARD_COLUMN_NAMES } from "../../core/schema";
import { decodeTenant, encodeTenant } from "../../core/tenant";
import type { CoreSettings } from "../../core/config/coreSettings";
import { answerProblem, attributeProblem, nearTypedValue } from "../../fuzz/hostileInput";
import { DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { settingsFor, TEST_ATTRIBUTES } from "../../testkit/settings";

const RUNS = { numRuns: 2000 };
const anyText = fc.string({ unit: "binary", maxLength: 80 });
const tenant = fc.string({ unit: "binary", minLength: 1, maxLength: 20 }).filter((value) => Buffer.byteLength(value) <= 64);
const day = fc.date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true }).map((date) => date.toISOString().slice(0, 10).replace(/-/g, ""));

/**
 * The dev stack keeps every attribute as STRING; TEST_ATTRIBUTES has one of every type, so INT64,
 * FLOAT64 and BOOL parsing meet the same hostile input.
 */
const SETTINGS_UNDER_TEST: [string, () => CoreSettings][] = [
  ["the dev stack, every attribute a STRING", () => DEV_SETTINGS],
  ["an attribute of every type", () => settingsFor()],
];

/** Hostile query strings: raw and percent-encoded text, reserved characters, prototype keys, text near numbers, repeats. */
const queryPart = fc.oneof(
  anyText,
  fc.constantFrom(...Object.keys(TEST_ATTRIBUTES), "__proto__", "constructor", "prototype", "insert_id", "%", "%zz", "%C0%AF", "%ED%A0%80", "+", "&&", "=", "#"),
  anyText.map((text) => encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, ""))),
  nearTypedValue,
);
const query = fc.array(fc.tuple(queryPart, queryPart), { maxLength: 8 }).map((pairs) => pairs.map(([key, value]) => `${key}=${value}`).join("&"));
const hostileEntry = fc.record(
  {
    requestUrl: fc.oneof(query.map((q) => `https://t.example.com/pixel.png?${q}`), anyText),
    status: fc.oneof(fc.constantFrom(200, 304, 404), fc.anything()),
    remoteIp: fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4().map((ip) => `::ffff:${ip}`), fc.ipV6().map((ip) => `[${ip}]:443`), anyText, fc.anything()),
    timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((date) => date.toISOString()), anyText, fc.anything()),
    userAgent: fc.oneof(anyText, fc.anything()),
    referer: fc.oneof(anyText, query.map((q) => `https://shop.example.com/${q}?${q}#${q}`), fc.anything()),
  },
  { requiredKeys: [] },
).map(({ requestUrl, status, remoteIp, timestamp, userAgent, referer }) =>
  loadBalancerEntry({ timestamp, httpRequest: { requestUrl, status, remoteIp, userAgent, referer } } as Record<string, unknown>),
);

/** Mostly valid entries whose tenant and other query values are hostile, so most are accepted. */
const hostileAttributesEntry = fc
  .tuple(fc.oneof(tenant.map(encodeURIComponent), queryPart), query, fc.ipV6())
  .map(([tenantValue, rest, remoteIp]) =>
    loadBalancerEntry({ httpRequest: { requestUrl: `https://t.example.com/pixel.png?user_id=${tenantValue}&${rest.replace(/user_id/g, "u")}`, remoteIp } }),
  );

/** Runs a property over accepted events only, and checks that the generator really reached them. */
function forAcceptedEvents(settings: CoreSettings, check: (event: Extract<ReturnType<typeof logEntryToEvent>, { ok: true }>) => void): void {
  let accepted = 0;
  fc.assert(
    fc.property(fc.oneof(hostileEntry, hostileAttributesEntry), (entry) => {
      const result = logEntryToEvent(entry, settings);
      if (!result.ok) return;
      accepted++;
      check(result);
    }),
    RUNS,
  );
  expect(accepted).toBeGreaterThan(RUNS.numRuns / 4);
}

describe.each(SETTINGS_UNDER_TEST)("the core, with %s, on any input", (_, settingsUnderTest) => {
  it("never throws, and answers an event or a refusal", () => {
    const settings = settingsUnderTest();
    fc.assert(
      fc.property(fc.oneof(fc.anything(), hostileEntry, hostileAttributesEntry), (entry) => {
        const result = logEntryToEvent(entry as LoadBalancerLogEntry, settings);
        expect(typeof result.ok).toBe("boolean");
      }),
      RUNS,
    );
  });

  it("only names tables in BigQuery's alphabet, within its length limit", () => {
    const settings = settingsUnderTest();
    forAcceptedEvents(settings, (event) => {
      const table = settings.templateTable + event.tableSuffix;
      expect(table).toMatch(/^pixel_[A-Za-z0-9]+_\d{8}$/);
      expect(table.length).toBeLessThanOrEqual(1024);
    });
  });

  it("never lets a key outside the whitelist into a row", () => {
    const settings = settingsUnderTest();
    const allowed = new Set([...STANDARD_COLUMN_NAMES, ...settings.attributes.map((attribute) => attribute.name)]);
    forAcceptedEvents(settings, (event) => {
      expect(Object.keys(event.row).filter((key) => !allowed.has(key))).toEqual([]);
      expect(Object.getPrototypeOf(event.row)).toBe(Object.prototype);
    });
  });

  it("gives every attribute a value of its type, or NULL named in invalid_attributes", () => {
    const settings = settingsUnderTest();
    forAcceptedEvents(settings, (event) => {
      expect(attributeProblem(event.row, settings)).toBeUndefined();
    });
  });
});

describe.each(SETTINGS_UNDER_TEST)("the answers, with %s", (_, settingsUnderTest) => {
  it("keep their documented form on any input: country code, device type, visitor id, page without query, bounded campaign", () => {
    const settings = settingsUnderTest();
    forAcceptedEvents(settings, (event) => {
      expect(answerProblem(event.row, settings)).toBeUndefined();
    });
  });

  it("come from the full client address, however the load balancer writes it", () => {
    const settings = settingsUnderTest();
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        const answers = [ip, `${ip}:${port}`, `::ffff:${ip}`, `[::ffff:${ip}]:${port}`].map((remoteIp) => {
          const result = logEntryToEvent(loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl("user_id=acme"), remoteIp } }), settings);
          return result.ok && [result.row.country, result.row.visitor_id, result.row.remote_ip];
        });
        expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
        expect(answers[0] && answers[0][1]).toMatch(/^[A-Za-z0-9_-]{16}$/);
      }),
      RUNS,
    );
  });
});

describe("tenant encoding", () => {
  it("is injective and reversible", () => {
    fc.assert(
      fc.property(tenant, tenant, (a, b) => {
        const wellFormed = (value: string) => !/[\uD800-\uDFFF]/u.test(value);
        fc.pre(wellFormed(a) && wellFormed(b));
        expect(decodeTenant(encodeTenant(a))).toBe(a);
        expect(encodeTenant(a) === encodeTenant(b)).toBe(a === b);
      }),
      RUNS,
    );
  });

  it("gives wildcards that never reach another tenant's tables", () => {
    fc.assert(
      fc.property(tenant, tenant, day, (mine, theirs, date) => {
        fc.pre(mine !== theirs);
        const wildcardPrefix = `pixel_${encodeTenant(mine)}_`;
        expect(`pixel_${encodeTenant(theirs)}_${date}`.startsWith(wildcardPrefix)).toBe(false);
      }),
      RUNS,
    );
  });

  it("keeps acme's wildcard off acme_corp's tables", () => {
    expect(`pixel_${encodeTenant("acme_corp")}_20260101`.startsWith(`pixel_${encodeTenant("acme")}_`)).toBe(false);
  });
});

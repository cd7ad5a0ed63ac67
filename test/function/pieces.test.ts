import { ConfigProblems } from "../../functions/core/configFields";
import { clientIp } from "../../functions/core/ip";
import { templateSchema, STANDARD_COLUMNS } from "../../functions/core/schema";
import { parseCoreSettingsJson, readCoreSettings, serializeCoreSettings } from "../../functions/core/settings";
import { decodeTenant, encodeTenant, tableSuffix } from "../../functions/core/tenant";
import { parseTimestamp } from "../../functions/core/timestamp";
import { DEV_SETTINGS } from "../support/logEntries";

describe.each([
  ["acme", "acme"],
  ["acme_corp", "acmeX5Fcorp"],
  ["acme-corp", "acmeX2Dcorp"],
  ["Acme", "X41cme"],
  ["a.b", "aX2Eb"],
  ["X", "X58"],
  ["münchen", "mXC3XBCnchen"],
  ["42", "42"],
  ["'; DROP TABLE x;--", "X27X3BX20X44X52X4FX50X20X54X41X42X4CX45X20xX3BX2DX2D"],
])("tenant %p", (tenant, encoded) => {
  it(`is encoded as ${encoded} and decodes back`, () => {
    expect(encodeTenant(tenant)).toBe(encoded);
    expect(decodeTenant(encoded)).toBe(tenant);
  });
});

it.each(["acme_", "X", "X4", "X61", "Xzz", "XFF", "a-b"])("decodeTenant refuses %p, which encodeTenant never makes", (encoded) => {
  expect(decodeTenant(encoded)).toBeUndefined();
});

it("builds the suffix BigQuery appends to the template", () => {
  expect(tableSuffix("acme", "20260105")).toBe("_acme_20260105");
});

describe.each<[unknown, string | undefined, string | undefined]>([
  ["2017-05-17T11:12:28.408747509Z", "2017-05-17T11:12:28.408747Z", "20170517"],
  ["2017-05-17T11:12:28Z", "2017-05-17T11:12:28.000000Z", "20170517"],
  ["2017-05-17t11:12:28.1z", "2017-05-17T11:12:28.100000Z", "20170517"],
  ["2024-02-29T23:00:00-02:00", "2024-03-01T01:00:00.000000Z", "20240301"],
  ["0050-01-01T00:30:00+01:00", "0049-12-31T23:30:00.000000Z", "00491231"],
  ["2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000Z", "20000229"],
  ["1900-02-29T00:00:00Z", undefined, undefined],
  ["2017-05-00T00:00:00Z", undefined, undefined],
  ["2023-02-29T00:00:00Z", undefined, undefined],
  ["2017-13-01T00:00:00Z", undefined, undefined],
  ["2017-05-17T24:00:00Z", undefined, undefined],
  ["2017-05-17 11:12:28Z", undefined, undefined],
  ["2017-05-17T11:12:28", undefined, undefined],
  [1495019548, undefined, undefined],
  [undefined, undefined, undefined],
])("timestamp %p", (value, iso, utcDay) => {
  it("parses to UTC with microseconds, or not at all", () => {
    const parsed = parseTimestamp(value);
    expect(parsed?.iso).toBe(iso);
    expect(parsed?.utcDay).toBe(utcDay);
  });
});

describe.each<[unknown, string | null, string | null]>([
  ["203.0.113.77", "203.0.113.0", "203.0.113.77"],
  ["203.0.113.77:51234", "203.0.113.0", "203.0.113.77"],
  ["2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::", "2001:db8:abcd:12:1:2:3:4"],
  ["[2001:DB8::7]:8443", "2001:db8::", "2001:db8::7"],
  ["::ffff:198.51.100.9", "198.51.100.0", "198.51.100.9"],
  ["::1", "::", "::1"],
  ["fe80::1%eth0", "fe80::", "fe80::1"],
  ["999.1.1.1", null, null],
  ["", null, null],
  [42, null, null],
])("client IP %p", (value, anonymized, whole) => {
  it("loses its port, and its host part when anonymised", () => {
    expect(clientIp(value, true)).toBe(anonymized);
    expect(clientIp(value, false)).toBe(whole);
  });
});

describe("settings", () => {
  function problemsOf(raw: Record<string, unknown>): string[] {
    const problems = new ConfigProblems();
    readCoreSettings(raw, problems);
    return problems.messages;
  }

  it("reads the dev stack with its defaults", () => {
    expect(DEV_SETTINGS).toEqual({
      attributes: [
        { name: "user_id", type: "STRING" },
        { name: "order_id", type: "STRING" },
        { name: "type", type: "STRING" },
      ],
      tenantAttribute: "user_id",
      pixelPath: "/pixel.png",
      anonymizeIp: true,
      maxValueLength: 1024,
      templateTable: "pixel",
      layout: "per-tenant-day",
      eventTypeAttribute: "type",
      signedUrls: false,
    });
  });

  it("accepts Pulumi's string forms of every value", () => {
    const problems = new ConfigProblems();
    const settings = readCoreSettings(
      { attributes: '{"user_id":"string","n":"INT64"}', anonymizeIp: "false", maxValueLength: "200", tenantAllowlist: '["acme","beta"]' },
      problems,
    );
    expect(problems.messages).toEqual([]);
    expect(settings).toMatchObject({ anonymizeIp: false, maxValueLength: 200, tenantAllowlist: ["acme", "beta"] });
    expect(settings.attributes).toEqual([{ name: "user_id", type: "STRING" }, { name: "n", type: "INT64" }]);
  });

  it("reports every problem at once, each with its key", () => {
    const messages = problemsOf({
      attributes: { user_id: "INT64", "bad-name": "STRING", price: "DECIMAL", remote_ip: "STRING", Price: "FLOAT64" },
      anonymizeIp: "maybe",
      maxValueLength: 0,
      pixelPath: "pixel.png",
      templateTable: "pixel-events",
      tenantAllowlist: ["ok", ""],
    });
    expect(messages).toEqual([
      expect.stringContaining("pixel-pipeline:attributes.bad-name:"),
      expect.stringContaining('pixel-pipeline:attributes.price: type "DECIMAL" is not one of STRING, INT64, FLOAT64, BOOL'),
      expect.stringContaining("pixel-pipeline:attributes.remote_ip: \"remote_ip\" is a standard column"),
      expect.stringContaining("pixel-pipeline:attributes.user_id: the tenant attribute must be STRING"),
      expect.stringContaining("pixel-pipeline:tenantAllowlist[1]:"),
      expect.stringContaining("pixel-pipeline:pixelPath:"),
      expect.stringContaining("pixel-pipeline:anonymizeIp: expected true or false"),
      expect.stringContaining("pixel-pipeline:maxValueLength: expected a whole number from 1 to 65536"),
      expect.stringContaining("pixel-pipeline:templateTable:"),
    ]);
  });

  it.each([
    [{}, "pixel-pipeline:attributes: is required"],
    [{ attributes: { type: "STRING" } }, 'pixel-pipeline:tenantAttribute: "user_id" must also be listed in attributes'],
    [{ attributes: "[1,2]" }, "pixel-pipeline:attributes: expected a map"],
    [{ attributes: { user_id: "STRING", USER_ID: "STRING" } }, "pixel-pipeline:attributes.USER_ID: BigQuery column names ignore case"],
  ])("explains %p", (raw, message) => {
    expect(problemsOf(raw)).toEqual([expect.stringContaining(message)]);
  });

  it("survives the trip to the function's environment", () => {
    expect(parseCoreSettingsJson(serializeCoreSettings(DEV_SETTINGS))).toEqual(DEV_SETTINGS);
    expect(() => parseCoreSettingsJson("{")).toThrow(/PIXEL_PIPELINE_SETTINGS/);
  });
});

it("generates the template schema from the attribute config: standard columns, then attributes", () => {
  const schema = templateSchema(DEV_SETTINGS.attributes);
  expect(schema.map((field) => field.name)).toEqual([...STANDARD_COLUMNS.map((column) => column.name), "user_id", "order_id", "type"]);
  expect(schema.slice(-3).map((field) => [field.type, field.mode])).toEqual([
    ["STRING", "NULLABLE"],
    ["STRING", "NULLABLE"],
    ["STRING", "NULLABLE"],
  ]);
  expect(schema.find((field) => field.name === "event_timestamp")).toMatchObject({ type: "TIMESTAMP", mode: "REQUIRED" });
});

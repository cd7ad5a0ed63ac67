import { ConfigError } from "../../../core/config/fields";
import { coreSettingsProblems } from "../../../testkit/settings";
import { ConfigProblems } from "../../../core/config/fields";
import { parseCoreSettingsJson, readCoreSettings, serializeCoreSettings } from "../../../core/config/coreSettings";
import { DEV_SETTINGS } from "../../../testkit/logEntries";

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

describe("attributes that are missing, empty or of the wrong kind", () => {
  test.each([null, "", {}, [], "{}", "null"])("attributes %p is reported as required, not accepted as no attributes", (attributes) => {
    expect(() => parseCoreSettingsJson(JSON.stringify({ attributes }))).toThrow(ConfigError);
    expect(coreSettingsProblems({ attributes })).toEqual([expect.stringMatching(/^pixel-pipeline:attributes: (is required|expected a map)/)]);
  });

  test.each([
    [{ user_id: 5 }, /^pixel-pipeline:attributes\.user_id: type 5 is not one of STRING, INT64, FLOAT64, BOOL\.$/],
    [{ user_id: null }, /^pixel-pipeline:attributes\.user_id: type null is not one of/],
    [{ user_id: ["STRING"] }, /^pixel-pipeline:attributes\.user_id: type \["STRING"\] is not one of/],
  ])("attributes %p is a problem naming the attribute, never a TypeError", (attributes, problem) => {
    expect(coreSettingsProblems({ attributes })).toEqual([expect.stringMatching(problem)]);
  });
});

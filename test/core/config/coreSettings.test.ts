import { ConfigError } from "../../../core/config/fields";
import { coreSettingsProblems, settingsFrom } from "../../../testkit/settings";
import { parseCoreSettingsJson, serializeCoreSettings, withSigningKeys, withVisitorKey } from "../../../core/config/coreSettings";
import { DEV_SETTINGS } from "../../../testkit/logEntries";
import { TEST_VISITOR_KEY } from "../../../testkit/settings";

describe("settings", () => {
  it("reads the dev stack with its defaults, the country table and the visitor key from the environment", () => {
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
      utmColumns: true,
      visitorKey: TEST_VISITOR_KEY,
      countries: { source: "@ip-location-db/dbip-country 2.3.2026060120", countryOf: expect.any(Function) },
    });
  });

  it("accepts Pulumi's string forms of every value", () => {
    const settings = settingsFrom({ attributes: '{"user_id":"string","n":"INT64"}', anonymizeIp: "false", maxValueLength: "200", tenantAllowlist: '["acme","beta"]' });
    expect(settings).toMatchObject({ anonymizeIp: false, maxValueLength: 200, tenantAllowlist: ["acme", "beta"] });
    expect(settings.attributes).toEqual([{ name: "user_id", type: "STRING" }, { name: "n", type: "INT64" }]);
  });

  it("accepts allowlisted tenants of exactly 64 bytes, as the core accepts such a tenant", () => {
    const tenants = ["a".repeat(64), "é".repeat(32)];
    expect(settingsFrom({ attributes: { user_id: "STRING" }, tenantAllowlist: tenants }).tenantAllowlist).toEqual(tenants);
  });

  it("reports every problem at once, each with its key", () => {
    const messages = coreSettingsProblems({
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
    ["utm_source", /remove it from attributes; the column and its data stay/],
    ["UTM_Campaign", /remove it from attributes; the column and its data stay/],
    ["visitor_id", /is a standard column of every row; rename the attribute \(and the query parameter\)/],
    ["country", /is a standard column of every row; rename the attribute/],
  ])("an attribute named like the answer column %s is refused, with what to do", (name, message) => {
    expect(coreSettingsProblems({ attributes: { user_id: "STRING", [name]: "STRING" } })).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    [{ attributes: { user_id: "STRING", sig: "STRING" } }, 'pixel-pipeline:attributes.sig: "sig" carries the URL signature and cannot be an attribute.'],
    [{ attributes: { user_id: "STRING", SIG: "STRING" } }, 'pixel-pipeline:attributes.SIG: "sig" carries the URL signature and cannot be an attribute.'],
    [{ attributes: { user_id: "STRING" }, maxValueLength: 1.5 }, "pixel-pipeline:maxValueLength: expected a whole number from 1 to 65536, got 1.5."],
    [{ attributes: { user_id: "STRING" }, maxValueLength: "1.5" }, 'pixel-pipeline:maxValueLength: expected a whole number from 1 to 65536, got "1.5".'],
    [{ attributes: { user_id: "STRING" }, tenantAllowlist: ["acme", 5] }, 'pixel-pipeline:tenantAllowlist: expected a list of strings, got ["acme",5].'],
    [{ attributes: { user_id: "STRING" }, tenantAllowlist: '["acme", null]' }, "pixel-pipeline:tenantAllowlist: expected a list of strings"],
    [{ attributes: { user_id: "STRING" }, tenantAllowlist: [{ tenant: "acme" }] }, "pixel-pipeline:tenantAllowlist: expected a list of strings"],
    [{ attributes: { user_id: "STRING" }, tenantAllowlist: ["acme", "a".repeat(65)] }, "pixel-pipeline:tenantAllowlist[1]: a tenant must be 1 to 64 bytes of UTF-8"],
    [{ attributes: { user_id: "STRING" }, tenantAllowlist: ["é".repeat(32) + "a"] }, "pixel-pipeline:tenantAllowlist[0]: a tenant must be 1 to 64 bytes of UTF-8"],
    [{}, "pixel-pipeline:attributes: is required"],
    [{ attributes: { type: "STRING" } }, 'pixel-pipeline:tenantAttribute: "user_id" must also be listed in attributes'],
    [{ attributes: "[1,2]" }, "pixel-pipeline:attributes: expected a map"],
    [{ attributes: { user_id: "STRING", USER_ID: "STRING" } }, "pixel-pipeline:attributes.USER_ID: BigQuery column names ignore case"],
  ])("explains %p", (raw, message) => {
    expect(coreSettingsProblems(raw)).toEqual([expect.stringContaining(message)]);
  });

  // The whole message, as a user reads it: the key, the value given, and how to fix it.
  it.each([
    ["tenantAttribute", "user id", 'pixel-pipeline:tenantAttribute: "user id" is not valid: use a query parameter name made of letters, digits and _ that starts with a letter.'],
    ["pixelPath", "pixel.png", 'pixel-pipeline:pixelPath: "pixel.png" is not valid: use an absolute URL path such as "/pixel.png".'],
    ["layout", "daily", 'pixel-pipeline:layout: "daily" is not valid: use "per-tenant-day" (a table per tenant and UTC day, the default) or "partitioned" (one table partitioned by day, for high volume).'],
    ["templateTable", "9pixel", 'pixel-pipeline:templateTable: "9pixel" is not valid: use 1 to 100 letters, digits and _, starting with a letter.'],
    ["eventTypeAttribute", "kind-of", 'pixel-pipeline:eventTypeAttribute: "kind-of" is not valid: use the name of one of the attributes.'],
  ])("refuses %s = %p with the fix", (key, value, message) => {
    expect(coreSettingsProblems({ attributes: { user_id: "STRING", type: "STRING" }, [key]: value })).toEqual([message]);
  });

  it("survives the trip to the function's environment, without the visitor key and the country table", () => {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { visitorKey, countries, ...serialisable } = DEV_SETTINGS;
    expect(serializeCoreSettings(DEV_SETTINGS)).not.toContain(TEST_VISITOR_KEY);
    expect(parseCoreSettingsJson(serializeCoreSettings(DEV_SETTINGS))).toEqual(serialisable);
    expect(() => parseCoreSettingsJson("{")).toThrow(/PIXEL_PIPELINE_SETTINGS/);
  });
});

describe("attributes that are missing, empty or of the wrong kind", () => {
  // Empty in every form a stack file or Pulumi's config can hold it, blank text and native empty lists included.
  test.each([null, "", "  ", {}, [], "{}", " {} ", "[]", " [] "])("attributes %p is reported as required, not accepted as no attributes", (attributes) => {
    expect(() => parseCoreSettingsJson(JSON.stringify({ attributes }))).toThrow(ConfigError);
    expect(coreSettingsProblems({ attributes })).toEqual([expect.stringMatching(/^pixel-pipeline:attributes: is required: /)]);
  });

  test.each(["null", '["user_id"]', "user_id"])("attributes %p, set but not a map, is reported as such", (attributes) => {
    expect(coreSettingsProblems({ attributes })).toEqual([expect.stringMatching(/^pixel-pipeline:attributes: expected a map of name to value/)]);
  });

  test.each([
    [{ user_id: 5 }, /^pixel-pipeline:attributes\.user_id: type 5 is not one of STRING, INT64, FLOAT64, BOOL\.$/],
    [{ user_id: null }, /^pixel-pipeline:attributes\.user_id: type null is not one of/],
    [{ user_id: ["STRING"] }, /^pixel-pipeline:attributes\.user_id: type \["STRING"\] is not one of/],
  ])("attributes %p is a problem naming the attribute, never a TypeError", (attributes, problem) => {
    expect(coreSettingsProblems({ attributes })).toEqual([expect.stringMatching(problem)]);
  });
});

describe("the visitor key from the environment", () => {
  it.each([
    ["missing", {}, 0],
    ["empty", { PIXEL_VISITOR_KEY: "" }, 0],
    ["shorter than 32 characters", { PIXEL_VISITOR_KEY: "0123456789abcdef0123456789abcde" }, 31],
  ])("is a start-up error when %s, rather than rows without visitor ids", (_, environment, length) => {
    expect(() => withVisitorKey(DEV_SETTINGS, environment)).toThrow(
      `PIXEL_VISITOR_KEY: the visitor key must have at least 32 characters, got ${length}. The Pulumi program generates it into Secret Manager; ` +
        "for the local commands, read it with `gcloud secrets versions access latest --secret=<stack's visitor-key secret>`.",
    );
  });

  it("is carried in the settings when usable", () => {
    expect(withVisitorKey(DEV_SETTINGS, { PIXEL_VISITOR_KEY: TEST_VISITOR_KEY }).visitorKey).toBe(TEST_VISITOR_KEY);
  });

  it("may have exactly 32 characters", () => {
    expect(withVisitorKey(DEV_SETTINGS, { PIXEL_VISITOR_KEY: "0123456789abcdef0123456789abcdef" }).visitorKey).toBe("0123456789abcdef0123456789abcdef");
  });
});

describe("the signing keys from the environment", () => {
  const signedUrls = { ...DEV_SETTINGS, signedUrls: true };

  it("are read one per line or comma, trimmed, blank entries left out", () => {
    const environment = { PIXEL_SIGNING_KEYS: "  0123456789abcdef \n\n fedcba9876543210,\t, 0123456789ABCDEF\n" };
    expect(withSigningKeys(signedUrls, environment).signingKeys).toEqual(["0123456789abcdef", "fedcba9876543210", "0123456789ABCDEF"]);
  });

  it("count without the spaces around them, so a padded short key is still short", () => {
    expect(() => withSigningKeys(signedUrls, { PIXEL_SIGNING_KEYS: "  0123456789abcde  " })).toThrow(
      "pixel-pipeline:signingKeys: every signing key needs at least 16 characters; generate one with: openssl rand -base64 32.",
    );
  });

  it("are not read while signedUrls is off", () => {
    expect(withSigningKeys(DEV_SETTINGS, { PIXEL_SIGNING_KEYS: "0123456789abcdef" })).toEqual(DEV_SETTINGS);
  });
});

import { allReaders } from "../../../core/config/tenantReaders";
import { memberResourceName, tenantPolicyId } from "../../../infra/warehouse/tenantAccess";
import { stackConfigReader } from "../../../testkit/settings";

// Values as Pulumi hands them over: strings, structured values as JSON.
const ATTRIBUTES = JSON.stringify({ user_id: "STRING", type: "STRING", price: "FLOAT64" });
const READERS = JSON.stringify({ acme: ["user:ana@acme.com", "group:acme-analysts@acme.com"], "acme-corp": "domain:acme-corp.example" });
const ALL_READERS = JSON.stringify(["group:analysts@example.com"]);

const { validate, problems } = stackConfigReader({ attributes: ATTRIBUTES });

describe.each([
  [{}, { layout: "per-tenant-day", eventTypeAttribute: "type" }],
  [{ layout: "partitioned" }, { layout: "partitioned", eventTypeAttribute: "type" }],
  [{ attributes: JSON.stringify({ user_id: "STRING", campaign: "STRING" }) }, { layout: "per-tenant-day", eventTypeAttribute: undefined }],
  [{ attributes: JSON.stringify({ user_id: "STRING", type: "FLOAT64" }) }, { layout: "per-tenant-day", eventTypeAttribute: undefined }],
  [{ attributes: JSON.stringify({ type: "STRING" }), tenantAttribute: "type" }, { layout: "per-tenant-day", eventTypeAttribute: undefined }],
  [{ attributes: JSON.stringify({ user_id: "STRING", kind: "INT64" }), eventTypeAttribute: "kind" }, { layout: "per-tenant-day", eventTypeAttribute: "kind" }],
])("the analytics settings of %p", (extra, expected) => {
  test(`are ${JSON.stringify(expected)}`, () => {
    const { core } = validate(extra);
    expect({ layout: core.layout, eventTypeAttribute: core.eventTypeAttribute }).toEqual(expected);
  });
});

test("per-tenant readers are read from Pulumi's JSON, one principal or a list per tenant", () => {
  const { tenantReaders } = validate({ layout: "partitioned", tenantReaders: READERS, allTenantsReaders: ALL_READERS });
  expect(tenantReaders).toEqual({
    byTenant: new Map([
      ["acme", ["user:ana@acme.com", "group:acme-analysts@acme.com"]],
      ["acme-corp", ["domain:acme-corp.example"]],
    ]),
    allTenants: ["group:analysts@example.com"],
  });
  expect(allReaders(tenantReaders!)).toEqual(["group:analysts@example.com", "user:ana@acme.com", "group:acme-analysts@acme.com", "domain:acme-corp.example"]);
  expect(validate({}).tenantReaders).toBeUndefined();
});

describe.each([
  [{ layout: "sharded" }, ['pixel-pipeline:layout: "sharded" is not valid: use "per-tenant-day"']],
  [{ templateTable: "events" }, ['pixel-pipeline:templateTable: "events" is the start of events, events_dedup, events_partitioned']],
  [{ templateTable: "Daily" }, ['pixel-pipeline:templateTable: "Daily" is the start of daily_counts']],
  [{ attributes: JSON.stringify({ user_id: "STRING", tenant: "STRING", Event_Date: "STRING" }) }, ["pixel-pipeline:attributes.tenant: \"tenant\" is a column the views add", "pixel-pipeline:attributes.Event_Date:"]],
  [{ eventTypeAttribute: "kind" }, ['pixel-pipeline:eventTypeAttribute: "kind" is not one of the attributes']],
  [{ eventTypeAttribute: "user_id" }, ['pixel-pipeline:eventTypeAttribute: "user_id" is the tenant attribute']],
  [{ eventTypeAttribute: "price" }, ['pixel-pipeline:eventTypeAttribute: "price" is FLOAT64, and BigQuery cannot cluster on FLOAT64']],
  [{ layout: "partitioned", tenantReaders: READERS }, ["pixel-pipeline:allTenantsReaders: is required with tenantReaders"]],
  [{ allTenantsReaders: ALL_READERS }, ["pixel-pipeline:allTenantsReaders: only takes effect with tenantReaders"]],
  [
    { layout: "partitioned", tenantReaders: JSON.stringify({ acme: ["allUsers", "ana@acme.com"], beta: [] }), allTenantsReaders: '["allAuthenticatedUsers"]' },
    [
      'pixel-pipeline:allTenantsReaders: "allAuthenticatedUsers" is not an IAM principal that may read rows',
      "pixel-pipeline:allTenantsReaders: is required with tenantReaders",
      'pixel-pipeline:tenantReaders.acme: "allUsers" is not an IAM principal',
      'pixel-pipeline:tenantReaders.acme: "ana@acme.com" is not an IAM principal',
      "pixel-pipeline:tenantReaders.beta: expected a list of IAM principals",
    ],
  ],
  [
    // A tenant of 0 or 65 bytes cannot have events; a list must hold principals only.
    { layout: "partitioned", tenantReaders: JSON.stringify({ "": ["user:a@b.c"], ["a".repeat(65)]: ["user:a@b.c"], ["a".repeat(64)]: ["user:a@b.c"], mixed: ["user:a@b.c", 7], none: 7 }), allTenantsReaders: ALL_READERS },
    [
      "pixel-pipeline:tenantReaders.: a tenant must be 1 to 64 bytes of UTF-8.",
      `pixel-pipeline:tenantReaders.${"a".repeat(65)}: a tenant must be 1 to 64 bytes of UTF-8.`,
      "pixel-pipeline:tenantReaders.mixed: expected a list of IAM principals",
      "pixel-pipeline:tenantReaders.none: expected a list of IAM principals",
    ],
  ],
  [
    { layout: "partitioned", tenantAllowlist: "acme", tenantReaders: READERS, allTenantsReaders: ALL_READERS },
    ['pixel-pipeline:tenantReaders.acme-corp: "acme-corp" is not in tenantAllowlist'],
  ],
])("the config %p", (extra, expected) => {
  test("is refused with every problem named by key, with its fix", () => {
    expect(problems(extra)).toEqual(expected.map((message) => expect.stringContaining(message)));
  });
});

describe.each([
  ["acme", "tenant_acme"],
  ["acme-corp", "tenant_acmeX2Dcorp"],
  ["all_tenants", "tenant_allX5Ftenants"],
])("the row access policy of tenant %j", (tenant, policyId) => {
  test(`is ${policyId}, apart from all_tenants`, () => expect(tenantPolicyId(tenant)).toBe(policyId));
});

describe.each([
  ["user:ana@acme.com", /^user-ana-acme-com-[0-9a-f]{6}$/],
  ["group:Team@Acme.com", /^group-team-acme-com-[0-9a-f]{6}$/],
])("the resource name part for %s", (member, pattern) => {
  test("is readable and stable", () => {
    expect(memberResourceName(member)).toMatch(pattern);
    expect(memberResourceName(member)).toBe(memberResourceName(member));
  });
});

test("members that read alike get different resource names", () => {
  expect(memberResourceName("group:team@acme.com")).not.toBe(memberResourceName("group:Team@acme.com"));
});

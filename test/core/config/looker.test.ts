import { stackConfigReader } from "../../../testkit/settings";

// Values as Pulumi hands them over: strings, the declared defaults ("") for keys a stack does not set.
const { validate, problems } = stackConfigReader({ attributes: JSON.stringify({ user_id: "STRING", type: "STRING" }) });

const AGENT = "serviceAccount:service-123456789012@gcp-sa-looker.iam.gserviceaccount.com";

describe.each([
  [{}, {}],
  [{ lookerTenantUserAttribute: "", lookerConnection: "" }, {}],
  [{ lookerTenantUserAttribute: "pixel_tenant" }, { tenantUserAttribute: "pixel_tenant" }],
  [{ lookerConnection: "service-account" }, { connection: { kind: "service-account" } }],
  [{ lookerConnection: AGENT, lookerTenantUserAttribute: "tenant" }, { tenantUserAttribute: "tenant", connection: { kind: "principal", member: AGENT } }],
])("the Looker settings of %p", (extra, expected) => {
  test(`are ${JSON.stringify(expected)}`, () => expect(validate(extra).looker).toEqual(expected));
});

describe.each([
  [{ lookerTenantUserAttribute: "Pixel Tenant" }, ['pixel-pipeline:lookerTenantUserAttribute: "Pixel Tenant" is not valid', 'such as "pixel_tenant"']],
  [{ lookerConnection: "user:ana@acme.com" }, ['pixel-pipeline:lookerConnection: "user:ana@acme.com" is neither "service-account" nor a service account principal']],
  [{ lookerConnection: "looker@acme.iam.gserviceaccount.com" }, ["pixel-pipeline:lookerConnection:", "serviceAccount:service-<project number>@gcp-sa-looker.iam.gserviceaccount.com"]],
])("the config %p", (extra, expected) => {
  test("is refused, naming the key and the fix", () => {
    const found = problems(extra);
    expect(found).toHaveLength(1);
    for (const part of expected) expect(found[0]).toContain(part);
  });
});

import fc from "fast-check";
import { defaultDatasetId } from "../../core/config/stackConfig";
import { functionSecretId, pubsubAgentMember, serviceAccountId } from "../../infra/naming";

const SERVICE_ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

describe.each([
  ["dev", "pixel_dev"],
  ["prod-eu.2", "pixel_prod_eu_2"],
])("defaultDatasetId(%p)", (stack, expected) => {
  test(`is ${expected}`, () => {
    expect(defaultDatasetId(stack)).toBe(expected);
  });
});

describe.each([
  ["dev", "fn", "pixel-dev-fn"],
  ["prod-eu", "build", "pixel-prod-eu-build"],
  ["Dev", "fn", "pixel-dev-9c24-fn"],
  ["my_stack.v2", "push", "pixel-my-stack-v2-af9a-push"],
  ["a-very-long-stack-name-for-staging", "build", "pixel-a-very-long-s-738b-build"],
])("serviceAccountId(%p, %p)", (stack, purpose, expected) => {
  test(`is ${expected}`, () => {
    expect(serviceAccountId(stack, purpose)).toBe(expected);
  });
});

describe("serviceAccountId for any stack name", () => {
  const stackName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,100}$/);

  test("is a valid service account id", () => {
    fc.assert(
      fc.property(stackName, fc.constantFrom("fn", "build", "push"), (stack, purpose) => {
        expect(serviceAccountId(stack, purpose)).toMatch(SERVICE_ACCOUNT_ID);
      }),
    );
  });

  test("differs between stacks whose names differ only in case or punctuation", () => {
    fc.assert(
      fc.property(stackName, stackName, (a, b) => {
        fc.pre(a !== b);
        expect(serviceAccountId(a, "fn")).not.toBe(serviceAccountId(b, "fn"));
      }),
      { examples: [["dev", "Dev"], ["prod-eu", "prod.eu"], ["prod_eu", "prod-eu"]] },
    );
  });
});

describe.each([
  ["dev", "signing-keys", "pixel-dev-signing-keys"],
  ["prod.eu", "signing-keys", "pixel-prod-eu-signing-keys"],
  ["dev", "visitor-key", "pixel-dev-visitor-key"],
])("functionSecretId(%p, %p)", (stack, purpose, expected) => {
  test(`is ${expected}`, () => {
    expect(functionSecretId(stack, purpose)).toBe(expected);
  });
});

describe("pubsubAgentMember", () => {
  const agent = "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com";
  it.each([
    ["the email the identity reports", "service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com", undefined, agent],
    ["the reported email, whatever the project number", "agent@example.iam.gserviceaccount.com", "1", "serviceAccount:agent@example.iam.gserviceaccount.com"],
    ["the address built from the project number, without an email", undefined, "123456789012", agent],
    ["the same for an empty email", "", "123456789012", agent],
  ])("is %s", (_what, email, projectNumber, member) => {
    expect(pubsubAgentMember(email, projectNumber)).toBe(member);
  });

  it.each([undefined, "", "my-project"])("names the problem when there is no email and the project number is %p", (projectNumber) => {
    expect(() => pubsubAgentMember("", projectNumber)).toThrow(/Pub\/Sub service agent has no email .*gcp:project/);
  });
});

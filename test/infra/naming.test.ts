import fc from "fast-check";
import { defaultDatasetId } from "../../core/config/stackConfig";
import { functionSecretId, SERVICE_AGENTS, serviceAgentMember, serviceAccountId } from "../../infra/naming";

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

describe("serviceAgentMember", () => {
  const pubsub = "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com";
  const transfer = "serviceAccount:service-123456789012@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com";
  it.each([
    ["Pub/Sub's: the email the identity reports", SERVICE_AGENTS.pubsub, "service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com", undefined, pubsub],
    ["Pub/Sub's: the reported email, whatever the project number", SERVICE_AGENTS.pubsub, "agent@example.iam.gserviceaccount.com", "1", "serviceAccount:agent@example.iam.gserviceaccount.com"],
    ["Pub/Sub's: the address built from the project number, without an email", SERVICE_AGENTS.pubsub, undefined, "123456789012", pubsub],
    ["Pub/Sub's: the same for an empty email", SERVICE_AGENTS.pubsub, "", "123456789012", pubsub],
    ["Data Transfer's: the email the identity reports", SERVICE_AGENTS.dataTransfer, "service-123456789012@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com", undefined, transfer],
    ["Data Transfer's: the address built from the project number, without an email", SERVICE_AGENTS.dataTransfer, undefined, "123456789012", transfer],
    ["Data Transfer's: the same for an empty email", SERVICE_AGENTS.dataTransfer, "", "123456789012", transfer],
    ["Cloud Storage's: the address built from the project number, without an email", SERVICE_AGENTS.storage, "", "123456789012", "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com"],
  ])("%s", (_what, agent, email, projectNumber, member) => {
    expect(serviceAgentMember(agent, email, projectNumber)).toBe(member);
  });

  it.each([
    { agent: SERVICE_AGENTS.pubsub, projectNumber: undefined, message: /Pub\/Sub service agent has no email .*gcp:project.*pubsub\.googleapis\.com/ },
    { agent: SERVICE_AGENTS.pubsub, projectNumber: "", message: /Pub\/Sub service agent has no email and the project number is "": check gcp:project/ },
    { agent: SERVICE_AGENTS.pubsub, projectNumber: "my-project", message: /Pub\/Sub service agent has no email and the project number is "my-project"/ },
    { agent: SERVICE_AGENTS.dataTransfer, projectNumber: undefined, message: /BigQuery Data Transfer service agent has no email .*gcp:project.*bigquerydatatransfer\.googleapis\.com/ },
    { agent: SERVICE_AGENTS.dataTransfer, projectNumber: "my-project", message: /BigQuery Data Transfer service agent has no email and the project number is "my-project"/ },
  ])("names the agent and the problem when there is no email: $agent.label, project number $projectNumber", ({ agent, projectNumber, message }) => {
    expect(() => serviceAgentMember(agent, "", projectNumber)).toThrow(message);
  });
});

import { BASE_CONFIG, grants, ProgramRun, runProgram, TEST_PROJECT_NUMBER } from "../../../testkit/pulumiProgram";

// ServiceIdentity may report no email for the Pub/Sub service agent; its grants then go to the
// agent's fixed address, built from the project number.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram(BASE_CONFIG, "dev", undefined, (type, state) =>
    type === "gcp:projects/serviceIdentity:ServiceIdentity" ? { ...state, email: "", member: "" } : state,
  );
});

test("without the identity's email, each of the agent's three grants names it by the project number", () => {
  const agentGrants = grants(run).filter((grant) => grant.name.startsWith("pixel-delivery-agent-"));
  expect(agentGrants.map((grant) => [grant.inputs.role, grant.inputs.member]).sort()).toEqual(
    ["roles/iam.serviceAccountTokenCreator", "roles/pubsub.publisher", "roles/pubsub.subscriber"].map((role) => [
      role,
      `serviceAccount:service-${TEST_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`,
    ]),
  );
});

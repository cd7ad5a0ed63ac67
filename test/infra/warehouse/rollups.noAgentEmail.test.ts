import { BASE_CONFIG, grants, ProgramRun, runProgram, TEST_PROJECT_NUMBER } from "../../../testkit/pulumiProgram";

// ServiceIdentity may report no email for the Data Transfer Service's agent; its grant then goes to
// the agent's fixed address, built from the project number, as Pub/Sub's does (pushDelivery.test.ts).
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram(BASE_CONFIG, "dev", undefined, (type, state) =>
    type === "gcp:projects/serviceIdentity:ServiceIdentity" ? { ...state, email: "", member: "" } : state,
  );
});

test("without the identity's email, the transfer agent's token grant names it by the project number", () => {
  const agentGrants = grants(run).filter((grant) => grant.name.startsWith("pixel-rollups-transfer-agent-"));
  expect(agentGrants.map((grant) => [grant.inputs.role, grant.inputs.member])).toEqual([
    ["roles/iam.serviceAccountTokenCreator", `serviceAccount:service-${TEST_PROJECT_NUMBER}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com`],
  ]);
});

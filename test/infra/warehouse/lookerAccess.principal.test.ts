import { BASE_CONFIG, grants, ofType, ProgramRun, runProgram, TEST_PROJECT } from "../../../testkit/pulumiProgram";

// A stack that names the principal Looker connects as: the Looker (Google Cloud core) service agent.
const AGENT = "serviceAccount:service-123456789012@gcp-sa-looker.iam.gserviceaccount.com";

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({ ...BASE_CONFIG, "pixel-pipeline:lookerConnection": AGENT });
});

test("creates no account of its own, and grants the named principal the same three roles", () => {
  expect(ofType(run, "gcp:serviceaccount/account:Account").map((account) => account.inputs.accountId)).not.toContain("pixel-dev-looker");
  expect(
    grants(run)
      .filter((grant) => grant.inputs.member === AGENT)
      .map((grant) => `${grant.inputs.role} ${grant.inputs.project ?? grant.inputs.datasetId}`)
      .sort(),
  ).toEqual([`roles/bigquery.jobUser ${TEST_PROJECT}`, "roles/bigquery.dataEditor pixel_dev_looker_scratch", "roles/bigquery.dataViewer pixel_dev"].sort());
  expect(run.outputs.lookerConnection.Authentication).toContain("Application Default Credentials");
});

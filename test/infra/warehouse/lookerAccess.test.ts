import { ROLLUPS } from "../../../core/layout";
import { Bag, BASE_CONFIG, CapturedResource, grants, ofType, only, ProgramRun, runProgram, strings, TEST_PROJECT } from "../../../testkit/pulumiProgram";

// A partitioned stack with per-tenant readers and a Looker connection of its own, under Pulumi's
// mocks; lookerAccess.principal.test.ts has a named principal, the other tests none.
const LOOKER = `serviceAccount:pixel-dev-looker@${TEST_PROJECT}.iam.gserviceaccount.com`;
const ANALYSTS = "group:analysts@example.com";

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:layout": "partitioned",
    "pixel-pipeline:datasetLocation": "EU",
    "pixel-pipeline:tenantReaders": JSON.stringify({ acme: ["user:ana@acme.com"] }),
    "pixel-pipeline:allTenantsReaders": JSON.stringify([ANALYSTS]),
    "pixel-pipeline:lookerConnection": "service-account",
  });
});

const grantee = (grant: CapturedResource) => `${grant.type.split(":").at(-1)} ${grant.inputs.role} ${grant.inputs.project ?? grant.inputs.datasetId}${grant.inputs.tableId ? `.${grant.inputs.tableId}` : ""}`;

test("creates Looker's own service account", () => {
  expect(only(run, "gcp:serviceaccount/account:Account", (account) => account.inputs.accountId === "pixel-dev-looker").state.member).toBe(LOOKER);
});

test("grants it Data Viewer on the event dataset, Job User on the project and Data Editor on the scratch dataset, and nothing else", () => {
  const granted = grants(run).filter((grant) => grant.inputs.member === LOOKER || strings(grant.inputs.members).includes(LOOKER));
  expect(granted.map(grantee).sort()).toEqual(
    [
      "DatasetIamMember roles/bigquery.dataViewer pixel_dev",
      `IAMMember roles/bigquery.jobUser ${TEST_PROJECT}`,
      "DatasetIamMember roles/bigquery.dataEditor pixel_dev_looker_scratch",
    ].sort(),
  );
});

test("nothing project-wide beyond Job User: the one role a query job needs", () => {
  const projectWide = grants(run).filter((grant) => grant.type.startsWith("gcp:projects/") && grant.inputs.member === LOOKER);
  expect(projectWide.map((grant) => grant.inputs.role)).toEqual(["roles/bigquery.jobUser"]);
});

test("declares the scratch dataset beside the event dataset, in its location", () => {
  expect(only(run, "gcp:bigquery/dataset:Dataset", (dataset) => dataset.inputs.datasetId === "pixel_dev_looker_scratch").inputs).toMatchObject({ location: "EU" });
});

test("is a member of every all-tenants row access policy, of the rollups and of the events, and of no tenant's", () => {
  const policies = ofType(run, "gcp:bigquery/rowAccessPolicy:RowAccessPolicy").map((policy) => policy.inputs as Bag);
  const withLooker = policies.filter((policy) => policy.grantees.includes(LOOKER)).map((policy) => `${policy.tableId} ${policy.policyId}`);
  expect(withLooker.sort()).toEqual([...Object.values(ROLLUPS), "events_partitioned"].map((table) => `${table} all_tenants`).sort());
});

test("outputs what to enter in Looker's connection page", () => {
  expect(run.outputs.lookerConnection).toEqual({
    Dialect: "Google BigQuery Standard SQL",
    "Billing Project ID": TEST_PROJECT,
    Dataset: "pixel_dev",
    "Temp Dataset": "pixel_dev_looker_scratch",
    Authentication: expect.stringContaining(`JSON key of pixel-dev-looker@${TEST_PROJECT}.iam.gserviceaccount.com`),
    "Persistent Derived Tables": "enabled",
  });
});

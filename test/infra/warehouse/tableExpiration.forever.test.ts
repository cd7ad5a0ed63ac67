import { BASE_CONFIG, only, ofType, ProgramRun, runProgram } from "../../../testkit/pulumiProgram";

// retentionDays: forever keeps every table, partition and archived file, with the shortest time travel still.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({ ...BASE_CONFIG, "pixel-pipeline:tenantAllowlist": "acme", "pixel-pipeline:retentionDays": "forever" });
});

test("the dataset sets no expiration, only the time travel window", () => {
  const dataset = only(run, "gcp:bigquery/dataset:Dataset").inputs;
  expect(dataset.defaultTableExpirationMs).toBeUndefined();
  expect(dataset.defaultPartitionExpirationMs).toBeUndefined();
  expect(dataset.maxTimeTravelHours).toBe("48");
});

test("no table or partition expires, and nothing needs clearing", () => {
  for (const table of ofType(run, "gcp:bigquery/table:Table")) {
    expect(table.inputs.expirationTime).toBeUndefined();
    expect(table.inputs.timePartitioning?.expirationMs).toBeUndefined();
  }
  expect(ofType(run, "gcp:bigquery/job:Job")).toEqual([]);
});

test("the archive only goes cold", () => {
  const bucket = only(run, "gcp:storage/bucket:Bucket", (resource) => resource.name === "pixel-archive-bucket");
  expect(bucket.inputs.lifecycleRules).toEqual([expect.objectContaining({ action: { type: "SetStorageClass", storageClass: "COLDLINE" } })]);
});

test("no warning", () => expect(run.warnings).toEqual([]));

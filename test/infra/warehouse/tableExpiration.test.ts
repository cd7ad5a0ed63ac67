import { ROLLUPS } from "../../../core/layout";
import { BASE_CONFIG, only, ofType, ProgramRun, runProgram, TEST_PROJECT } from "../../../testkit/pulumiProgram";

// The default retention under Pulumi's mocks, per-tenant-day: 760 days everywhere, the shortest time
// travel, and the declared tables that are not partitioned cleared of the expiration they inherit.
const DAYS_760_MS = 760 * 24 * 60 * 60 * 1000;
const CREATED = 1_764_892_800_000;

let run: ProgramRun;
beforeAll(async () => {
  // As Google reports a table: its project and when it was created.
  run = await runProgram({ ...BASE_CONFIG, "pixel-pipeline:tenantAllowlist": "acme" }, "dev", undefined, (type, state) =>
    type === "gcp:bigquery/table:Table" ? { ...state, project: TEST_PROJECT, creationTime: CREATED } : state,
  );
});

const tables = () => ofType(run, "gcp:bigquery/table:Table");

test("the dataset gives new day tables and new partitions the retention, and keeps deleted data 48 hours", () => {
  expect(only(run, "gcp:bigquery/dataset:Dataset").inputs).toMatchObject({
    defaultTableExpirationMs: DAYS_760_MS,
    defaultPartitionExpirationMs: DAYS_760_MS,
    maxTimeTravelHours: "48",
  });
});

test("no declared table is given an expiration, and every rollup keeps its partitions for the retention", () => {
  for (const table of tables()) expect(table.inputs.expirationTime).toBeUndefined();
  const rollups = tables().filter((table) => Object.values<string>(ROLLUPS).includes(table.inputs.tableId));
  expect(rollups).toHaveLength(Object.values(ROLLUPS).length);
  for (const rollup of rollups) expect(rollup.inputs.timePartitioning).toMatchObject({ type: "DAY", expirationMs: DAYS_760_MS });
});

test("the template and every view lose the expiration the dataset gives them, by one DDL job per creation", () => {
  const unpartitioned = tables().filter((table) => table.inputs.timePartitioning === undefined);
  expect(unpartitioned.map((table) => table.inputs.tableId)).toEqual(expect.arrayContaining(["pixel", "events"]));
  const jobs = ofType(run, "gcp:bigquery/job:Job");
  expect(jobs.map((job) => job.inputs.query.query).sort()).toEqual(
    unpartitioned
      .map((table) => `ALTER ${table.inputs.view ? "VIEW" : "TABLE"} \`${TEST_PROJECT}.pixel_dev.${table.inputs.tableId}\` SET OPTIONS (expiration_timestamp = NULL)`)
      .sort(),
  );
  for (const job of jobs) {
    expect(job.inputs).toMatchObject({ location: "US", query: { useLegacySql: false, createDisposition: "", writeDisposition: "" } });
    expect(job.inputs.jobId).toMatch(new RegExp(`^keep_pixel_dev_[A-Za-z0-9_]+_${CREATED}$`));
  }
});

test("the archive deletes a file by age and by the customTime an erasure sets, and keeps deleted files 7 days", () => {
  const bucket = only(run, "gcp:storage/bucket:Bucket", (resource) => resource.name === "pixel-archive-bucket");
  expect(bucket.inputs.lifecycleRules).toEqual([
    expect.objectContaining({ action: { type: "SetStorageClass", storageClass: "COLDLINE" } }),
    { action: { type: "Delete" }, condition: { age: 760 } },
    { action: { type: "Delete" }, condition: { daysSinceCustomTime: 760 } },
  ]);
  expect(bucket.inputs.softDeletePolicy).toEqual({ retentionDurationSeconds: 7 * 24 * 60 * 60 });
});

test("pulumi preview warns that the default retention deletes older data", () => {
  expect(run.warnings).toEqual([expect.stringMatching(/^pixel-pipeline:retentionDays is not set, so data is kept 760 days/)]);
});

import { PARTITIONED_TABLE, ROLLUPS } from "../../../core/layout";
import { BASE_CONFIG, only, ofType, ProgramRun, runProgram } from "../../../testkit/pulumiProgram";

// A partitioned stack with its own retention, time travel and soft delete: partitions expire, tables do not.
const DAYS_400_MS = 400 * 24 * 60 * 60 * 1000;

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:layout": "partitioned",
    "pixel-pipeline:tenantAllowlist": "acme",
    "pixel-pipeline:retentionDays": "400",
    "pixel-pipeline:timeTravelHours": "96",
    "pixel-pipeline:archiveSoftDeleteDays": "0",
  });
});

test("the dataset gives new partitioned tables the retention and no table a default expiration", () => {
  const dataset = only(run, "gcp:bigquery/dataset:Dataset").inputs;
  expect(dataset).toMatchObject({ defaultPartitionExpirationMs: DAYS_400_MS, maxTimeTravelHours: "96" });
  expect(dataset.defaultTableExpirationMs).toBeUndefined();
});

test("the partitioned table and the rollups keep their partitions for the retention; nothing needs clearing", () => {
  const partitioned = ofType(run, "gcp:bigquery/table:Table").filter((table) => [PARTITIONED_TABLE, ...Object.values<string>(ROLLUPS)].includes(table.inputs.tableId));
  expect(partitioned).toHaveLength(1 + Object.values(ROLLUPS).length);
  for (const table of partitioned) expect(table.inputs.timePartitioning.expirationMs).toBe(DAYS_400_MS);
  expect(ofType(run, "gcp:bigquery/job:Job")).toEqual([]);
});

test("the archive goes with the retention, and soft delete is off", () => {
  const bucket = only(run, "gcp:storage/bucket:Bucket", (resource) => resource.name === "pixel-archive-bucket");
  expect(bucket.inputs.lifecycleRules.slice(1)).toEqual([
    { action: { type: "Delete" }, condition: { age: 400 } },
    { action: { type: "Delete" }, condition: { daysSinceCustomTime: 400 } },
  ]);
  expect(bucket.inputs.softDeletePolicy).toEqual({ retentionDurationSeconds: 0 });
});

test("a retention set on purpose draws no warning", () => expect(run.warnings).toEqual([]));

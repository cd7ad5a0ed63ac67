import { BASE_CONFIG, ofType, ProgramRun, runProgram } from "../../../testkit/pulumiProgram";

// Everything optional switched off: the pipeline itself is unchanged, and nothing of operations is declared.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:archive": "false",
    "pixel-pipeline:monitoring": "false",
  });
});

test.each([
  "gcp:logging/metric:Metric",
  "gcp:monitoring/alertPolicy:AlertPolicy",
  "gcp:monitoring/dashboard:Dashboard",
  "gcp:monitoring/notificationChannel:NotificationChannel",
  "gcp:compute/securityPolicy:SecurityPolicy",
  // Without the archive the _Default bucket keeps the raw entries, so it is not excluded by default.
  "gcp:logging/projectExclusion:ProjectExclusion",
])("declares no %s", (type) => {
  expect(ofType(run, type)).toEqual([]);
});

test("keeps only the Pub/Sub sink and no archive bucket", () => {
  expect(ofType(run, "gcp:logging/projectSink:ProjectSink").map((sink) => sink.name)).toEqual(["pixel-logs-sink"]);
  expect(ofType(run, "gcp:storage/bucket:Bucket").map((bucket) => bucket.name).sort()).toEqual(["pixel-bucket", "pixel-collector-source"]);
});

test("has no archive or dashboard outputs", () => {
  expect(run.outputs.archiveBucket).toBeUndefined();
  expect(run.outputs.dashboardUrl).toBeUndefined();
});

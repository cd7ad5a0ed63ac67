import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { unzipSync } from "fflate";
import { LOAD_LEDGER_TABLE, loadJobId } from "../../core/batchLoad";
import { serializeCoreSettings } from "../../core/config/coreSettings";
import { ARCHIVE_BUCKET_VARIABLE, DATASET_VARIABLE, LOADER_ENTRY_POINT, SETTINGS_VARIABLE, SWEEP_ENTRY_POINT, VISITOR_KEY_VARIABLE } from "../../core/functionContract";
import { BATCH_FUNCTION_ENTRY, bundleFunction } from "../../infra/ingest/functionBundle";
import { ARCHIVE_DIR, ARCHIVE_EVENTS_BY_TABLE, ARCHIVE_OBJECTS } from "../../testkit/archiveSample";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { freePort } from "../../testkit/freePort";
import { GcsStandIn } from "../../testkit/gcsStandIn";
import { ledgerQueries } from "../../testkit/ledgerQueries";
import { DEV_SETTINGS } from "../../testkit/logEntries";
import { TEST_VISITOR_KEY } from "../../testkit/settings";
import { captureOutput } from "../../testkit/waitForLine";
import type { ChildOutput } from "../../testkit/waitForLine";

// The batch bundle as deployed: built by the same pipeline, started by the functions framework on
// its unzipped files, with nothing but its environment to find the bucket, the dataset and the keys.
const ROOT = path.join(__dirname, "..", "..");
const BUCKET = "pixel-archive";
const bigQuery = new BigQueryStandIn();
const gcs = new GcsStandIn();
let directory: string;
const children: ChildProcess[] = [];

async function startFunction(target: string): Promise<{ url: string; output: ChildOutput }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, "node_modules/@google-cloud/functions-framework/build/src/main.js"), `--target=${target}`, `--source=${directory}`, `--port=${port}`], {
    env: {
      PATH: process.env.PATH,
      NODE_PATH: path.join(ROOT, "node_modules"),
      [SETTINGS_VARIABLE]: serializeCoreSettings(DEV_SETTINGS),
      [DATASET_VARIABLE]: "pixel_dev",
      [VISITOR_KEY_VARIABLE]: TEST_VISITOR_KEY,
      [ARCHIVE_BUCKET_VARIABLE]: BUCKET,
      GOOGLE_CLOUD_PROJECT: "test-project",
      BIGQUERY_EMULATOR_HOST: `${bigQuery.endpoint}/bigquery/v2`,
      STORAGE_EMULATOR_HOST: gcs.host,
    },
  });
  children.push(child);
  const output = captureOutput(child);
  await output.waitFor(/Signature type: cloudevent/, 20_000);
  return { url: `http://127.0.0.1:${port}`, output };
}

beforeAll(async () => {
  await Promise.all([bigQuery.start(), gcs.start()]);
  bigQuery.answerQueries(ledgerQueries(bigQuery, "pixel_dev"));
  const bundle = bundleFunction(BATCH_FUNCTION_ENTRY);
  directory = mkdtempSync(path.join(tmpdir(), "pixel-batch-bundle-"));
  for (const [name, content] of Object.entries(unzipSync(readFileSync(bundle.archivePath)))) writeFileSync(path.join(directory, name), content);
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(directory, { recursive: true, force: true });
  await Promise.all([bigQuery.stop(), gcs.stop()]);
});

/**
 * The object's load jobs ran before, but its ledger row was never written (the function ended
 * first): the redelivered event finds the jobs done and records the object loaded. The jobs are
 * the stand-in's, created as their uploads would have: the client library cannot upload through
 * BIGQUERY_EMULATOR_HOST without credentials (it sends the multipart upload with no headers), so
 * the uploads themselves are tested unbundled, in test/functions/batchApp.test.ts.
 */
test("the bundle's loader reads the object, finds its jobs, and records it loaded; its sweep is registered beside it", async () => {
  const [name] = ARCHIVE_OBJECTS;
  const content = readFileSync(path.join(ARCHIVE_DIR, name));
  gcs.put(BUCKET, name, content);
  const dayTables = Object.entries(ARCHIVE_EVENTS_BY_TABLE).filter(([table]) => table.endsWith("20260105"));
  for (const [table, rows] of dayTables) {
    const jobId = loadJobId(BUCKET, name, table);
    const configuration = { load: { destinationTable: { projectId: "test-project", datasetId: "pixel_dev", tableId: table } } };
    bigQuery.loadJobs.set(jobId, { jobId, configuration, table, rows: Array.from({ length: rows }, () => ({})), rowCount: rows, runningLooks: 0, errors: [] });
  }
  const loader = await startFunction(LOADER_ENTRY_POINT);
  const response = await fetch(loader.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "ce-id": "1",
      "ce-specversion": "1.0",
      "ce-type": "google.cloud.storage.object.v1.finalized",
      "ce-source": `//storage.googleapis.com/projects/_/buckets/${BUCKET}`,
      "ce-subject": `objects/${name}`,
    },
    body: JSON.stringify({ bucket: BUCKET, name, generation: "1", size: String(content.length) }),
  });
  expect(response.status).toBe(204);
  const [row] = bigQuery.rowsIn(LOAD_LEDGER_TABLE) as { jobs: string }[];
  expect(row).toEqual(expect.objectContaining({ object: `gs://${BUCKET}/${name}`, outcome: "loaded", generation: "1", entries: 7, rows: 4, refused: 3 }));
  expect(JSON.parse(row.jobs)).toEqual(dayTables.map(([table, rows]) => ({ table, job_id: loadJobId(BUCKET, name, table), rows, status: "already-loaded" })));
  await loader.output.waitFor(/"reason":"cdn_subrequest"/, 20_000);

  const sweep = await startFunction(SWEEP_ENTRY_POINT);
  const swept = await fetch(sweep.url, {
    method: "POST",
    headers: { "content-type": "application/json", "ce-id": "2", "ce-specversion": "1.0", "ce-type": "google.cloud.pubsub.topic.v1.messagePublished", "ce-source": "//pubsub.googleapis.com/projects/p/topics/sweep" },
    body: JSON.stringify({ message: { data: "", messageId: "2" }, subscription: "projects/p/subscriptions/sweep" }),
  });
  expect(swept.status).toBe(204);
  await sweep.output.waitFor(/"message":"sweep: 0 loaded, 0 failed, 0 dead; 0 left for the next run"/, 20_000);
});

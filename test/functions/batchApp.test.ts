import { getTestServer } from "@google-cloud/functions-framework/testing";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { LOAD_LEDGER_TABLE } from "../../core/batchLoad";
import type { LogLine } from "../../core/delivery";
import { LOADER_ENTRY_POINT, SWEEP_ENTRY_POINT } from "../../core/functionContract";
import { storedSchema } from "../../core/layout";
import { MAX_LOAD_ATTEMPTS, SWEEP_GRACE_MS } from "../../core/loadLedger";
import type { LoadLogLine } from "../../core/loadLedger";
import { registerBatchFunctions, sweepArchive } from "../../functions/batchApp";
import type { BatchFunctions } from "../../functions/batchApp";
import { bigQueryLoadJobs } from "../../functions/bigqueryLoads";
import { googleApi } from "../../functions/googleApi";
import { bigQueryLedger } from "../../functions/loadLedger";
import { ARCHIVE_DIR, ARCHIVE_EVENTS_BY_TABLE, ARCHIVE_OBJECTS } from "../../testkit/archiveSample";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { GcsStandIn } from "../../testkit/gcsStandIn";
import { ledgerQueries } from "../../testkit/ledgerQueries";
import { DEV_SETTINGS } from "../../testkit/logEntries";

const BUCKET = "pixel-archive";
const DATASET = "pixel_dev";
/** Small enough for a test file to pass it. */
const MAX_OBJECT_BYTES = 64 * 1024;
const [HOUR_23, HOUR_00_S0, HOUR_00_S1] = ARCHIVE_OBJECTS;
const content = (name: string) => readFileSync(path.join(ARCHIVE_DIR, name));

const bigQuery = new BigQueryStandIn();
const gcs = new GcsStandIn();
const logLines: (LogLine | LoadLogLine)[] = [];
/** The functions' clock; the sweep runs later than the loads, past the grace period. */
let clock: Date;
let loaderServer: Server;
let sweepServer: Server;
let frameworkErrors: jest.SpyInstance;
let batch: BatchFunctions;

beforeAll(async () => {
  // The framework prints each failed invocation's stack; the tests assert on the structured lines instead.
  frameworkErrors = jest.spyOn(console, "error").mockImplementation(() => undefined);
  await Promise.all([bigQuery.start(), gcs.start()]);
  const client = bigQuery.client();
  const schema = storedSchema(DEV_SETTINGS.layout, DEV_SETTINGS.attributes);
  batch = {
    settings: DEV_SETTINGS,
    jobs: bigQueryLoadJobs(client, DATASET, () => schema, { pollIntervalMs: 1, maxPollIntervalMs: 1 }),
    ledger: bigQueryLedger(client.dataset(DATASET)),
    storage: googleApi(gcs.endpoint),
    archiveBucket: BUCKET,
    log: (line) => logLines.push(line),
    now: () => clock,
    maxObjectBytes: MAX_OBJECT_BYTES,
  };
  registerBatchFunctions(batch);
  [loaderServer, sweepServer] = await Promise.all([LOADER_ENTRY_POINT, SWEEP_ENTRY_POINT].map(listen));
});

afterAll(async () => {
  await Promise.all([loaderServer, sweepServer].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  await Promise.all([bigQuery.stop(), gcs.stop()]);
});

beforeEach(() => {
  bigQuery.reset();
  bigQuery.answerQueries(ledgerQueries(bigQuery, DATASET));
  gcs.buckets.clear();
  gcs.failingReads = 0;
  logLines.length = 0;
  frameworkErrors.mockClear();
  clock = new Date();
});

async function listen(entryPoint: string): Promise<Server> {
  const server = getTestServer(entryPoint);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const url = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Eventarc's binary-mode CloudEvent for an object finalized in a bucket. */
function finalized(name: string, bucket = BUCKET, generation = "1767661200000000"): Promise<Response> {
  const bytes = gcs.buckets.get(bucket)?.get(name);
  return fetch(url(loaderServer), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "ce-id": `${name}-${generation}`,
      "ce-specversion": "1.0",
      "ce-type": "google.cloud.storage.object.v1.finalized",
      "ce-source": `//storage.googleapis.com/projects/_/buckets/${bucket}`,
      "ce-subject": `objects/${name}`,
      "ce-time": clock.toISOString(),
    },
    body: JSON.stringify({ kind: "storage#object", bucket, name, generation, size: String(bytes?.length ?? 0), contentType: "application/json", timeCreated: clock.toISOString() }),
  });
}

/** The scheduler's message, as Eventarc delivers a Pub/Sub message to the sweep. */
function sweep(): Promise<Response> {
  return fetch(url(sweepServer), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "ce-id": "sweep-1",
      "ce-specversion": "1.0",
      "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
      "ce-source": "//pubsub.googleapis.com/projects/demo-project/topics/pixel-archive-sweep",
      "ce-time": clock.toISOString(),
    },
    body: JSON.stringify({ message: { data: Buffer.from("sweep").toString("base64"), messageId: "1" }, subscription: "projects/demo-project/subscriptions/eventarc-sweep" }),
  });
}

const later = () => {
  clock = new Date(clock.getTime() + 2 * SWEEP_GRACE_MS);
};

interface StoredLedgerRow {
  object: string;
  outcome: string;
  rows?: number;
  detail?: string;
}

const ledgerRows = () => (bigQuery.rowsIn(LOAD_LEDGER_TABLE) as StoredLedgerRow[]).map(({ object, outcome }) => [object.replace(`gs://${BUCKET}/`, ""), outcome]);
const rowsLoaded = () => Object.fromEntries([...bigQuery.loaded].map(([table, rows]) => [table, rows.length]));
const reasons = () => logLines.filter((line) => line.reason !== undefined && !("insertId" in line)).map((line) => line.reason);

test("an object outside the sink's prefix is acknowledged and never read", async () => {
  gcs.put(BUCKET, "dead-letters/2026/01/05/x.json", content(HOUR_23));
  gcs.put(BUCKET, "requests/2026/01/05/notes.txt", "notes");
  gcs.put("another-bucket", HOUR_23, content(HOUR_23));
  for (const response of [await finalized("dead-letters/2026/01/05/x.json"), await finalized("requests/2026/01/05/notes.txt"), await finalized(HOUR_23, "another-bucket")]) {
    expect(response.status).toBeLessThan(300);
  }
  expect(bigQuery.requests).toEqual([]);
  expect(logLines.map((line) => line.severity)).toEqual(["DEBUG", "DEBUG", "DEBUG"]);
});

test("a finalized sink object is loaded once, recorded, and a redelivered or rewritten one loads nothing again", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23));
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  const loaded = rowsLoaded();
  expect(Object.keys(loaded).length).toBeGreaterThan(0);
  const jobs = bigQuery.loadJobs.size;
  const jobLookups = () => bigQuery.requests.filter((request) => request.method === "GET" && request.path.includes("/jobs/")).length;
  const lookups = jobLookups();

  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  gcs.put(BUCKET, HOUR_23, content(HOUR_23)); // a rewrite: a new generation of the same name
  expect((await finalized(HOUR_23, BUCKET, "1767661200000001")).status).toBeLessThan(300);

  expect(rowsLoaded()).toEqual(loaded);
  expect(bigQuery.loadJobs.size).toBe(jobs);
  expect(bigQuery.duplicateLoads).toEqual([]);
  // The ledger answered both: the object was not even read again.
  expect(jobLookups()).toBe(lookups);
  expect(ledgerRows()).toEqual([[HOUR_23, "loaded"]]);
  const [row] = bigQuery.rowsIn(LOAD_LEDGER_TABLE) as StoredLedgerRow[];
  expect(row.rows).toBe(Object.values(loaded).reduce((sum, count) => sum + count, 0));
});

test("a failed attempt is recorded and retried by its event; the next loads once and is recorded too", async () => {
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0));
  gcs.failingReads = 1;
  expect((await finalized(HOUR_00_S0)).status).toBe(500);
  expect(reasons()).toEqual(["archive_load_failed"]);
  expect(frameworkErrors.mock.calls.map(([error]) => String(error).split("\n")[0])).toEqual([expect.stringMatching(/^ObjectNotLoadedError: gs:\/\/pixel-archive\/requests\/.* was not loaded \(attempt 1\)/)]);
  expect(rowsLoaded()).toEqual({});

  expect((await finalized(HOUR_00_S0)).status).toBeLessThan(300);
  expect(ledgerRows()).toEqual([
    [HOUR_00_S0, "failed"],
    [HOUR_00_S0, "loaded"],
  ]);
  expect(rowsLoaded()).toEqual({ pixel_acme_20260106: 1 });
});

test(`an object that fails ${MAX_LOAD_ATTEMPTS} times is recorded dead and alerted on, and not tried again`, async () => {
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0));
  gcs.failingReads = MAX_LOAD_ATTEMPTS;
  const statuses = [];
  for (let attempt = 1; attempt <= MAX_LOAD_ATTEMPTS; attempt++) statuses.push((await finalized(HOUR_00_S0)).status);
  expect(statuses).toEqual([...Array<number>(MAX_LOAD_ATTEMPTS - 1).fill(500), 204]);
  expect(ledgerRows().map(([, outcome]) => outcome)).toEqual([...Array<string>(MAX_LOAD_ATTEMPTS - 1).fill("failed"), "dead"]);
  expect(logLines.filter((line) => line.severity === "ERROR")).toEqual([expect.objectContaining({ reason: "archive_object_dead", cause: "attempts_exhausted", object: `gs://${BUCKET}/${HOUR_00_S0}` })]);

  expect((await finalized(HOUR_00_S0)).status).toBeLessThan(300);
  later();
  expect((await sweep()).status).toBeLessThan(300);
  expect(rowsLoaded()).toEqual({});
  expect(ledgerRows()).toHaveLength(MAX_LOAD_ATTEMPTS);
});

test("a file over the size bound is recorded dead at once, alerted on, and never loaded again by the sweep", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23));
  gcs.put(BUCKET, HOUR_00_S0, Buffer.concat(Array.from({ length: Math.ceil(MAX_OBJECT_BYTES / content(HOUR_00_S0).length) + 1 }, () => content(HOUR_00_S0))));
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  expect((await finalized(HOUR_00_S0)).status).toBeLessThan(300);
  expect(ledgerRows()).toEqual([
    [HOUR_23, "loaded"],
    [HOUR_00_S0, "dead"],
  ]);
  expect(logLines.filter((line) => line.severity === "ERROR")).toEqual([expect.objectContaining({ reason: "archive_object_dead", cause: "too_large", object: `gs://${BUCKET}/${HOUR_00_S0}` })]);
  const loaded = rowsLoaded();

  later();
  expect((await sweep()).status).toBeLessThan(300);
  expect(rowsLoaded()).toEqual(loaded);
  expect(ledgerRows()).toHaveLength(2);
  expect(logLines.at(-1)).toEqual(expect.objectContaining({ severity: "INFO", message: "sweep: 0 loaded, 0 failed, 0 dead; 0 left for the next run" }));
});

test("a load job BigQuery fails is recorded dead with its errors and alerted on, not retried", async () => {
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0));
  bigQuery.scriptLoads({ errors: [{ reason: "invalid", message: "Could not convert value to integer." }] });
  expect((await finalized(HOUR_00_S0)).status).toBeLessThan(300);
  const dead = logLines.filter((line) => line.severity === "ERROR");
  expect(dead).toEqual([expect.objectContaining({ reason: "archive_object_dead", cause: "load_job_failed" })]);
  expect(dead[0].detail).toContain("Could not convert value to integer.");
  expect(ledgerRows()).toEqual([[HOUR_00_S0, "dead"]]);
  later();
  await sweep();
  expect(ledgerRows()).toEqual([[HOUR_00_S0, "dead"]]);
});

test("a file whose event was lost is found by the sweep and loaded through the same jobs, once", async () => {
  for (const name of ARCHIVE_OBJECTS) gcs.put(BUCKET, name, content(name));
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  // The events of the two later files never arrive.
  later();
  expect((await sweep()).status).toBeLessThan(300);
  expect(rowsLoaded()).toEqual(ARCHIVE_EVENTS_BY_TABLE);
  expect(ledgerRows()).toEqual([
    [HOUR_23, "loaded"],
    [HOUR_00_S0, "loaded"],
    [HOUR_00_S1, "loaded"],
  ]);
  expect(logLines.at(-1)).toEqual(expect.objectContaining({ severity: "INFO", message: "sweep: 2 loaded, 0 failed, 0 dead; 0 left for the next run" }));

  // A late event for a swept file, and the next sweep, load nothing.
  expect((await finalized(HOUR_00_S1)).status).toBeLessThan(300);
  later();
  await sweep();
  expect(rowsLoaded()).toEqual(ARCHIVE_EVENTS_BY_TABLE);
  expect(bigQuery.duplicateLoads).toEqual([]);
});

test("the sweep leaves alone objects within the grace period, and everything while the ledger is empty", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23));
  later();
  await sweep();
  expect(bigQuery.loadJobs.size).toBe(0);
  expect(logLines.at(-1)?.message).toMatch(/the ledger is empty/);

  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0), clock);
  await sweep();
  expect(ledgerRows()).toEqual([[HOUR_23, "loaded"]]);
});

test("one sweep loads at most its bound, and says how many are left for the next", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23));
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  for (const name of [HOUR_00_S0, HOUR_00_S1]) gcs.put(BUCKET, name, content(name));
  later();
  await sweepArchive({ ...batch, sweepMaxObjects: 1 });
  expect(ledgerRows()).toEqual([
    [HOUR_23, "loaded"],
    [HOUR_00_S0, "loaded"],
  ]);
  expect(logLines.at(-1)).toEqual(expect.objectContaining({ severity: "WARNING", message: "sweep: 1 loaded, 0 failed, 0 dead; 1 left for the next run" }));
  await sweepArchive({ ...batch, sweepMaxObjects: 1 });
  expect(rowsLoaded()).toEqual(ARCHIVE_EVENTS_BY_TABLE);
});

import { getTestServer } from "@google-cloud/functions-framework/testing";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { LOAD_LEDGER_TABLE } from "../../core/batchLoad";
import type { LogLine } from "../../core/delivery";
import { LOADER_ENTRY_POINT, SWEEP_ENTRY_POINT } from "../../core/functionContract";
import { storedSchema } from "../../core/layout";
import { MAX_LOAD_ATTEMPTS, SWEEP_GRACE_MS, SWEEP_LOOKBACK_DAYS, SWEEP_TIME_BUDGET_MS } from "../../core/loadLedger";
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
/** When the sink wrote the sample's files: the hour after their last (UTC), as the sink does. */
const SAMPLE_WRITTEN = "2026-01-06T02:30:00Z";
/** The functions' clock, and the objects' time of writing; the sweep runs later than the loads, past the grace period. */
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
  gcs.listedPrefixes.length = 0;
  logLines.length = 0;
  frameworkErrors.mockClear();
  clock = new Date(SAMPLE_WRITTEN);
});

async function listen(entryPoint: string): Promise<Server> {
  const server = getTestServer(entryPoint);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const url = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Eventarc's binary-mode CloudEvent for an object finalized in a bucket. */
function finalized(name: string, bucket = BUCKET, generation = gcs.metadataOf(bucket, name)?.generation ?? "1"): Promise<Response> {
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
  gcs.put(BUCKET, "dead-letters/2026/01/05/x.json", content(HOUR_23), clock);
  gcs.put(BUCKET, "requests/2026/01/05/notes.txt", "notes", clock);
  gcs.put("another-bucket", HOUR_23, content(HOUR_23), clock);
  for (const response of [await finalized("dead-letters/2026/01/05/x.json"), await finalized("requests/2026/01/05/notes.txt"), await finalized(HOUR_23, "another-bucket")]) {
    expect(response.status).toBeLessThan(300);
  }
  expect(bigQuery.requests).toEqual([]);
  expect(logLines.map((line) => line.severity)).toEqual(["DEBUG", "DEBUG", "DEBUG"]);
});

test("a finalized sink object is loaded once, recorded, and a redelivered or rewritten one loads nothing again", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23), clock);
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  const loaded = rowsLoaded();
  expect(Object.keys(loaded).length).toBeGreaterThan(0);
  const jobs = bigQuery.loadJobs.size;
  const jobLookups = () => bigQuery.requests.filter((request) => request.method === "GET" && request.path.includes("/jobs/")).length;
  const lookups = jobLookups();

  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  gcs.put(BUCKET, HOUR_23, content(HOUR_23), clock); // a rewrite: a new generation of the same name
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);

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
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0), clock);
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
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0), clock);
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
  gcs.put(BUCKET, HOUR_23, content(HOUR_23), clock);
  gcs.put(BUCKET, HOUR_00_S0, Buffer.concat(Array.from({ length: Math.ceil(MAX_OBJECT_BYTES / content(HOUR_00_S0).length) + 1 }, () => content(HOUR_00_S0))), clock);
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
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0), clock);
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
  for (const name of ARCHIVE_OBJECTS) gcs.put(BUCKET, name, content(name), clock);
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  // The events of the two later files never arrive.
  later();
  expect((await sweep()).status).toBeLessThan(300);
  // The ledger began with this day's first load: the sweep lists that day's folder and the day's before.
  expect(gcs.listedPrefixes).toEqual(["requests/2026/01/05/", "requests/2026/01/06/"]);
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

test(`the sweep lists only the last ${SWEEP_LOOKBACK_DAYS} days' folders, and leaves a never-loaded file older than that to a replay`, async () => {
  const file = (day: string) => `requests/${day}/10:00:00_10:59:59_S0.json`;
  const writtenOn = (day: string) => new Date(`${day.replaceAll("/", "-")}T13:00:00Z`);
  const days = { loadedBefore: "2025/12/28", lostBefore: "2025/12/29", loadedWithin: "2025/12/31", lostWithin: "2026/01/02" };
  const contents = { loadedBefore: HOUR_23, lostBefore: HOUR_23, loadedWithin: HOUR_00_S0, lostWithin: HOUR_00_S1 };
  for (const [key, day] of Object.entries(days) as [keyof typeof days, string][]) {
    clock = writtenOn(day);
    gcs.put(BUCKET, file(day), content(contents[key]), clock);
    if (key.startsWith("loaded")) expect((await finalized(file(day))).status).toBeLessThan(300);
  }
  clock = new Date("2026-01-06T04:30:00Z");
  expect((await sweep()).status).toBeLessThan(300);

  const folders = ["2025/12/30", "2025/12/31", "2026/01/01", "2026/01/02", "2026/01/03", "2026/01/04", "2026/01/05", "2026/01/06"];
  expect(gcs.listedPrefixes).toEqual(folders.map((day) => `requests/${day}/`));
  expect(ledgerRows()).toEqual([
    [file(days.loadedBefore), "loaded"],
    [file(days.loadedWithin), "loaded"],
    [file(days.lostWithin), "loaded"],
  ]);
  expect(logLines.at(-1)).toEqual(expect.objectContaining({ severity: "INFO", message: "sweep: 1 loaded, 0 failed, 0 dead; 0 left for the next run" }));
  // The ledger's query read the rows of the lookback's days only.
  expect(bigQuery.queries.at(-1)).toContain("recorded_at >= TIMESTAMP '2025-12-30 00:00:00.000+00'");
});

test("the sweep leaves alone objects within the grace period, and everything while the ledger has no row in the lookback", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23), clock);
  later();
  await sweep();
  expect(bigQuery.loadJobs.size).toBe(0);
  expect(gcs.listedPrefixes).toEqual([]);
  expect(logLines.at(-1)?.message).toMatch(/the ledger has no row from the last 7 days/);

  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0), clock);
  await sweep();
  expect(ledgerRows()).toEqual([[HOUR_23, "loaded"]]);
});

test("one sweep loads at most its bound, and says how many are left for the next", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23), clock);
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  for (const name of [HOUR_00_S0, HOUR_00_S1]) gcs.put(BUCKET, name, content(name), clock);
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

test("one sweep starts no object past its time budget, and counts those left", async () => {
  gcs.put(BUCKET, HOUR_23, content(HOUR_23), clock);
  expect((await finalized(HOUR_23)).status).toBeLessThan(300);
  for (const name of [HOUR_00_S0, HOUR_00_S1]) gcs.put(BUCKET, name, content(name), clock);
  later();
  // Each look at the clock finds a minute more gone than the budget allows after the first.
  const start = clock.getTime();
  let looks = 0;
  await sweepArchive({ ...batch, now: () => new Date(start + (looks++ < 2 ? 0 : SWEEP_TIME_BUDGET_MS + 60_000)) });
  expect(ledgerRows().map(([name]) => name)).toEqual([HOUR_23, HOUR_00_S0]);
  expect(logLines.at(-1)).toEqual(expect.objectContaining({ severity: "WARNING", message: "sweep: 1 loaded, 0 failed, 0 dead; 1 left for the next run" }));
});

test("an event for a generation that is gone is recorded failed and not retried: the new generation has its own event", async () => {
  expect((await finalized(HOUR_00_S0)).status).toBeLessThan(300);
  expect(ledgerRows()).toEqual([[HOUR_00_S0, "failed"]]);
  expect(logLines.filter((line) => line.reason === "archive_load_failed")).toEqual([expect.objectContaining({ severity: "WARNING", attempt: 1 })]);

  gcs.put(BUCKET, HOUR_00_S0, content(HOUR_00_S0), clock);
  expect((await finalized(HOUR_00_S0)).status).toBeLessThan(300);
  expect(ledgerRows()).toEqual([
    [HOUR_00_S0, "failed"],
    [HOUR_00_S0, "loaded"],
  ]);
});

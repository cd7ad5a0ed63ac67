import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import { OAuth2Client } from "google-auth-library";
import { isArchiveFileName, listArchive, parseGcsUrl } from "../../cli/archiveSource";
import { googleApi } from "../../functions/googleApi";
import { formatBytes, ReplayProgress, terminalProgress } from "../../cli/progress";
import { rollupHint } from "../../cli/rollup";
import { formatSummary, parseReplayArgs, replayArchive, ReplayError, replayDestination, ReplaySummary } from "../../cli/replay";
import { bigQueryTarget, localTarget } from "../../cli/replayTargets";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { AcceptedEvent } from "../../core/event";
import { insertTableName } from "../../core/layout";
import { cloudDelivery } from "../../core/delivery";
import { handlePixelMessage } from "../../functions/handler";
import { LocalDatabase } from "../../local/database";
import { withLocalVisitorKey } from "../../local/visitorKey";
import { UsageError } from "../../cli/runner";
import { validateStackConfig } from "../../core/config/stackConfig";
import { ARCHIVE_DIR, ARCHIVE_DISTINCT_EVENTS, ARCHIVE_EVENTS_BY_TABLE, ARCHIVE_OBJECTS, ARCHIVE_REFUSALS_BY_REASON } from "../../testkit/archiveSample";
import { BigQueryStandIn, insertErrors, serverError } from "../../testkit/bigQueryStandIn";
import { GcsStandIn } from "../../testkit/gcsStandIn";
import { DEV_SETTINGS, pubSubMessage } from "../../testkit/logEntries";
import { httpRequest, makeTempDir, removeDir, startTestPipeline } from "../../testkit/localPipeline";
import { runScript } from "../../testkit/runScript";

const NO_WAIT = { concurrency: 4, attempts: 3, retryDelayMs: 0 };
const archiveFiles = () => listArchive([ARCHIVE_DIR], () => {
  throw new Error("a local directory needs no Cloud Storage");
});

/** The events the deployed function makes of the archived entries, by insertId, through its own path: Pub/Sub message → handler. */
async function archiveEvents(settings: CoreSettings = DEV_SETTINGS): Promise<AcceptedEvent[]> {
  const events = new Map<string, AcceptedEvent>();
  const writer = { insert: async (event: AcceptedEvent) => void events.set(event.insertId, event) };
  for (const object of ARCHIVE_OBJECTS) {
    const lines = (await readFile(path.join(ARCHIVE_DIR, object), "utf8")).split("\n").filter(Boolean);
    for (const line of lines) await handlePixelMessage(pubSubMessage(JSON.parse(line)), { settings, writer, log: () => undefined, policy: cloudDelivery(5) });
  }
  return [...events.values()];
}

async function functionInsertIds(): Promise<Set<string>> {
  return new Set((await archiveEvents()).map((event) => event.insertId));
}

function expectArchiveCounts(summary: ReplaySummary): void {
  expect(Object.fromEntries(summary.accepted)).toEqual(ARCHIVE_EVENTS_BY_TABLE);
  expect(Object.fromEntries(summary.refused)).toEqual(ARCHIVE_REFUSALS_BY_REASON);
  expect(summary).toMatchObject({ files: 3, entries: 11 });
}

describe("command line", () => {
  test.each([
    [["--stack", "dev", "--dry-run", "a.json"], { mode: "dry-run", stack: "dev", sources: ["a.json"] }],
    [["--stack", "prod", "gs://b/requests/2026/", "x"], { mode: "bigquery", sources: ["gs://b/requests/2026/", "x"], concurrency: 16 }],
    [["--stack", "prod", "--project", "p-1", "--dataset", "d", "--concurrency", "4", "f"], { mode: "bigquery", project: "p-1", dataset: "d", concurrency: 4 }],
    [["--stack", "dev", "--local", "--data-dir", "/tmp/x", "f"], { mode: "local", paths: expect.objectContaining({ database: "/tmp/x/pixel.duckdb" }) }],
    [["--stack", "prod", "f"], { rebuildDays: [] }],
    [["--stack", "prod", "--rebuild", "2026-01-06", "--rebuild", "2026-01-05", "--rebuild", "2026-01-06", "--archive-bucket", "gs://pixel-archive-x1", "f"], { rebuildDays: ["2026-01-05", "2026-01-06"], archiveBucket: "pixel-archive-x1" }],
  ])("%p", (args, expected) => {
    expect(parseReplayArgs(args)).toMatchObject(expected);
  });

  test.each([
    [["f.json"], /--stack/],
    [["--stack", "dev"], /at least one archive file/],
    [["--stack", "dev", "--dry-run", "--local", "f"], /exclude each other/],
    [["--stack", "dev", "--local", "--project", "p", "f"], /for writing to BigQuery/],
    [["--stack", "dev", "--data-dir", "/tmp/x", "f"], /are for --local/],
    [["--stack", "dev", "--concurrency", "0", "f"], /--concurrency must be a whole number from 1 to 100/],
    [["--stack", "dev", "--bogus", "f"], /bogus/],
    [["--stack", "dev", "--rebuild", "2026-02-30", "f"], /--rebuild takes a UTC day as YYYY-MM-DD, got "2026-02-30"/],
    [["--stack", "dev", "--dry-run", "--rebuild", "2026-01-05", "f"], /a dry run writes nothing/],
  ])("%p is a usage error", (args, message) => {
    expect(() => parseReplayArgs(args)).toThrow(UsageError);
    expect(() => parseReplayArgs(args)).toThrow(message);
  });

  test.each([
    [[], {}, "from-stack-1", { project: "from-stack-1", dataset: "pixel_prod_eu" }],
    [[], { datasetId: "events_eu" }, "from-stack-1", { project: "from-stack-1", dataset: "events_eu" }],
    [["--project", "p-2", "--dataset", "d2"], { datasetId: "events_eu" }, "from-stack-1", { project: "p-2", dataset: "d2" }],
  ])("destination with flags %p and stack config %p", (flags, stackConfig, stackProject, expected) => {
    const config = validateStackConfig({ attributes: { user_id: "STRING" }, ...stackConfig }, { stack: "prod-eu", project: stackProject });
    expect(replayDestination(parseReplayArgs(["--stack", "prod-eu", ...flags, "f"]), { config, project: stackProject })).toEqual(expected);
  });

  test("a stack without gcp:project needs --project", () => {
    const config = validateStackConfig({ attributes: { user_id: "STRING" } }, { stack: "dev", projectOptional: true });
    expect(() => replayDestination(parseReplayArgs(["--stack", "dev", "f"]), { config })).toThrow(/sets no gcp:project: pass --project/);
  });
});

describe("archive sources", () => {
  test.each([
    ["gs://pixel-archive-x1/requests/2026/01/05/", { bucket: "pixel-archive-x1", prefix: "requests/2026/01/05/" }],
    ["gs://pixel-archive-x1", { bucket: "pixel-archive-x1", prefix: "" }],
    ["gs://b", undefined],
    ["/data/requests", undefined],
    ["s3://bucket/x", undefined],
  ])("parseGcsUrl(%p)", (url, expected) => expect(parseGcsUrl(url)).toEqual(expected));

  test.each([
    ["requests/2026/01/05/23:00:00_23:59:59_S0.json", true],
    ["requests/2026/01/05/23:00:00_23:59:59_A1.json", true],
    ["requests/README.txt", false],
    ["spool/00000003.ndjson", true],
  ])("isArchiveFileName(%p) is %p", (name, expected) => expect(isArchiveFileName(name)).toBe(expected));

  test("a directory is read in time order, which is name order in the sink's layout", async () => {
    const files = await archiveFiles();
    expect(files.map((file) => path.relative(ARCHIVE_DIR, file.name))).toEqual([...ARCHIVE_OBJECTS]);
  });
});

test("the local pipeline's spool directory replays like an archive: its segments hold the same log entries", async () => {
  const dir = await makeTempDir();
  try {
    const pipeline = await startTestPipeline(dir, DEV_SETTINGS);
    for (const query of ["user_id=acme&type=view", "user_id=globex&type=click", "type=view"]) {
      expect((await httpRequest(new URL(`/pixel.png?${query}`, pipeline.url).href)).status).toBe(200);
    }
    await pipeline.close();
    const summary = await replayArchive({ files: await listArchive([pipeline.paths.spoolDir], () => {
      throw new Error("a local directory needs no Cloud Storage");
    }), settings: DEV_SETTINGS });
    expect(summary.entries).toBe(3);
    expect([...summary.accepted.values()].reduce((sum, n) => sum + n, 0)).toBe(2);
    expect(Object.fromEntries(summary.refused)).toEqual({ missing_tenant: 1 });
  } finally {
    await removeDir(dir);
  }
});

describe("dry run", () => {
  test("counts events per table and refusals per reason, and writes nothing", async () => {
    const summary = await replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS });
    expectArchiveCounts(summary);
    expect(summary.stored).toBe(0);
    expect([...summary.days].sort()).toEqual(["2026-01-05", "2026-01-06"]);
    expect(rollupHint(summary.days, "dev", "dry-run")).toBe(
      "the events are of 2 UTC day(s), 2026-01-05 to 2026-01-06; after writing them, bring their rollups up to date with:\n  npm run rollup -- --stack dev --from 2026-01-05 --to 2026-01-06",
    );
    expect(formatSummary(summary, "dry-run")).toBe(
      [
        "3 file(s), 11 log entries: 6 events, 5 refused",
        "events by table:",
        "  pixel_acme_20260105    3",
        "  pixel_acme_20260106    1",
        "  pixel_globex_20260105  1",
        "  pixel_globex_20260106  1",
        "refusals by reason:",
        "  cdn_subrequest      1",
        "  method_not_counted  1",
        "  missing_tenant      1",
        "  other_path          1",
        "  status_not_counted  1",
        "dry run: nothing was written",
      ].join("\n"),
    );
  });

  test("reports progress up to every byte of the archive", async () => {
    const files = await archiveFiles();
    const updates: [number, number][] = [];
    let total = -1;
    let stopped = false;
    const progress: ReplayProgress = { start: (bytes) => (total = bytes), update: (bytes, entries) => updates.push([bytes, entries]), stop: () => (stopped = true) };
    await replayArchive({ files, settings: DEV_SETTINGS, progress });
    expect(total).toBe(files.reduce((sum, file) => sum + file.size, 0));
    expect(updates.at(-1)).toEqual([total, 11]);
    expect(updates.every(([bytes], index) => index === 0 || bytes >= updates[index - 1][0])).toBe(true);
    expect(stopped).toBe(true);
  });
});

describe("the terminal progress bar", () => {
  test("shows bytes, the entry rate and an ETA", async () => {
    const stream = new PassThrough();
    let output = "";
    stream.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const bar = terminalProgress(stream, { noTTYOutput: true });
    bar.start(4096);
    bar.update(2048, 10);
    bar.stop();
    expect(output).toMatch(/\d+% \| [\d.]+ KiB of 4\.0 KiB \| 10 entries, \d+ entries\/s \| ETA /);
  });

  test.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [5 * 1024 ** 3, "5.0 GiB"],
  ])("formatBytes(%p) is %p", (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});

describe("into BigQuery", () => {
  const bigQuery = new BigQueryStandIn();
  beforeAll(() => bigQuery.start());
  afterAll(() => bigQuery.stop());
  beforeEach(() => bigQuery.reset());
  const target = (options = NO_WAIT) => bigQueryTarget(bigQuery.client().dataset("pixel_dev").table("pixel"), DEV_SETTINGS, options);

  test("streams every event with the function's insertId and day-table suffix; a second replay adds no row", async () => {
    const summary = await replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS, target: target() });
    expectArchiveCounts(summary);
    expect(summary.stored).toBe(6);
    expect(new Set(bigQuery.stored.keys())).toEqual(await functionInsertIds());
    expect(bigQuery.stored.size).toBe(ARCHIVE_DISTINCT_EVENTS);
    const suffixes = bigQuery.requests.map((request) => (request.body as { templateSuffix: string }).templateSuffix).sort();
    expect(suffixes).toEqual(["_acme_20260105", "_acme_20260105", "_acme_20260105", "_acme_20260106", "_globex_20260105", "_globex_20260106"]);
    expect(bigQuery.requests.every((request) => request.path === "/bigquery/v2/projects/test-project/datasets/pixel_dev/tables/pixel/insertAll")).toBe(true);

    await replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS, target: target() });
    expect(bigQuery.stored.size).toBe(ARCHIVE_DISTINCT_EVENTS);
    expect(bigQuery.requests).toHaveLength(12);
  });

  test("follows the stack's layout: a partitioned stack gets its rows in the partitioned table, without templateSuffix", async () => {
    const settings = { ...DEV_SETTINGS, layout: "partitioned" as const };
    const table = bigQuery.client().dataset("pixel_dev").table(insertTableName(settings.layout, settings.templateTable));
    const summary = await replayArchive({ files: await archiveFiles(), settings, target: bigQueryTarget(table, settings, NO_WAIT) });
    expect(summary.stored).toBe(6);
    expect(bigQuery.stored.size).toBe(ARCHIVE_DISTINCT_EVENTS);
    expect(new Set(bigQuery.requests.map((request) => request.path))).toEqual(new Set([`/bigquery/v2/projects/test-project/datasets/pixel_dev/tables/${insertTableName("partitioned", "pixel")}/insertAll`]));
    expect(bigQuery.requests.every((request) => (request.body as { templateSuffix?: string }).templateSuffix === undefined)).toBe(true);
  });

  test("retries transient failures of a row", async () => {
    bigQuery.script(serverError(503), serverError(500));
    const summary = await replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS, target: target({ ...NO_WAIT, concurrency: 1 }) });
    expect(summary.stored).toBe(6);
    expect(bigQuery.stored.size).toBe(ARCHIVE_DISTINCT_EVENTS);
    expect(bigQuery.requests).toHaveLength(8);
  });

  test("reports rows BigQuery rejects and writes the others", async () => {
    const [rejectedId] = [...(await functionInsertIds())];
    bigQuery.injectFaults((insertIds) => (insertIds.includes(rejectedId) ? insertErrors("invalid", "Cannot convert value to integer (bad value): x") : { status: 200, body: {} }));
    const summary = await replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS, target: target() });
    expect(summary.rejected).toEqual([
      { table: "pixel_acme_20260105", insertId: rejectedId, detail: "invalid: Cannot convert value to integer (bad value): x" },
      { table: "pixel_acme_20260105", insertId: rejectedId, detail: "invalid: Cannot convert value to integer (bad value): x" },
    ]);
    expect(summary.stored).toBe(4);
    expect(bigQuery.stored.has(rejectedId)).toBe(false);
    expect(formatSummary(summary, "bigquery", "BigQuery p.d")).toContain("2 events were rejected by the store and are not written:\n  pixel_acme_20260105 ");
  });

  test("retries a row while BigQuery does not know a column the template just gained, and writes it once it does", async () => {
    bigQuery.script(insertErrors("invalid", "no such field: visitor_id."), insertErrors("invalid", "no such field: visitor_id."));
    const summary = await replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS, target: target({ ...NO_WAIT, concurrency: 1 }) });
    expect(summary.rejected).toEqual([]);
    expect(summary.stored).toBe(6);
    expect(bigQuery.stored.size).toBe(ARCHIVE_DISTINCT_EVENTS);
    expect(bigQuery.requests).toHaveLength(8);
  });

  test("stops on a failure that outlasts its retries, saying where and that running again is safe", async () => {
    bigQuery.injectFaults(() => serverError(500));
    const replay = replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS, target: target({ ...NO_WAIT, attempts: 2 }), batchSize: 2 });
    await expect(replay).rejects.toThrow(ReplayError);
    await expect(replay).rejects.toThrow(/^replay stopped in .*23:00:00_23:59:59_S0\.json after 2 log entries \(0 events written\): [^]*Running the same replay again is safe/);
  });
});

describe("from Cloud Storage", () => {
  const gcs = new GcsStandIn(2);
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: "stand-in-token", expiry_date: Date.now() + 3_600_000 });

  beforeAll(async () => {
    await gcs.start();
    for (const object of ARCHIVE_OBJECTS) gcs.put("pixel-archive-x1", object, await readFile(path.join(ARCHIVE_DIR, object)));
    gcs.put("pixel-archive-x1", "requests/README.txt", "not an archive file");
  });
  afterAll(() => gcs.stop());

  test("lists a prefix page by page, skips what the sink did not write, and reads the objects with credentials", async () => {
    const files = await listArchive(["gs://pixel-archive-x1/requests/2026/01/06/"], () => googleApi(gcs.endpoint, auth));
    expect(files.map((file) => file.name)).toEqual(ARCHIVE_OBJECTS.slice(1).map((object) => `gs://pixel-archive-x1/${object}`));
    const summary = await replayArchive({ files, settings: DEV_SETTINGS });
    expect(Object.fromEntries(summary.accepted)).toEqual({ pixel_acme_20260106: 1, pixel_globex_20260106: 1 });
    expect(Object.fromEntries(summary.refused)).toEqual({ method_not_counted: 1, missing_tenant: 1 });
    expect(new Set(gcs.authorizations)).toEqual(new Set(["Bearer stand-in-token"]));
  });

  test("the whole bucket, through the command and STORAGE_EMULATOR_HOST", async () => {
    const result = await runScript("cli/replay.ts", ["--stack", "dev", "--dry-run", "gs://pixel-archive-x1"], { env: { STORAGE_EMULATOR_HOST: gcs.endpoint } });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("3 file(s), 11 log entries: 6 events, 5 refused\n");
  });
});

describe("into the local DuckDB file", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "pixel-replay-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function readBack(file: string) {
    const database = await LocalDatabase.open(file, DEV_SETTINGS);
    try {
      const rows = await database.query(`SELECT tenant, insert_id, visitor_id FROM events ORDER BY insert_id`);
      return { rows, checkpoint: await database.readCheckpoint() };
    } finally {
      database.close();
    }
  }

  test("stores each event once, twice replayed, and leaves the spool checkpoint alone", async () => {
    const file = path.join(dir, "pixel.duckdb");
    const before = await LocalDatabase.open(file, DEV_SETTINGS);
    await before.commit({ events: [], refusals: [] }, { segment: 3, offset: 120 });
    before.close();

    for (let run = 0; run < 2; run++) {
      const target = await localTarget(file, DEV_SETTINGS);
      try {
        expectArchiveCounts(await replayArchive({ files: await archiveFiles(), settings: DEV_SETTINGS, target, batchSize: 4 }));
      } finally {
        await target.close();
      }
    }
    const { rows, checkpoint } = await readBack(file);
    expect(new Set(rows.map((row) => row.insert_id))).toEqual(await functionInsertIds());
    expect(rows).toHaveLength(ARCHIVE_DISTINCT_EVENTS);
    expect(checkpoint).toEqual({ segment: 3, offset: 120 });
  });

  test("through the command, with the visitor ids of the local pipeline's own key", async () => {
    const result = await runScript("cli/replay.ts", ["--stack", "dev", "--local", "--data-dir", dir, ARCHIVE_DIR]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`wrote 6 events to ${path.join(dir, "pixel.duckdb")}`);
    const { rows } = await readBack(path.join(dir, "pixel.duckdb"));
    expect(rows).toHaveLength(ARCHIVE_DISTINCT_EVENTS);
    const settings = await withLocalVisitorKey(DEV_SETTINGS, dir);
    expect(settings.visitorKey).not.toBe(DEV_SETTINGS.visitorKey);
    expect(rows.map((row) => row.visitor_id).sort()).toEqual((await archiveEvents(settings)).map((event) => event.row.visitor_id).sort());
  });

  test("while npm start holds the data directory, it names that server and what to do, and writes nothing", async () => {
    const pipeline = await startTestPipeline(dir);
    try {
      const result = await runScript("cli/replay.ts", ["--stack", "dev", "--local", "--data-dir", dir, ARCHIVE_DIR]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `the data directory ${dir} is in use by the npm start running as process ${process.pid} at ${pipeline.url}: ` +
          `DuckDB lets one process write ${path.join(dir, "pixel.duckdb")}. ` +
          "replay --local writes the database itself: stop that server (Ctrl-C where it runs) and run the replay again, or replay into another --data-dir. " +
          `To read its data while it runs, use npm run query -- --data-dir ${dir} "SQL".\n`,
      );
    } finally {
      await pipeline.close();
    }
    expect((await readBack(path.join(dir, "pixel.duckdb"))).rows).toEqual([]);
  });
});

test("the command refuses to write to BigQuery without the stack's visitor key, whose ids the rows beside them carry", async () => {
  const result = await runScript("cli/replay.ts", ["--stack", "dev", ARCHIVE_DIR], { env: { PIXEL_VISITOR_KEY: "" } });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("set PIXEL_VISITOR_KEY to the stack's visitor key");
  expect(result.stderr).toContain("gcloud secrets versions access latest --secret=pixel-dev-visitor-key");
});

test("the command exits 2 with the usage on a bad command line", async () => {
  const result = await runScript("cli/replay.ts", ["--stack", "dev"]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("name at least one archive file");
  expect(result.stderr).toContain("Usage: npm run replay");
});

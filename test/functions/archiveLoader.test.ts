import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import type { CoreSettings } from "../../core/config/coreSettings";
import { REFUSAL_LINES_PER_OBJECT } from "../../core/archiveLoad";
import { loadJobId } from "../../core/batchLoad";
import { replayDelivery } from "../../core/delivery";
import type { LogLine } from "../../core/delivery";
import { insertTableName, PARTITIONED_TABLE, storedSchema } from "../../core/layout";
import type { Layout } from "../../core/layout";
import { loadArchiveObject, LoadJobFailedError, PoisonObjectError } from "../../functions/archiveLoader";
import type { ArchiveObject, LoadJobs, LoadOptions } from "../../functions/archiveLoader";
import { bigQueryLoadJobs } from "../../functions/bigqueryLoads";
import { bigQueryWriter } from "../../functions/bigqueryWriter";
import { handlePixelMessage } from "../../functions/handler";
import { GoogleApiError } from "../../functions/googleApi";
import { archiveObject, ndjson, sampleArchiveObject, TEST_ARCHIVE_BUCKET } from "../../testkit/archiveObjects";
import { ARCHIVE_DIR, ARCHIVE_EVENTS_BY_TABLE, ARCHIVE_OBJECTS, ARCHIVE_REFUSALS_BY_REASON } from "../../testkit/archiveSample";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { DEV_SETTINGS, loadBalancerEntry, pixelUrl, pubSubMessage } from "../../testkit/logEntries";

const bigQuery = new BigQueryStandIn();

beforeAll(() => bigQuery.start());
afterAll(() => bigQuery.stop());
beforeEach(() => bigQuery.reset());

const PARTITIONED_SETTINGS: CoreSettings = { ...DEV_SETTINGS, layout: "partitioned" };

function loadJobs(settings: CoreSettings = DEV_SETTINGS, maxConcurrentInserts?: number): LoadJobs {
  const jobs = bigQueryLoadJobs(bigQuery.client(), "pixel_dev", () => storedSchema(settings.layout, settings.attributes), { pollIntervalMs: 1, maxPollIntervalMs: 5 });
  return maxConcurrentInserts === undefined ? jobs : { ...jobs, maxConcurrentInserts };
}

function options(overrides: Partial<LoadOptions> = {}, settings: CoreSettings = overrides.settings ?? DEV_SETTINGS): LoadOptions & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { settings, jobs: loadJobs(settings), log: (line) => lines.push(line), lines, ...overrides };
}

/** The sample archive's three files as one object: 11 entries, 6 events in 4 day tables, 5 refusals. */
function sampleObject(name = "requests/2026/01/05/23:00:00_23:59:59_S9.json", generation = "1"): ReturnType<typeof archiveObject> {
  return archiveObject(name, ARCHIVE_OBJECTS.map((object) => readFileSync(path.join(ARCHIVE_DIR, object), "utf8")).join(""), { generation });
}

const uploads = () => bigQuery.requests.filter((request) => request.path.startsWith("/upload/"));
const allLoaded = () => [...bigQuery.loaded.entries()].flatMap(([table, rows]) => rows.map((row) => ({ table, row })));

describe("one archive object, loaded", () => {
  it("gives one load job per table under ids from the bucket, the name and the table, with every event's row", async () => {
    const object = sampleObject();
    const report = await loadArchiveObject(object, options());
    expect(report).toEqual({
      object: `gs://${TEST_ARCHIVE_BUCKET}/${object.name}`,
      generation: "1",
      entries: 11,
      refused: ARCHIVE_REFUSALS_BY_REASON,
      tables: expect.any(Array),
      days: ["2026-01-05", "2026-01-06"],
    });
    expect(Object.fromEntries(report.tables.map((load) => [load.table, load.rows]))).toEqual(ARCHIVE_EVENTS_BY_TABLE);
    for (const load of report.tables) {
      expect(load).toEqual({ table: load.table, jobId: loadJobId(TEST_ARCHIVE_BUCKET, object.name, load.table), rows: load.rows, status: "loaded" });
      expect(bigQuery.loadedRows(load.table)).toHaveLength(load.rows);
    }
    expect(uploads()).toHaveLength(4);
    // One read to count, one to upload: four tables fit in one group.
    expect(object.opens).toBe(2);
  });

  it("loads nothing again when the same object is delivered twice: one load per table, no duplicate rows", async () => {
    const first = await loadArchiveObject(sampleObject(), options());
    const loaded = allLoaded();
    const again = await loadArchiveObject(sampleObject(), options());
    expect(again.tables).toEqual(first.tables.map((load) => ({ ...load, status: "already-loaded" })));
    expect(allLoaded()).toEqual(loaded);
    expect(uploads()).toHaveLength(4);
  });

  it("loads nothing again from a rewritten object (same name, new generation, other content)", async () => {
    await loadArchiveObject(sampleObject("requests/2026/01/05/23:00:00_23:59:59_S9.json", "1"), options());
    const loaded = allLoaded();
    // As erasure rewrites it: the same name with fewer entries.
    const rewritten = archiveObject("requests/2026/01/05/23:00:00_23:59:59_S9.json", readFileSync(path.join(ARCHIVE_DIR, ARCHIVE_OBJECTS[0]), "utf8").split("\n").slice(1).join("\n"), { generation: "2" });
    const report = await loadArchiveObject(rewritten, options());
    expect(report.generation).toBe("2");
    expect(report.tables.every((load) => load.status === "already-loaded")).toBe(true);
    expect(allLoaded()).toEqual(loaded);
    expect(uploads()).toHaveLength(4);
  });

  it("succeeds when another delivery creates a job between its look and its insert (409 for a job that is done)", async () => {
    // Both deliveries look their jobs up before either creates one: the second insert of each id answers 409.
    bigQuery.holdUploads(8);
    const [first, second] = await Promise.all([loadArchiveObject(sampleObject(), options()), loadArchiveObject(sampleObject(), options())]);
    expect(bigQuery.duplicateLoads).toHaveLength(4);
    expect([...first.tables, ...second.tables].map((load) => load.status).sort()).toEqual([...Array(4).fill("already-loaded"), ...Array(4).fill("loaded")]);
    expect(bigQuery.loadJobs.size).toBe(4);
    for (const load of first.tables) expect(bigQuery.loadedRows(load.table)).toHaveLength(load.rows);
  });

  it("waits for a job that another delivery is still running, and uploads nothing itself", async () => {
    bigQuery.scriptLoads(...Array(4).fill({ runningLooks: 1000 }));
    // The first delivery's jobs were created, and it stopped before they ended (its function timed out, say).
    await loadArchiveObject(sampleObject(), { ...options(), jobs: { ...loadJobs(), wait: async () => ({ done: false, errors: [] }) } }).catch(() => undefined);
    for (const job of bigQuery.loadJobs.values()) job.runningLooks = 3;
    const report = await loadArchiveObject(sampleObject(), options());
    expect(report.tables.map((load) => load.status)).toEqual(Array(4).fill("already-loaded"));
    expect(uploads()).toHaveLength(4);
    expect(Object.fromEntries(report.tables.map((load) => [load.table, bigQuery.loadedRows(load.table).length]))).toEqual(ARCHIVE_EVENTS_BY_TABLE);
  });

  it("reports a failed job with BigQuery's errors, loads the other tables, and never retries it under a new id", async () => {
    const errors = [{ reason: "invalid", message: "Provided Schema does not match Table pixel_acme_20260105. Field order_id has changed type from STRING to INTEGER" }];
    bigQuery.scriptLoads({ errors });
    const failure = await loadArchiveObject(sampleObject(), options()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LoadJobFailedError);
    expect(failure).toMatchObject({ errors, message: expect.stringContaining("Field order_id has changed type") });
    const failed = (failure as LoadJobFailedError).table;
    expect(bigQuery.loadedRows(failed)).toEqual([]);
    expect(allLoaded()).toHaveLength(6 - ARCHIVE_EVENTS_BY_TABLE[failed as keyof typeof ARCHIVE_EVENTS_BY_TABLE]);

    const again = await loadArchiveObject(sampleObject(), options()).catch((error: unknown) => error);
    expect(again).toMatchObject({ jobId: (failure as LoadJobFailedError).jobId, table: failed, errors });
    expect(uploads()).toHaveLength(4);
    expect([...bigQuery.loadJobs.keys()].sort()).toEqual(Object.keys(ARCHIVE_EVENTS_BY_TABLE).map((table) => loadJobId(TEST_ARCHIVE_BUCKET, sampleObject().name, table)).sort());
  });

  it("reports a job that fails after it was created with its errors", async () => {
    const errors = [{ reason: "backendError", message: "The job encountered an internal error" }];
    bigQuery.scriptLoads({ runningLooks: 2, errors });
    await expect(loadArchiveObject(sampleObject(), options())).rejects.toMatchObject({ name: "LoadJobFailedError", errors });
  });

  it("loads under new ids, and only the named days, for a rebuild", async () => {
    await loadArchiveObject(sampleObject(), options());
    const report = await loadArchiveObject(sampleObject(), options({ rebuildToken: "2026-12-05T10:00:00Z", onlyDays: new Set(["2026-01-06"]) }));
    expect(report.days).toEqual(["2026-01-06"]);
    expect(report.tables.map((load) => [load.table, load.status, load.jobId])).toEqual(
      ["pixel_acme_20260106", "pixel_globex_20260106"].map((table) => [table, "loaded", loadJobId(TEST_ARCHIVE_BUCKET, sampleObject().name, table, "2026-12-05T10:00:00Z")]),
    );
    expect(bigQuery.loadedRows("pixel_acme_20260106")).toHaveLength(2);
  });

  it("reads once more per group of tables when the store takes fewer uploads at once", async () => {
    const object = sampleObject();
    const report = await loadArchiveObject(object, options({ jobs: loadJobs(DEV_SETTINGS, 1) }));
    expect(object.opens).toBe(1 + 4);
    expect(report.tables.map((load) => load.status)).toEqual(Array(4).fill("loaded"));
    expect(allLoaded()).toHaveLength(6);
  });
});

describe("memory", () => {
  it("never reads far ahead of the slowest upload: rows wait in a short queue, not in memory", async () => {
    const entries = variedEntries(3_000).filter((_, index) => index % 17 !== 0);
    let linesRead = 0;
    const object: ArchiveObject = {
      bucket: TEST_ARCHIVE_BUCKET,
      name: "requests/large.json",
      size: 1,
      open: async () =>
        Readable.from(
          (function* () {
            for (const entry of entries) {
              linesRead++;
              yield `${JSON.stringify(entry)}\n`;
            }
          })(),
        ),
    };
    let linesReadAtSurvey = 0;
    let mostAhead = 0;
    const jobs = new Map<string, { done: boolean; errors: never[] }>();
    const slowStore: LoadJobs = {
      get: async (jobId) => jobs.get(jobId),
      wait: async (jobId) => jobs.get(jobId)!,
      async insert({ id, rows }) {
        let taken = 0;
        for await (const row of rows) {
          taken += row === "" ? 0 : 1;
          mostAhead = Math.max(mostAhead, linesRead - linesReadAtSurvey - taken);
          await new Promise(setImmediate);
        }
        jobs.set(id, { done: true, errors: [] });
        return jobs.get(id)!;
      },
    };
    const report = await loadArchiveObject(object, { ...options({}, PARTITIONED_SETTINGS), jobs: { ...slowStore, get: async (jobId) => ((linesReadAtSurvey = linesRead), slowStore.get(jobId)) } });
    expect(report.tables).toHaveLength(1);
    // The queue (at most twice 256 rows) and the stream's own buffer of 16 chunks, not the file's rows.
    expect(mostAhead).toBeGreaterThan(0);
    expect(mostAhead).toBeLessThan(600);
  });
});

describe("refusals", () => {
  const good = loadBalancerEntry({ insertId: "good-1", timestamp: "2026-01-05T10:00:00Z" });
  const notJson = "{not json";
  const favicon = loadBalancerEntry({ insertId: "favicon-1", httpRequest: { requestUrl: "https://track.example.com/favicon.ico" } });

  it("loads the good rows of a file with poison lines, and counts and logs each refusal as the collector does", async () => {
    const run = options();
    const report = await loadArchiveObject(archiveObject("requests/poison.json", `${JSON.stringify(good)}\n${notJson}\n\n${JSON.stringify(favicon)}\n${"x".repeat(2 * 1024 * 1024)}\n`), run);
    expect(report.entries).toBe(4);
    expect(report.refused).toEqual({ invalid_message: 2, other_path: 1 });
    expect(allLoaded().map(({ row }) => row.insert_id)).toHaveLength(1);

    const collectorLines: LogLine[] = [];
    await handlePixelMessage(pubSubMessage(favicon), { settings: DEV_SETTINGS, writer: { insert: async () => undefined }, log: (line) => collectorLines.push(line), policy: replayDelivery(1) });
    // The same line, naming the object where the collector names the Pub/Sub message.
    expect(run.lines[1]).toEqual({ ...collectorLines[0], messageId: undefined, object: report.object });
    expect(run.lines.map((line) => line.reason)).toEqual(["invalid_message", "other_path", "invalid_message"]);
    expect(run.lines[2].detail).toContain("2097152 bytes");
  });

  it(`logs the first ${REFUSAL_LINES_PER_OBJECT} refusals of an object one by one, then one line with the counts`, async () => {
    const run = options();
    const refusals = Array.from({ length: REFUSAL_LINES_PER_OBJECT + 50 }, (_, index) => ({ ...favicon, insertId: `favicon-${index}` }));
    const report = await loadArchiveObject(archiveObject("requests/favicons.json", ndjson([...refusals, good, notJson])), run);
    expect(report.refused).toEqual({ other_path: REFUSAL_LINES_PER_OBJECT + 50, invalid_message: 1 });
    expect(run.lines).toHaveLength(REFUSAL_LINES_PER_OBJECT + 1);
    expect(run.lines[REFUSAL_LINES_PER_OBJECT]).toMatchObject({ reason: "refusals_not_logged", object: report.object, refused: report.refused, detail: "other_path: 150, invalid_message: 1" });
    expect(allLoaded()).toHaveLength(1);
  });
});

describe("a poison object", () => {
  it("over the size bound is refused before it is read", async () => {
    const object = sampleObject();
    const failure = await loadArchiveObject(object, options({ maxObjectBytes: object.size - 1 })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PoisonObjectError);
    expect(failure).toMatchObject({ reason: "too_large", object: `gs://${TEST_ARCHIVE_BUCKET}/${object.name}` });
    expect(object.opens).toBe(0);
    expect(bigQuery.requests).toEqual([]);
  });

  it.each<[string, unknown, boolean]>([
    ["a 404 (gone)", new GoogleApiError(404, "not found"), true],
    ["a missing local file", Object.assign(new Error("ENOENT"), { code: "ENOENT" }), true],
    ["a 503", new GoogleApiError(503, "backend error"), false],
    ["a 403 (a grant missing, for now)", new GoogleApiError(403, "forbidden"), false],
    ["a reset connection", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), false],
  ])("that cannot be read with %s is poison only when no retry can read it", async (_, readError, poison) => {
    const object: ArchiveObject = { ...sampleObject(), open: () => Promise.reject(readError) };
    const failure = await loadArchiveObject(object, options()).catch((error: unknown) => error);
    if (poison) expect(failure).toMatchObject({ name: "PoisonObjectError", reason: "unreadable" });
    else expect(failure).toBe(readError);
  });

  it("creates no job when its read fails during an upload, and loads whole on the next delivery", async () => {
    const whole = sampleObject();
    const content = readFileSync(path.join(ARCHIVE_DIR, ARCHIVE_OBJECTS[0]));
    let reads = 0;
    const flaky: ArchiveObject = {
      ...whole,
      async open() {
        // The second read, the upload's, breaks off halfway through.
        if (++reads !== 2) return whole.open();
        return Readable.from(
          (async function* () {
            yield content.subarray(0, content.length / 2);
            throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
          })(),
        );
      },
    };
    await expect(loadArchiveObject(flaky, options())).rejects.toThrow("socket hang up");
    expect(bigQuery.loadJobs.size).toBe(0);
    const report = await loadArchiveObject(flaky, options());
    expect(report.tables.map((load) => load.status)).toEqual(Array(4).fill("loaded"));
    expect(allLoaded()).toHaveLength(6);
  });
});

/** Entries across tenants, days and browsers, with refusals among them, as a busy hour's file holds them. */
function variedEntries(count: number): unknown[] {
  const tenants = ["acme", "globex", "initech", "umbrella", "hooli", "soylent", "stark", "wayne", "tyrell", "cyberdyne"];
  const agents = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
  ];
  return Array.from({ length: count }, (_, index) =>
    loadBalancerEntry({
      insertId: `entry-${index}`,
      timestamp: `2026-01-0${5 + (index % 2)}T${String(index % 24).padStart(2, "0")}:1${index % 10}:00.${index}Z`,
      httpRequest: {
        requestUrl: index % 17 === 0 ? "https://track.example.com/favicon.ico" : pixelUrl(`user_id=${tenants[index % tenants.length]}&type=view&order_id=${index}&utm_source=news`),
        userAgent: agents[index % agents.length],
        remoteIp: `81.2.69.${index % 250}`,
        status: index % 13 === 0 ? 304 : 200,
      },
    }),
  );
}

/** What the collector streams for the same entries: the real handler and writer, with the real client, against insertAll. */
async function collectorRows(entries: readonly unknown[], settings: CoreSettings): Promise<{ table: string; insertId: string; row: unknown }[]> {
  const writer = bigQueryWriter(bigQuery.client().dataset("pixel_dev").table(insertTableName(settings.layout, settings.templateTable)), 10_000, settings.layout);
  for (const [index, entry] of entries.entries()) {
    await handlePixelMessage(pubSubMessage(entry, String(index)), { settings, writer, log: () => undefined, policy: replayDelivery(1) });
  }
  return bigQuery.requests
    .filter((request) => request.path.endsWith("/insertAll"))
    .flatMap((request) => {
      const body = request.body as { templateSuffix?: string; rows: { insertId: string; json: unknown }[] };
      const table = request.path.split("/")[8] + (body.templateSuffix ?? "");
      return body.rows.map((row) => ({ table, insertId: row.insertId, row: row.json }));
    });
}

describe.each<Layout>(["per-tenant-day", "partitioned"])("held to the collector, %s", (layout) => {
  const settings = layout === "partitioned" ? PARTITIONED_SETTINGS : DEV_SETTINGS;
  const byTableAndId = (a: { table: string; insertId: string }, b: { table: string; insertId: string }) => a.table.localeCompare(b.table) || a.insertId.localeCompare(b.insertId);

  it("loads, for the same entries, the rows the collector streams, column for column, insert ids included", async () => {
    const sample = ARCHIVE_OBJECTS.flatMap((object) => readFileSync(path.join(ARCHIVE_DIR, object), "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as unknown));
    const entries = [...sample, ...variedEntries(300)];
    const streamed = await collectorRows(entries, settings);
    bigQuery.reset();

    const report = await loadArchiveObject(archiveObject("requests/2026/01/05/10:00:00_10:59:59_S0.json", ndjson(entries)), options({}, settings));
    const loaded = allLoaded().map(({ table, row }) => ({ table, insertId: row.insert_id as string, row }));
    expect(streamed.length).toBeGreaterThan(250);
    expect(loaded.sort(byTableAndId)).toEqual(streamed.sort(byTableAndId));
    // The collector's insertId, BigQuery's dedup key, is the row's insert_id column.
    for (const { insertId, row } of streamed) expect((row as { insert_id: string }).insert_id).toBe(insertId);
    expect(report.tables.map((load) => load.table).sort()).toEqual([...new Set(streamed.map((row) => row.table))].sort());
    if (layout === "partitioned") expect(report.tables.map((load) => load.table)).toEqual([PARTITIONED_TABLE]);
    else expect(report.tables.length).toBeGreaterThan(8);
  });

  it("loads each sample archive file as replay reads it", async () => {
    const reports = [];
    for (const name of ARCHIVE_OBJECTS) reports.push(await loadArchiveObject(sampleArchiveObject(name), options({}, settings)));
    expect(reports.reduce((sum, report) => sum + report.entries, 0)).toBe(11);
    expect(allLoaded()).toHaveLength(6);
  });
});

import * as path from "node:path";
import { listArchive } from "../../cli/archiveSource";
import type { ArchiveFile } from "../../cli/archiveSource";
import { archiveBucketName, archiveObject, newRebuildToken, replayThroughLoader } from "../../cli/batchReplay";
import type { LoaderReplaySummary } from "../../cli/batchReplay";
import { formatLoaderSummary } from "../../cli/replay";
import { bigQueryLoaderTarget, localLoaderTarget } from "../../cli/replayTargets";
import type { LoaderTarget } from "../../cli/replayTargets";
import { loadJobId } from "../../core/batchLoad";
import type { CoreSettings } from "../../core/config/coreSettings";
import { storedRow, storedTableName } from "../../core/layout";
import { LocalDatabase } from "../../local/database";
import { ARCHIVE_DIR, ARCHIVE_OBJECTS, ARCHIVE_REFUSALS_BY_REASON } from "../../testkit/archiveSample";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { freshDirectoryEachTest } from "../../testkit/localPipeline";
import { runScript } from "../../testkit/runScript";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";

jest.setTimeout(120_000);

const BUCKET = "pixel-archive-x1";

async function archiveObjects() {
  const files = await listArchive([ARCHIVE_DIR], () => {
    throw new Error("a local directory needs no Cloud Storage");
  });
  return files.map((file) => archiveObject(file, BUCKET));
}

function file(name: string): ArchiveFile {
  return { name, size: 1, open: () => Promise.reject(new Error("not read")) };
}

describe("archiveObject", () => {
  it.each([
    ["gs://pixel-archive-x1/requests/2026/01/05/23:00:00_23:59:59_S0.json", undefined, { bucket: BUCKET, name: "requests/2026/01/05/23:00:00_23:59:59_S0.json" }],
    ["/copy/archive/requests/2026/01/05/23:00:00_23:59:59_S0.json", BUCKET, { bucket: BUCKET, name: "requests/2026/01/05/23:00:00_23:59:59_S0.json" }],
    ["/home/me/.data/spool/00000003.ndjson", undefined, { bucket: "local-spool", name: "00000003.ndjson" }],
  ])("%s in %s is %j: the deployed loader's object, so the job ids match", (name, bucket, expected) => {
    expect(archiveObject(file(name), bucket)).toMatchObject(expected);
  });

  it.each([
    ["/copy/archive/requests/2026/01/05/23:00:00_23:59:59_S0.json", undefined, "pass --archive-bucket with the bucket it was copied from"],
    ["/copy/2026/01/05/23:00:00_23:59:59_S0.json", BUCKET, "is neither under a requests/ folder"],
  ])("refuses %s without a name for it", (name, bucket, message) => {
    expect(() => archiveObject(file(name), bucket)).toThrow(message);
  });

  it.each([
    ["gs://pixel-archive-x1", BUCKET],
    ["pixel-archive-x1", BUCKET],
  ])("--archive-bucket %s is %s", (text, bucket) => {
    expect(archiveBucketName(text)).toBe(bucket);
  });

  it("refuses an --archive-bucket with a path", () => {
    expect(() => archiveBucketName("gs://pixel-archive-x1/requests")).toThrow("--archive-bucket takes a bucket");
  });
});

it("refuses --rebuild for a streaming stack, whose replays keep each row's insertId", async () => {
  const result = await runScript("cli/replay.ts", ["--stack", "dev", "--rebuild", "2026-01-05", ARCHIVE_DIR]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("--rebuild and --archive-bucket are for stacks with ingest batch");
});

it("gives every rebuild a token of its own", () => {
  const now = new Date("2026-01-07T10:00:00Z");
  expect(newRebuildToken(now)).toMatch(/^20260107T100000000Z_[0-9a-f]{8}$/);
  expect(newRebuildToken(now)).not.toBe(newRebuildToken(now));
});

describe("into the local DuckDB file", () => {
  const local = freshDirectoryEachTest();

  async function withTarget<T>(settings: CoreSettings, work: (target: LoaderTarget) => Promise<T>): Promise<T> {
    const target = await localLoaderTarget(path.join(local.dir, "pixel.duckdb"), settings);
    try {
      return await work(target);
    } finally {
      await target.close();
    }
  }

  async function rows(settings: CoreSettings): Promise<{ tenant: string; event_date: string; n: number }[]> {
    const database = await LocalDatabase.open(path.join(local.dir, "pixel.duckdb"), settings);
    try {
      const [result] = await database.read([
        { sql: "SELECT tenant, CAST(event_date AS VARCHAR) AS event_date, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL" },
      ]);
      return result as { tenant: string; event_date: string; n: number }[];
    } finally {
      database.close();
    }
  }

  const replay = async (settings: CoreSettings, rebuild?: { token: string; days: string[] }): Promise<LoaderReplaySummary> =>
    withTarget(settings, async (target) => replayThroughLoader({ objects: await archiveObjects(), settings, jobs: target.jobs, ...(rebuild ? { rebuild: { ...rebuild, tablesOfDay: (day) => target.tablesOfDay(day) } } : {}) }));

  const ARCHIVE_ROWS = [
    { tenant: "acme", event_date: "2026-01-05", n: 2 },
    { tenant: "acme", event_date: "2026-01-06", n: 1 },
    { tenant: "globex", event_date: "2026-01-05", n: 1 },
    { tenant: "globex", event_date: "2026-01-06", n: 1 },
  ];

  it("loads the same files twice once: the second replay finds every job done and loads nothing", async () => {
    const first = await replay(DEV_SETTINGS);
    expect(first).toMatchObject({ files: 3, entries: 11, emptied: [] });
    expect(Object.fromEntries(first.refused)).toEqual(ARCHIVE_REFUSALS_BY_REASON);
    expect(Object.fromEntries(first.loaded)).toEqual({ pixel_acme_20260105: 2, pixel_acme_20260106: 1, pixel_globex_20260105: 1, pixel_globex_20260106: 1 });
    expect([...first.days].sort()).toEqual(["2026-01-05", "2026-01-06"]);
    expect(await rows(DEV_SETTINGS)).toEqual(ARCHIVE_ROWS);

    const second = await replay(DEV_SETTINGS);
    expect(second.loaded.size).toBe(0);
    expect(formatLoaderSummary(second, "pixel.duckdb")).toContain(
      "3 file(s), 11 log entries, 5 refused; loaded through the batch loader into pixel.duckdb\nrows loaded before under the same job ids (nothing loaded again), by table:\n  pixel_acme_20260105",
    );
    expect([...second.alreadyLoaded.keys()].sort()).toEqual(["pixel_acme_20260105", "pixel_acme_20260106", "pixel_globex_20260105", "pixel_globex_20260106"]);
    expect(await rows(DEV_SETTINGS)).toEqual(ARCHIVE_ROWS);
    // The ids are the deployed loader's: bucket, object name and table.
    const jobs = await withTarget(DEV_SETTINGS, (target) => target.jobs.get(loadJobId(BUCKET, ARCHIVE_OBJECTS[0], "pixel_acme_20260105")));
    expect(jobs).toMatchObject({ done: true, errors: [] });
  });

  it.each(["per-tenant-day", "partitioned"] as const)("--rebuild replaces the day's rows rather than adding to them (%s), under new ids, and leaves other days", async (layout) => {
    const settings = { ...DEV_SETTINGS, layout };
    await replay(settings);
    // A tenant the files have no rows for any more (an allowlist that dropped it), stored before.
    const stale = { tenant: "initech", event_date: "2026-01-05", n: 1 };
    const event = acceptedEvent(loadBalancerEntry({ insertId: "stale", timestamp: "2026-01-05T08:00:00Z", httpRequest: { requestUrl: pixelUrl("user_id=initech") } }), settings);
    const table = storedTableName(layout, settings.templateTable, event.tableSuffix);
    await withTarget(settings, (target) => target.jobs.insert({ id: "stale", table, rows: (async function* () { yield JSON.stringify(storedRow(layout, event)); })() }));
    expect(await rows(settings)).toContainEqual(stale);

    for (const token of ["first", "second"]) {
      const summary = await replay(settings, { token, days: ["2026-01-05"] });
      expect(Object.fromEntries(summary.loaded)).toEqual(layout === "partitioned" ? { events_partitioned: 3 } : { pixel_acme_20260105: 2, pixel_globex_20260105: 1 });
      expect(summary.alreadyLoaded.size).toBe(0);
      expect(await rows(settings)).toEqual(ARCHIVE_ROWS);
    }
    const rebuilt = await withTarget(settings, (target) => target.jobs.get(loadJobId(BUCKET, ARCHIVE_OBJECTS[0], layout === "partitioned" ? "events_partitioned" : "pixel_acme_20260105", "second")));
    expect(rebuilt).toMatchObject({ done: true, errors: [] });
  });
});

describe("into BigQuery", () => {
  const bigQuery = new BigQueryStandIn();
  beforeAll(() => bigQuery.start());
  afterAll(() => bigQuery.stop());
  beforeEach(() => bigQuery.reset());
  const target = (settings: CoreSettings) => bigQueryLoaderTarget(bigQuery.client(), settings, "test-project", "pixel_dev", () => undefined);

  it("loads the same files twice once, with one load job per file and table, and recomputes the rollups of the days loaded", async () => {
    const loaderTarget = target(DEV_SETTINGS);
    const first = await replayThroughLoader({ objects: await archiveObjects(), settings: DEV_SETTINGS, jobs: loaderTarget.jobs });
    // One job per file and table it has rows for; a load job keeps the entry the sink wrote twice, which events_dedup removes.
    expect(bigQuery.loadJobs.size).toBe(4);
    expect(bigQuery.loadedRows("pixel_acme_20260105")).toHaveLength(3);
    const second = await replayThroughLoader({ objects: await archiveObjects(), settings: DEV_SETTINGS, jobs: loaderTarget.jobs });
    expect(second.loaded.size).toBe(0);
    expect(bigQuery.loadJobs.size).toBe(4);
    expect(bigQuery.loadedRows("pixel_acme_20260105")).toHaveLength(3);

    expect(await loaderTarget.rollUp(first.days)).toBe("recomputed 2 day(s) of rollups in BigQuery test-project.pixel_dev: 0 rollup rows written");
    expect(bigQuery.queries).toHaveLength(2);
    expect(bigQuery.queries[0]).toContain("DECLARE _first_day DATE DEFAULT DATE '2026-01-05'");
  });

  it("rebuilds a partitioned day by replacing its partition with the first job and appending the later files' rows, under new ids", async () => {
    const settings = { ...DEV_SETTINGS, layout: "partitioned" as const };
    const loaderTarget = target(settings);
    const objects = await archiveObjects();
    await replayThroughLoader({ objects, settings, jobs: loaderTarget.jobs });
    // Entries of the 5th that reached the sink late, filed among the 6th's files.
    const late = { ...objects[0], name: "requests/2026/01/06/00:00:00_00:59:59_A0.json" };
    const summary = await replayThroughLoader({
      objects: [...objects, late],
      settings,
      jobs: loaderTarget.jobs,
      rebuild: { token: "t1", days: ["2026-01-05"], tablesOfDay: (day) => loaderTarget.tablesOfDay(day) },
    });
    expect(Object.fromEntries(summary.loaded)).toEqual({ events_partitioned: 8 });
    expect(summary.emptied).toEqual([]);
    const rebuildJobs = [...bigQuery.loadJobs.values()].filter((job) => job.jobId.startsWith("pixel_rebuild_"));
    expect(rebuildJobs.map((job) => [job.jobId, job.table, job.configuration.load.writeDisposition])).toEqual([
      [loadJobId(BUCKET, objects[0].name, "events_partitioned", "t1"), "events_partitioned$20260105", "WRITE_TRUNCATE"],
      [loadJobId(BUCKET, late.name, "events_partitioned", "t1"), "events_partitioned$20260105", "WRITE_APPEND"],
    ]);
    expect(bigQuery.loadedRows("events_partitioned$20260105")).toHaveLength(8);
  });
});

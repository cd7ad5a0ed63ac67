import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { CoreSettings } from "../../core/config/coreSettings";
import { storedRow, storedTableName } from "../../core/layout";
import { LoadJobExistsError } from "../../functions/archiveLoader";
import type { LoadJobs } from "../../functions/archiveLoader";
import { LocalDatabase } from "../../local/database";
import { duckDbLoadJobs, localLoadTarget } from "../../local/duckdbLoads";
import { freshDirectoryEachTest } from "../../testkit/localPipeline";
import { acceptedEvent, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { settingsFor } from "../../testkit/settings";
import { captureOutput } from "../../testkit/waitForLine";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

/** A stored row of one pixel, as the batch loader sends it: JSON of storedRow(layout, event), with its table. */
function storedPixel(settings: CoreSettings, order: number, tenant: string, timestamp: string) {
  const event = acceptedEvent(loadBalancerEntry({ insertId: `entry-${order}`, timestamp, httpRequest: { requestUrl: pixelUrl(`user_id=${tenant}&order_id=${order}`) } }), settings);
  return { table: storedTableName(settings.layout, settings.templateTable, event.tableSuffix), text: JSON.stringify(storedRow(settings.layout, event)) };
}

async function* lines(texts: readonly string[]): AsyncIterable<string> {
  yield* texts;
}

async function withDatabase<T>(settings: CoreSettings, work: (jobs: LoadJobs, database: LocalDatabase) => Promise<T>): Promise<T> {
  const database = await LocalDatabase.open(path.join(local.dir, "pixel.duckdb"), settings);
  try {
    return await work(duckDbLoadJobs(database, settings.templateTable), database);
  } finally {
    database.close();
  }
}

async function count(database: LocalDatabase, sql: string): Promise<number> {
  const [[row]] = await database.read([{ sql }]);
  return Number(Object.values(row)[0]);
}

describe("localLoadTarget", () => {
  it.each([
    ["pixel_acme_20260105", { kind: "day-table", tenant: "acme", day: "2026-01-05" }],
    ["events_partitioned", { kind: "partitioned" }],
    ["events_partitioned$20260105", { kind: "partitioned", day: "2026-01-05" }],
  ])("%s is %j", (table, target) => {
    expect(localLoadTarget(table, "pixel")).toEqual(target);
  });

  it.each(["pixel", "events", "events_partitioned$2026", "other_acme_20260105"])("refuses %s, naming the tables a job writes", (table) => {
    expect(() => localLoadTarget(table, "pixel")).toThrow("pixel_<tenant>_<YYYYMMDD>, events_partitioned or events_partitioned$YYYYMMDD");
  });
});

describe.each(["per-tenant-day", "partitioned"] as const)("DuckDB load jobs, %s", (layout) => {
  const settings = settingsFor({ layout });
  const rows = [storedPixel(settings, 1, "acme", "2026-01-05T10:00:00Z"), storedPixel(settings, 2, "acme", "2026-01-05T11:00:00Z")];
  const table = rows[0].table;

  it("runs a job id once: its rows and its record commit together, and a second insert is LoadJobExistsError", async () => {
    await withDatabase(settings, async (jobs, database) => {
      expect(await jobs.get("job-1")).toBeUndefined();
      // The same entry twice in one job is one row, as the streaming loader stores it.
      expect(await jobs.insert({ id: "job-1", table, rows: lines([rows[0].text, rows[1].text, rows[0].text]) })).toEqual({ done: true, errors: [], outputRows: 2 });
      expect(await jobs.get("job-1")).toEqual({ done: true, errors: [], outputRows: 2 });
      expect(await jobs.wait("job-1")).toEqual({ done: true, errors: [], outputRows: 2 });
      await expect(jobs.insert({ id: "job-1", table, rows: lines([storedPixel(settings, 3, "acme", "2026-01-05T12:00:00Z").text]) })).rejects.toBeInstanceOf(LoadJobExistsError);
      expect(await count(database, "SELECT count(*) FROM events")).toBe(2);
      // Another job with the same rows stores nothing new: insert_id is the key, as for the streaming loader.
      expect(await jobs.insert({ id: "job-2", table, rows: lines([rows[0].text]) })).toEqual({ done: true, errors: [], outputRows: 0 });
      expect(await count(database, "SELECT count(*) FROM events")).toBe(2);
    });
  });

  it("stores nothing of a job whose row DuckDB refuses, and records it done with the error", async () => {
    await withDatabase(settings, async (jobs, database) => {
      const refused = JSON.stringify({ ...JSON.parse(rows[1].text), order_id: "not a number" });
      const state = await jobs.insert({ id: "bad", table, rows: lines([rows[0].text, refused]) });
      expect(state).toEqual({ done: true, errors: [{ reason: "invalid", message: expect.stringContaining("Conversion Error") }], outputRows: 0 });
      expect(await jobs.get("bad")).toEqual(state);
      expect(await count(database, "SELECT count(*) FROM events")).toBe(0);
    });
  });

  it("records nothing when its rows cannot be read to the end, so the same id loads later", async () => {
    await withDatabase(settings, async (jobs, database) => {
      async function* cutOff(): AsyncIterable<string> {
        yield rows[0].text;
        throw new Error("the archive object could not be read");
      }
      await expect(jobs.insert({ id: "job-1", table, rows: cutOff() })).rejects.toThrow("could not be read");
      expect(await jobs.get("job-1")).toBeUndefined();
      expect(await count(database, "SELECT count(*) FROM events")).toBe(0);
      expect(await jobs.insert({ id: "job-1", table, rows: lines(rows.map((row) => row.text)) })).toMatchObject({ errors: [], outputRows: 2 });
    });
  });

  it("replaces the day's rows (a day table's tenant, or the partition) with replace", async () => {
    const globex = storedPixel(settings, 4, "globex", "2026-01-05T10:00:00Z");
    const nextDay = storedPixel(settings, 9, "acme", "2026-01-06T10:00:00Z");
    await withDatabase(settings, async (jobs, database) => {
      for (const [index, row] of [...rows, globex, nextDay].entries()) await jobs.insert({ id: `load-${index}`, table: row.table, rows: lines([row.text]) });
      const rebuilt = storedPixel(settings, 5, "acme", "2026-01-05T15:00:00Z");
      const rebuildTable = layout === "partitioned" ? "events_partitioned$20260105" : table;
      await jobs.insert({ id: "rebuild", table: rebuildTable, rows: lines([rebuilt.text]), replace: true });
      const kept = await database.read([{ sql: "SELECT order_id FROM events ORDER BY order_id" }]);
      // A day table holds acme's day only (globex's order 4 stays); a partition holds every tenant's.
      expect(kept[0].map((row) => row.order_id)).toEqual(layout === "partitioned" ? [5, 9] : [4, 5, 9]);
    });
  });
});

it("a job killed in its transaction leaves neither its rows nor its record, and loads whole under the same id after", async () => {
  const settings = settingsFor();
  const file = path.join(local.dir, "pixel.duckdb");
  const rows = Array.from({ length: 1500 }, (_, index) => storedPixel(settings, index, "acme", "2026-01-05T10:00:00Z").text);
  const rowsFile = path.join(local.dir, "rows.ndjson");
  await writeFile(rowsFile, rows.join("\n"));
  // A process that opens the file, sends a first chunk of rows into a job's transaction (LocalDatabase.loadJob, which the
  // load jobs run once they have an object's rows), and then waits: killed there.
  const script = `
    const { readFileSync } = require("node:fs");
    const { LocalDatabase } = require("./local/database");
    const { settingsFor } = require("./testkit/settings");
    (async () => {
      const settings = settingsFor();
      const database = await LocalDatabase.open(${JSON.stringify(file)}, settings);
      async function* rows() {
        for (const [index, text] of readFileSync(${JSON.stringify(rowsFile)}, "utf8").split("\\n").entries()) {
          if (index === 1000) { console.log("1000 rows sent"); await new Promise(() => undefined); }
          yield text;
        }
      }
      await database.loadJob({ id: "crash", table: "pixel_acme_20260105", target: { kind: "day-table", tenant: "acme", day: "2026-01-05" }, rows: rows(), replace: false });
    })();`;
  const child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), "-e", script], { cwd: path.join(__dirname, "..", "..") });
  const output = captureOutput(child);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await output.waitFor(/1000 rows sent/, 60_000);
  child.kill("SIGKILL");
  await exited;

  await withDatabase(settings, async (jobs, database) => {
    expect(await jobs.get("crash")).toBeUndefined();
    expect(await count(database, "SELECT count(*) FROM events")).toBe(0);
    expect(await jobs.insert({ id: "crash", table: "pixel_acme_20260105", rows: lines(rows) })).toMatchObject({ errors: [], outputRows: 1500 });
    expect(await count(database, "SELECT count(*) FROM events")).toBe(1500);
  });
});

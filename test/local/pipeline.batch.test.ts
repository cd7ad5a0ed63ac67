import * as path from "node:path";
import { LocalDatabase } from "../../local/database";
import { SPOOL_START } from "../../local/spool";
import { countRows, freshDirectoryEachTest, httpRequest, query, waitFor } from "../../testkit/localPipeline";
import { DEV_SETTINGS } from "../../testkit/logEntries";

jest.setTimeout(180_000);

const local = freshDirectoryEachTest();

const BATCH = ["--ingest", "batch", "--segment-seconds", "1"];

async function sendPixels(url: string, orders: readonly number[]): Promise<number[]> {
  return Promise.all(orders.map(async (order) => (await httpRequest(`${url}pixel.png?user_id=acme&order_id=${order}`)).status));
}

async function loadJobs(): Promise<{ jobs: number; failed: number }> {
  const [row] = await query(local.dir, `SELECT count(*) AS jobs, count(errors) AS failed FROM load_jobs`);
  return { jobs: Number(row.jobs), failed: Number(row.failed) };
}

describe("npm start -- --ingest batch", () => {
  it("loads each finished spool segment whole through load jobs, the last one on stop, and a segment offered again loads nothing twice", async () => {
    const server = await local.spawnServer({ args: BATCH });
    await server.waitForOutput(/batch ingest: a spool segment is loaded once it is 1 s old or holds 8 MB/);
    expect(await sendPixels(server.url, [1, 2, 3])).toEqual([200, 200, 200]);
    // Refused as the collector refuses it, and logged by the loader as the cloud's batch loader logs it.
    expect((await httpRequest(`${server.url}pixel.png?order_id=4`)).status).toBe(200);
    // The segment is finished a second after its first line, then loaded: no row before that.
    expect(await waitFor(() => countRows(local.dir), (rows) => rows === 3)).toBe(3);
    await server.waitForOutput(/"reason":"missing_tenant"/);
    expect(await query(local.dir, `SELECT order_id, tenant FROM events ORDER BY order_id`)).toEqual(["1", "2", "3"].map((order) => ({ order_id: order, tenant: "acme" })));
    // The day's rollups follow the segment's rows, before its checkpoint.
    const totals = () => query(local.dir, `SELECT sum(events) AS events FROM daily_totals WHERE tenant = 'acme'`);
    expect(await waitFor(totals, ([row]) => row.events === 3)).toEqual([{ events: 3 }]);

    // Answered before the stop: the last segment is finished by the stop and loaded before the server exits.
    expect(await sendPixels(server.url, [5, 6])).toEqual([200, 200]);
    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(await countRows(local.dir)).toBe(5);
    expect(await totals()).toEqual([{ events: 5 }]);
    const loaded = await loadJobs();
    expect(loaded.jobs).toBeGreaterThanOrEqual(2);
    expect(loaded.failed).toBe(0);

    // As if the checkpoint had not committed after the segments' jobs (a crash between the two): every segment is offered again.
    const database = await LocalDatabase.open(path.join(local.dir, "pixel.duckdb"), DEV_SETTINGS);
    await database.commit({ events: [], refusals: [] }, SPOOL_START);
    database.close();
    const restarted = await local.spawnServer({ args: BATCH });
    await restarted.waitForOutput(/loaded 6 log entries spooled by the previous run/);
    expect(await countRows(local.dir)).toBe(5);
    expect(await loadJobs()).toEqual(loaded);
    restarted.child.kill("SIGTERM");
    expect(await restarted.exited).toEqual({ code: 0, signal: null });

    // Streaming again, from where batch left the checkpoint: nothing is loaded twice.
    const streaming = await local.spawnServer();
    expect(await sendPixels(streaming.url, [7])).toEqual([200]);
    expect(await waitFor(() => countRows(local.dir), (rows) => rows === 6)).toBe(6);
    streaming.child.kill("SIGTERM");
    expect(await streaming.exited).toEqual({ code: 0, signal: null });
    expect(await countRows(local.dir)).toBe(6);
  });

  it("loads, at the next start, the segment a killed server was appending to", async () => {
    const server = await local.spawnServer({ args: [...BATCH.slice(0, 2), "--segment-seconds", "3600"] });
    expect(await sendPixels(server.url, [1, 2])).toEqual([200, 200]);
    server.child.kill("SIGKILL");
    await server.exited;
    const restarted = await local.spawnServer({ args: BATCH });
    await restarted.waitForOutput(/loaded 2 log entries spooled by the previous run/);
    expect(await countRows(local.dir)).toBe(2);
  });

  it.each([
    [["--ingest", "bulk"], "--ingest (or PIXEL_INGEST) must be streaming or batch"],
    [["--segment-seconds", "5"], "--segment-seconds and --segment-mb are for --ingest batch"],
    [["--ingest", "batch", "--segment-seconds", "0"], "--segment-seconds (or PIXEL_SEGMENT_SECONDS) must be a whole number from 1 to 86400"],
    [["--ingest", "batch", "--segment-mb", "129"], "--segment-mb (or PIXEL_SEGMENT_MB) must be a whole number from 1 to 128"],
  ])("refuses %j, saying why", async (args, message) => {
    const server = local.spawnServer({ args, timeoutMs: 30_000 });
    await expect(server).rejects.toThrow(message);
  });
});

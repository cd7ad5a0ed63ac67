import * as path from "node:path";
import { LOADER_DATA_LIMIT_BYTES, LoaderProcess } from "../../local/loaderProcess";
import { SpoolWriter } from "../../local/spool";
import { DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";
import { countRows, freshDirectoryEachTest, httpRequest, waitFor } from "../../testkit/localPipeline";
import type { TestPipeline } from "../../testkit/localPipeline";
import { loaderPids, resourceLimits, threadNiceness } from "../../testkit/processes";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

async function pixels(pipeline: TestPipeline, from: number, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let index = from; index < from + count; index++) {
    statuses.push((await httpRequest(`${pipeline.pixelUrl}?user_id=acme&order_id=${index}`)).status);
  }
  return statuses;
}

it("loads in a process of its own, every thread of it at the lowest priority, which the front end stops with itself", async () => {
  const pipeline = await local.startPipeline();
  const [loader] = loaderPids(process.pid);
  expect(loader).toBeDefined();

  expect(await pixels(pipeline, 0, 3)).toEqual([200, 200, 200]);
  // Once it has loaded: DuckDB's threads and libuv's are running too.
  expect(await waitFor(() => countRows(local.dir), (rows) => rows === 3)).toBe(3);
  const threads = threadNiceness(loader);
  expect(threads.length).toBeGreaterThan(4);
  expect(new Set(threads)).toEqual(new Set([19]));
  expect(threadNiceness(process.pid)).not.toContain(19);

  await local.stopPipeline();
  expect(await waitFor(async () => loaderPids(process.pid), (pids) => pids.length === 0, 10_000)).toEqual([]);
  expect(await countRows(local.dir)).toBe(3);
});

it("runs its loader's process under a data limit and without core files, and it loads under them", async () => {
  const pipeline = await local.startPipeline();
  const [loader] = loaderPids(process.pid);
  expect(resourceLimits(loader, "Max data size")).toEqual([String(LOADER_DATA_LIMIT_BYTES), String(LOADER_DATA_LIMIT_BYTES)]);
  expect(resourceLimits(loader, "Max core file size")).toEqual(["0", "0"]);
  // The front end keeps its own limits: only the process that runs queries is bounded.
  expect(resourceLimits(process.pid, "Max data size")).not.toEqual(resourceLimits(loader, "Max data size"));
  expect(await pixels(pipeline, 0, 3)).toEqual([200, 200, 200]);
  expect(await waitFor(() => countRows(local.dir), (rows) => rows === 3)).toBe(3);
});

it("answers pixels while its loader's process is down, and a new one loads them from the checkpoint", async () => {
  const pipeline = await local.startPipeline();
  expect(await pixels(pipeline, 0, 2)).toEqual([200, 200]);
  expect(await waitFor(() => countRows(local.dir), (rows) => rows === 2)).toBe(2);

  const [crashed] = loaderPids(process.pid);
  process.kill(crashed, "SIGKILL");
  // Logged to the spool and answered, whether or not anything loads them yet.
  expect(await pixels(pipeline, 2, 3)).toEqual([200, 200, 200]);

  // Until the new process has the database, queries get a 503.
  expect(await waitFor(() => countRows(local.dir).catch(() => -1), (rows) => rows === 5)).toBe(5);
  expect(loaderPids(process.pid)).not.toContain(crashed);
  expect(pipeline.warnings).toContainEqual(expect.stringContaining("the loader's process exited (SIGKILL); a new one starts"));
  expect(await countRows(local.dir, "CAST(order_id AS INTEGER) BETWEEN 0 AND 4")).toBe(5);
});

it("looks up countries in its own process, and keeps the visitor key the front end read", async () => {
  // The front end's settings carry a country table, which cannot cross to the process: it loads its own.
  expect(DEV_SETTINGS.countries).toBeDefined();
  const spoolDir = path.join(local.dir, "spool");
  const spool = await SpoolWriter.open(spoolDir);
  await spool.append(JSON.stringify(loadBalancerEntry({ httpRequest: { remoteIp: "89.160.20.112:52000" } })));
  const loader = await LoaderProcess.start({ settings: DEV_SETTINGS, database: path.join(local.dir, "pixel.duckdb"), spoolDir, log: () => undefined, warn: () => undefined });
  try {
    expect(await loader.drain(spool.durableEnd)).toBe(1);
    expect(await loader.read([{ sql: "SELECT country, visitor_id IS NOT NULL AS has_visitor FROM events" }])).toEqual([[{ country: "SE", has_visitor: true }]]);
  } finally {
    await loader.close();
    await spool.close();
  }
});

// The batch loader's memory on a large archive object: the engine (functions/archiveLoader.ts)
// loads a generated file of a million log entries into a store that only counts what it is sent,
// in a process of its own, and its peak RSS is set against a process that only reads the same
// file through the core (the floor: what any reader of the file costs). The file is generated as
// it is read, never held, so the file's own size does not count on either side.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { loadCountryTable } from "../assets/countryTable";
import { readStack } from "../cli/stackFile";
import { boundedLines } from "../core/archiveLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import { parseEntryLine } from "../core/event";
import { VISITOR_KEY_VARIABLE } from "../core/functionContract";
import type { Layout } from "../core/layout";
import { loadArchiveObject } from "../functions/archiveLoader";
import { bigQueryLoadJobs } from "../functions/bigqueryLoads";
import { storedSchema } from "../core/layout";
import { BigQueryStandIn, standInClient } from "../testkit/bigQueryStandIn";
import type { ArchiveObject, LoadJobs, LoadJobState } from "../functions/archiveLoader";
import { seededRandom } from "../testkit/seededRandom";
import { corpusEntry } from "./corpus";

/** Tenants of the per-tenant-day run: two groups of eight day tables, so three reads of the file. */
const PER_TENANT_DAY_TENANTS = 16;

export interface ArchiveLoadRun {
  readonly entries: number;
  readonly objectBytes: number;
  readonly rows: number;
  readonly tables: number;
  readonly reads: number;
  readonly peakRssBytes: number;
  readonly seconds: number;
  /** CPU time (user and system): on a shared machine a steadier figure than the wall clock. */
  readonly cpuSeconds: number;
}

export interface ArchiveLoadMemory {
  readonly layout: Layout;
  readonly engine: ArchiveLoadRun;
  readonly floor: ArchiveLoadRun;
  /** The engine with the real BigQuery client, uploading to the loopback stand-in (in the parent process). */
  readonly bigQuery?: ArchiveLoadRun;
}

type Mode = "engine" | "floor" | "bigquery";

/** Where the child finds the parent's BigQuery stand-in. */
const STAND_IN_VARIABLE = "BENCH_BIGQUERY_ENDPOINT";

/**
 * The hour's file as the sink writes it: the bench corpus's entries (200 tenants, browsers, bots,
 * refusals), all on one day as an hourly file's are; for per-tenant-day, folded onto 16 tenants so
 * the run takes three reads rather than twenty-six.
 */
function generatedObject(entries: number, layout: Layout): ArchiveObject {
  const linesOf = function* (): Generator<Buffer> {
    const next = seededRandom(42);
    let piece = "";
    for (let index = 0; index < entries; index++) {
      const entry = corpusEntry(index, next) as { timestamp: string; httpRequest: { requestUrl: string } };
      entry.timestamp = entry.timestamp.replace(/^2026-11-\d\d/, "2026-11-05");
      if (layout === "per-tenant-day") entry.httpRequest.requestUrl = entry.httpRequest.requestUrl.replace(/tenant-(\d+)/, (_, tenant: string) => `tenant-${Number(tenant) % PER_TENANT_DAY_TENANTS}`);
      piece += `${JSON.stringify(entry)}\n`;
      if (piece.length >= 64 * 1024) {
        yield Buffer.from(piece);
        piece = "";
      }
    }
    if (piece !== "") yield Buffer.from(piece);
  };
  let size = 0;
  for (const chunk of linesOf()) size += chunk.length;
  return { bucket: "bench-archive", name: "requests/2026/11/05/12:00:00_12:59:59_S0.json", generation: "1", size, open: async () => Readable.from(linesOf()) };
}

/** A store that reads every row it is sent and keeps only counts, so the engine's memory is all that is measured. */
function countingJobs(): LoadJobs & { readonly rows: () => number } {
  const jobs = new Map<string, LoadJobState>();
  let rows = 0;
  return {
    rows: () => rows,
    async get(jobId) {
      return jobs.get(jobId);
    },
    async insert({ id, rows: sent }) {
      let count = 0;
      for await (const row of sent) if (row.length > 0) count++;
      rows += count;
      const state = { done: true, errors: [], outputRows: count };
      jobs.set(id, state);
      return state;
    },
    async wait(jobId) {
      return jobs.get(jobId)!;
    },
  };
}

function benchSettings(layout: Layout): CoreSettings {
  const stack = readStack("dev", undefined, { [VISITOR_KEY_VARIABLE]: randomBytes(32).toString("base64") });
  return { ...stack.settings, layout, countries: loadCountryTable() };
}

/** Runs in the child: one load (or one plain read, the floor), then its figures as one JSON line. */
async function child(mode: Mode, entries: number, layout: Layout): Promise<ArchiveLoadRun> {
  const settings = benchSettings(layout);
  const generated = generatedObject(entries, layout);
  let reads = 0;
  const object: ArchiveObject = { ...generated, open: () => (reads++, generated.open()) };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let rows = 0;
  let tables = 0;
  if (mode === "engine") {
    const jobs = countingJobs();
    const report = await loadArchiveObject(object, { settings, jobs, log: () => undefined, maxObjectBytes: Infinity });
    rows = jobs.rows();
    tables = report.tables.length;
  } else if (mode === "bigquery") {
    const jobs = bigQueryLoadJobs(standInClient(process.env[STAND_IN_VARIABLE]!), "bench", () => storedSchema(layout, settings.attributes), { pollIntervalMs: 10 });
    const report = await loadArchiveObject(object, { settings, jobs, log: () => undefined, maxObjectBytes: Infinity });
    rows = report.tables.reduce((sum, load) => sum + load.rows, 0);
    tables = report.tables.length;
  } else {
    const seen = new Set<string>();
    for await (const line of boundedLines(await object.open())) {
      if (typeof line !== "string") continue;
      const result = parseEntryLine(line, settings);
      if (!result.ok) continue;
      rows++;
      seen.add(result.tableSuffix);
    }
    tables = layout === "partitioned" ? 1 : seen.size;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { entries, objectBytes: object.size, rows, tables, reads, peakRssBytes: process.resourceUsage().maxRSS * 1024, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function run(mode: Mode, entries: number, layout: Layout, env: NodeJS.ProcessEnv = {}): Promise<ArchiveLoadRun> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--require", "tsx/cjs", __filename, mode, String(entries), layout], { maxBuffer: 1 << 20, env: { ...process.env, ...env } });
  return JSON.parse(stdout.trim().split("\n").pop()!) as ArchiveLoadRun;
}

/** The engine with the real client, against a stand-in in this process that checks and counts the rows it is sent. */
async function runWithBigQuery(entries: number, layout: Layout): Promise<ArchiveLoadRun> {
  const standIn = new BigQueryStandIn();
  standIn.keepLoadedRows = false;
  await standIn.start();
  try {
    return await run("bigquery", entries, layout, { [STAND_IN_VARIABLE]: standIn.endpoint });
  } finally {
    await standIn.stop();
  }
}

/** The engine's and the floor's peak RSS on `entries` entries, each in a fresh process; with the real client too when asked. */
export async function measureArchiveLoadMemory(entries: number, layout: Layout, withBigQuery = false): Promise<ArchiveLoadMemory> {
  const floor = await run("floor", entries, layout);
  const engine = await run("engine", entries, layout);
  const bigQuery = withBigQuery ? await runWithBigQuery(entries, layout) : undefined;
  for (const loaded of [engine, bigQuery]) {
    if (loaded && loaded.rows !== floor.rows) throw new Error(`the engine uploaded ${loaded.rows} rows, the plain read found ${floor.rows}`);
  }
  return { layout, engine, floor, ...(bigQuery ? { bigQuery } : {}) };
}

if (require.main === module) {
  const [mode, entries, layout] = process.argv.slice(2);
  void child(mode as Mode, Number(entries), layout as Layout).then((figures) => console.log(JSON.stringify(figures)));
}

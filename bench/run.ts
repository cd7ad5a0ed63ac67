// npm run bench [-- --quick]
// Measures what the pipeline costs per event, each figure against a baseline from the same run,
// prints a table and (without --quick) writes bench/results.md. Never a timed assertion in tests.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import * as path from "node:path";
import { loadCountryTable } from "../assets/countryTable";
import { defineCommand, runCommand } from "../cli/runner";
import { USER_AGENT_CACHE_LIMIT } from "../core/client";
import { VISITOR_KEY_VARIABLE } from "../core/functionContract";
import { readStack } from "../cli/stackFile";
import { measureArchiveLoadMemory } from "./archiveLoad";
import { measureCalls } from "./calls";
import { measureColdStart } from "./coldStart";
import { measureCore } from "./core";
import { measureFunctionHeap } from "./functionHeap";
import { corpusMessages } from "./corpus";
import { measureLocalLoad } from "./localLoad";

interface Row {
  readonly measure: string;
  readonly result: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly met: boolean;
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/**
 * What the one cache that grows with traffic can hold: each of its entries a user agent, at most
 * maxValueLength (1,024) UTF-16 characters, and its answer, well under 256 bytes. Between two
 * readings the heap may move by up to this as the cache empties and refills; more is a leak.
 */
const USER_AGENT_CACHE_BYTES_BOUND = USER_AGENT_CACHE_LIMIT * (2 * 1024 + 256);

const USAGE = `Usage: npm run bench [-- --quick]
Measures what the pipeline costs per event, each figure against a baseline from the same run,
and writes bench/results.md.
  --quick          a few seconds instead of minutes; writes nothing
  -h, --help       this help`;

export const benchCommand = defineCommand({
  usage: USAGE,
  args: { options: { quick: { type: "boolean", default: false } } },
  run: ({ values }) => bench(values.quick),
});

async function bench(quick: boolean): Promise<void> {
  // With a visitor key and the country table, as the function runs: the core measure includes every column.
  // The function reads the table before its first message, so the stack's table-on-first-use is replaced.
  const stack = readStack("dev", undefined, { [VISITOR_KEY_VARIABLE]: randomBytes(32).toString("base64") });
  const settings = { ...stack.settings, countries: loadCountryTable() };
  const rows: Row[] = [];
  const report = (row: Row) => {
    rows.push(row);
    console.log(`${row.met ? "met   " : "MISSED"} ${row.measure}: ${row.result} vs ${row.baseline} (${row.ratio}; target ${row.target})`);
  };

  const corpus = corpusMessages(quick ? 10_000 : 100_000);
  const core = measureCore(corpus, settings, quick ? 3 : 9);
  const coreRatio = core.coreMicros / core.floorMicros;
  report({
    measure: `core: decode + parse + row, per message (${core.messages.toLocaleString("en")} messages, ${core.accepted.toLocaleString("en")} accepted)`,
    result: `${round(core.coreMicros)} µs`,
    baseline: `${round(core.floorMicros)} µs floor (base64 + JSON.parse + new URL)`,
    ratio: `${round(coreRatio)}×`,
    target: "≤ 1.5×",
    met: coreRatio <= 1.5,
  });

  const cold = await measureColdStart(settings, quick ? 3 : 11);
  // A ratio, not milliseconds: absolute start-up times do not hold from one run to the next here.
  const coldRatio = cold.bundleMs / cold.bareMs;
  report({
    measure: `cold start to first message handled, median of ${cold.runs} (index.js ${Math.round(cold.scriptBytes / 1024)} KiB; all deployed files ${Math.round(cold.bundleBytes / 1024)} KiB)`,
    result: "the deployed bundle",
    baseline: "a bare CloudEvent function",
    ratio: `${round(coldRatio)}×`,
    target: "≤ 1.15×",
    met: coldRatio <= 1.15,
  });

  const calls = await measureCalls(corpus.slice(0, quick ? 200 : 2_000), settings);
  report({
    measure: `BigQuery calls per accepted event (${calls.accepted} of ${calls.messages} messages)`,
    result: `${round(calls.insertAllCalls / calls.accepted)} insertAll, ${calls.otherCalls} other calls`,
    baseline: "1 insertAll",
    ratio: `${calls.requestBytesPerEvent} request bytes per event`,
    target: "exactly 1 insertAll, no other call",
    met: calls.insertAllCalls === calls.accepted && calls.otherCalls === 0,
  });

  const heapCheckpoints = quick ? [0, 2_000, 5_000, 10_000] : [0, 10_000, 25_000, 50_000, 75_000, 100_000];
  const heap = await measureFunctionHeap(corpus, settings, heapCheckpoints);
  const [empty, warm] = heap.checkpoints;
  const last = heap.checkpoints[heap.checkpoints.length - 1];
  const mebibytes = (bytes: number) => `${round(bytes / 2 ** 20, 1)} MiB`;
  const growth = last.heapUsedBytes - warm.heapUsedBytes;
  report({
    measure: `function heap after full collections, at ${heap.checkpoints.map((point) => point.messages.toLocaleString("en")).join(" / ")} messages (real handler, writer and client; 16 at a time)`,
    result: heap.checkpoints.map((point) => mebibytes(point.heapUsedBytes)).join(" / "),
    baseline: `${mebibytes(empty.heapUsedBytes)} before the first message (the corpus itself included)`,
    ratio: `${growth >= 0 ? "+" : ""}${mebibytes(growth)} from ${warm.messages.toLocaleString("en")} to ${last.messages.toLocaleString("en")}`,
    target: `no growth beyond the bounded caches (user agents: ${USER_AGENT_CACHE_LIMIT.toLocaleString("en")} entries)`,
    met: growth <= USER_AGENT_CACHE_BYTES_BOUND,
  });

  const batch = await measureArchiveLoadMemory(quick ? 20_000 : 1_000_000, "partitioned", true);
  const batchRatio = batch.engine.peakRssBytes / batch.floor.peakRssBytes;
  report({
    measure: `batch loader's peak RSS on one archive object of ${batch.engine.entries.toLocaleString("en")} entries (${mebibytes(batch.engine.objectBytes)} of JSON lines, ${batch.layout}: ${batch.engine.reads} reads, ${batch.engine.rows.toLocaleString("en")} rows uploaded to a counting store)`,
    result: mebibytes(batch.engine.peakRssBytes),
    baseline: `${mebibytes(batch.floor.peakRssBytes)}: a process that only reads the same file through the core`,
    ratio: `${round(batchRatio)}×; the file is ${round(batch.engine.objectBytes / batch.engine.peakRssBytes, 1)}× the peak; with the real BigQuery client uploading to the stand-in, ${mebibytes(batch.bigQuery!.peakRssBytes)}`,
    target: "≤ 1.5× the plain read, whatever the file's size",
    met: batchRatio <= 1.5,
  });

  const local = await measureLocalLoad(quick ? 2 : 10);
  const loadRatio = local.pipeline.requestsPerSecond / local.nginx.requestsPerSecond;
  const p99Ratio = local.pipeline.p99Ms / local.nginx.p99Ms;
  const rate = (run: { requestsPerSecond: number }) => `${run.requestsPerSecond.toLocaleString("en")} req/s`;
  report({
    measure: `local pipeline, ${local.connections} connections for ${local.seconds} s (p50/p99 ${local.pipeline.p50Ms}/${local.pipeline.p99Ms} ms; nginx ${local.nginx.p50Ms}/${local.nginx.p99Ms} ms)`,
    result:
      `${rate(local.pipeline)}: ${local.pipeline.ok.toLocaleString("en")} answered, ${local.rows.toLocaleString("en")} rows, ${local.lost} lost (${local.extra} spooled as the load stopped); ` +
      `${local.backlog.toLocaleString("en")} entries still to load when it stopped, loaded in the ${round(local.stopSeconds, 1)} s shutdown`,
    baseline: `${rate(local.nginx)} nginx, same pixel; bare node:http ${rate(local.bareNode)} (${round(local.bareNode.requestsPerSecond / local.nginx.requestsPerSecond)}× nginx)`,
    ratio: `${round(loadRatio)}×, p99 ${round(p99Ratio, 1)}×`,
    target: "≥ 0.5× with 0 lost, p99 ≤ 2×",
    met: loadRatio >= 0.5 && p99Ratio <= 2 && local.lost === 0 && local.pipeline.errors === 0,
  });
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  const totalRss = local.peakRss.frontEnd + local.peakRss.loader;
  report({
    measure: "local server's peak RSS over that load and its shutdown",
    result: `${mb(totalRss)} MB: front end ${mb(local.peakRss.frontEnd)} MB + loader ${mb(local.peakRss.loader)} MB`,
    baseline: "each process's own peak (VmHWM), added: node's shared pages count twice",
    ratio: `${round(totalRss / (300 * 2 ** 20))}× the target`,
    target: "≤ 300 MB",
    met: totalRss <= 300 * 2 ** 20,
  });

  if (!quick) writeResults(rows);
}

function writeResults(rows: readonly Row[]): void {
  const machine = `${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const table = [
    "| measure | result | baseline (same run) | ratio | target | met |",
    "|---|---|---|---|---|---|",
    ...rows.map((row) => `| ${row.measure} | ${row.result} | ${row.baseline} | ${row.ratio} | ${row.target} | ${row.met ? "yes" : "**no**"} |`),
  ].join("\n");
  const file = path.join(__dirname, "results.md");
  const notes = path.join(__dirname, "notes.md");
  writeFileSync(file, `# Benchmark results\n\nWritten by \`npm run bench\` on ${machine}.\n\n${table}\n\nWhat the figures mean, and what dominates where a target is missed: [notes.md](notes.md).\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), file)}; read ${path.relative(process.cwd(), notes)} beside it`);
}

if (require.main === module) void runCommand(benchCommand);

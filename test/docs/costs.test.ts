import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ASSUMED_SINK_FILES_PER_HOUR } from "../../core/batchLimits";
import { SWEEP_LOOKBACK_DAYS } from "../../core/loadLedger";

const costs = readFileSync(path.join(__dirname, "..", "..", "docs", "costs.md"), "utf8");
const section = costs.slice(costs.indexOf("## Streaming and batch side by side"), costs.indexOf("## Per report load"));

/** The list prices and sizes the side-by-side tables state, in US dollars. */
const GIB = 2 ** 30;
const TIB = 2 ** 40;
const PRICE = {
  cdnLookup: 0.0075 / 10_000,
  cdnEgressPerGib: 0.08,
  standardPerGibMonth: 0.02,
  coldlinePerGibMonth: 0.004,
  classA: 0.005 / 1_000,
  classB: 0.0004 / 1_000,
  runRequest: 0.4 / 1_000_000,
  // 1 vCPU and 512 MiB: the functionCpu and functionMemory defaults the loader and the sweep take.
  runSecond: 0.000024 + 0.5 * 0.0000025,
  streamingPerByte: 0.01 / 200e6,
  queryPerByte: 6.25 / TIB,
  schedulerJobMonth: 0.1,
  forwardingRuleHour: 0.025,
};
const SIZE = { responseBytes: 0.5e3, archiveEntryBytes: 1.4e3, streamedRowMinBytes: 1e3, queryMinBytes: 10e6, objectsPerListPage: 1_000 };
const ASSUMED = { ledgerRowReadBytes: 110, loaderSecondsPerEntry: 150e-6, loaderRunSeconds: 15, sweepRunSeconds: 10, loaderReadsPerFile: 2, bigQueryStoragePerMillion: 0.01 };
const HOURS_PER_MONTH = 720;
const MILLION = 1_000_000;
const FLOOR = PRICE.cdnLookup * MILLION;
const TARGET = 1.15 * FLOOR;
const STREAMING_OTHER = { busy: 0.11 + 0.4 + 0.16 + 0.05, sparse: 0.11 + 0.4 + 2.53 + 0.05 };

// Per million events: the same for busy and sparse batch, since the loader works per file.
const archiveMonthStandard = ((SIZE.archiveEntryBytes * MILLION) / GIB) * PRICE.standardPerGibMonth;
const archiveMonthColdline = ((SIZE.archiveEntryBytes * MILLION) / GIB) * PRICE.coldlinePerGibMonth;
const perEvent = {
  cdn: FLOOR,
  egress: ((SIZE.responseBytes * MILLION) / GIB) * PRICE.cdnEgressPerGib,
  archive: archiveMonthStandard,
  loader: MILLION * ASSUMED.loaderSecondsPerEntry * PRICE.runSecond,
  bigQueryStorage: ASSUMED.bigQueryStoragePerMillion,
};
const batchPerMillion = Object.values(perEvent).reduce((sum, value) => sum + value, 0);

// A month's fixed costs of the batch tier.
const filesPerMonth = HOURS_PER_MONTH * ASSUMED_SINK_FILES_PER_HOUR;
const filesPerDay = 24 * ASSUMED_SINK_FILES_PER_HOUR;
// The sweep lists the day folders of its lookback and today's, a page per 1,000 files each.
const sweepFolders = SWEEP_LOOKBACK_DAYS + 1;
const listPagesPerRun = sweepFolders * Math.ceil(filesPerDay / SIZE.objectsPerListPage);
const ledgerQuery = SIZE.queryMinBytes * PRICE.queryPerByte;
const loaderRun = PRICE.runRequest + ASSUMED.loaderRunSeconds * PRICE.runSecond;
// The sink's write and its notification; the loader's reads, its ledger query and its ledger row.
const storageOperationsPerFile = 2 * PRICE.classA + ASSUMED.loaderReadsPerFile * PRICE.classB;
const operationsPerFile = storageOperationsPerFile + ledgerQuery + SIZE.streamedRowMinBytes * PRICE.streamingPerByte;
const sweepRun = PRICE.runRequest + ASSUMED.sweepRunSeconds * PRICE.runSecond + ledgerQuery;
const fixed = {
  loaderRuns: filesPerMonth * loaderRun,
  operations: filesPerMonth * operationsPerFile,
  sweepRuns: HOURS_PER_MONTH * sweepRun,
  listing: HOURS_PER_MONTH * listPagesPerRun * PRICE.classA,
  scheduler: PRICE.schedulerJobMonth,
};
const fixedPerMonth = Object.values(fixed).reduce((sum, value) => sum + value, 0);

const dollars = (value: number, digits = 2) => `$${value.toFixed(digits)}`;
const ratio = (value: number) => `${(value / FLOOR).toFixed(2)}×`;
const count = (value: number) => value.toLocaleString("en-US");

/** The rows of the section's table whose header's first cell is `header`, as trimmed cells without bold. */
function table(header: string): string[][] {
  const lines = section.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`| ${header} |`));
  if (start < 0) throw new Error(`docs/costs.md has no table headed "${header}" in its side-by-side section`);
  const end = lines.findIndex((line, index) => index > start && !line.startsWith("|"));
  return lines.slice(start + 2, end).map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim().replace(/\*\*/g, "")));
}
function rowOf(rows: string[][], label: string): string[] {
  const found = rows.find((cells) => cells[0].startsWith(label));
  if (!found) throw new Error(`docs/costs.md has no row "${label}"`);
  return found;
}
const perMillion = table("part, per million events");
const fixedTable = table("fixed cost, a month");
const COLUMN = { streamingBusy: 1, streamingSparse: 2, batchBusy: 3, batchSparse: 4 } as const;
const STREAMING = 1;
const BATCH = 2;

describe("docs/costs.md, streaming and batch per million events", () => {
  test.each([
    ["Cloud CDN cache lookups", dollars(perEvent.cdn)],
    ["Cloud CDN cache egress", dollars(perEvent.egress)],
    ["Raw archive storage", dollars(perEvent.archive, 3)],
    ["BigQuery storage", dollars(perEvent.bigQueryStorage)],
  ])("%s is the same in all four columns, as recomputed", (label, cell) => {
    const cells = rowOf(perMillion, label);
    expect(Object.values(COLUMN).map((column) => cells[column])).toEqual([cell, cell, cell, cell]);
  });

  test.each([
    ["Loader CPU and memory", dollars(perEvent.loader, 3)],
    ["Cloud Storage operations that grow", "$0"],
    ["BigQuery load jobs", "$0"],
    ["total", dollars(batchPerMillion)],
    ["× the CDN floor", ratio(batchPerMillion)],
  ])("batch's %s is the same busy and sparse, as recomputed", (label, cell) => {
    const cells = rowOf(perMillion, label);
    expect([cells[COLUMN.batchBusy], cells[COLUMN.batchSparse]]).toEqual([cell, cell]);
  });

  test("the loader's price per second is the one stated", () => {
    expect(rowOf(perMillion, "Loader CPU and memory")[5]).toContain(`$${PRICE.runSecond.toFixed(8)} per second of 1 vCPU and 512 MiB`);
  });

  test("each column's total is the sum of its lines, within their rounding", () => {
    const lines = perMillion.filter((cells) => !cells[0].startsWith("total") && !cells[0].startsWith("× the CDN floor"));
    for (const column of Object.values(COLUMN)) {
      const sum = lines.reduce((total, cells) => total + (Number(/^\$([0-9.]+)/.exec(cells[column])?.[1]) || 0), 0);
      // The lines are rounded (egress: $0.037 shown as $0.04), so their sum may differ from the total by a cent.
      expect(Math.abs(Number(rowOf(perMillion, "total")[column].slice(1)) - sum)).toBeLessThanOrEqual(0.01);
      expect(Math.abs(Number(rowOf(perMillion, "× the CDN floor")[column].slice(0, -1)) - sum / FLOOR)).toBeLessThanOrEqual(0.01);
    }
  });

  test("the streaming columns are the first table's lines plus the archive", () => {
    const streamingLines = rowOf(perMillion, "Pub/Sub, function requests");
    expect([streamingLines[COLUMN.streamingBusy], streamingLines[COLUMN.streamingSparse]]).toEqual([dollars(STREAMING_OTHER.busy), dollars(STREAMING_OTHER.sparse)]);
    expect(section).toContain(`its lines add up to ${dollars(0.75 + 0.04 + STREAMING_OTHER.busy + 0.01)} and ${dollars(0.75 + 0.04 + STREAMING_OTHER.sparse + 0.01)}`);
    expect(rowOf(perMillion, "total")[COLUMN.streamingBusy]).toBe(dollars(0.75 + 0.04 + STREAMING_OTHER.busy + archiveMonthStandard + 0.01));
    expect(rowOf(perMillion, "total")[COLUMN.streamingSparse]).toBe(dollars(0.75 + 0.04 + STREAMING_OTHER.sparse + archiveMonthStandard + 0.01));
  });

  test("batch is within 1.15× the floor, busy and sparse, and the doc says so", () => {
    expect(batchPerMillion).toBeLessThanOrEqual(TARGET);
    expect(section).toContain(`**Batch is at ${ratio(batchPerMillion)} the floor, busy or sparse: within the 1.15× target.**`);
  });
});

describe("docs/costs.md, the batch tier's fixed monthly costs", () => {
  test("states the files an hour core/batchLimits.ts assumes", () => {
    expect(section).toContain(`**${ASSUMED_SINK_FILES_PER_HOUR} files an hour**`);
  });

  test.each([
    ["Loader runs", dollars(fixed.loaderRuns), [`${count(filesPerMonth)} files (${ASSUMED_SINK_FILES_PER_HOUR} an hour × ${HOURS_PER_MONTH})`, `${ASSUMED.loaderRunSeconds} s of an instance at 1 vCPU and 512 MiB ($${PRICE.runSecond.toFixed(8)} a second)`]],
    ["Operations per sink file", dollars(fixed.operations), [`$${operationsPerFile.toFixed(7)} a file`, `${ASSUMED.loaderReadsPerFile} Class B`]],
    [
      "The sweep's hourly runs",
      dollars(fixed.sweepRuns),
      [
        `${HOURS_PER_MONTH} runs at $${sweepRun.toFixed(5)}`,
        `${ASSUMED.sweepRunSeconds} s of the instance`,
        // The ledger has a row a file; the query reads three of its columns, over the lookback's folders' days.
        `about ${((sweepFolders * filesPerDay * ASSUMED.ledgerRowReadBytes) / 1e6).toFixed(2)} MB`,
        `so the minimum holds up to ${count(Math.floor(SIZE.queryMinBytes / (sweepFolders * 24 * ASSUMED.ledgerRowReadBytes)))} files an hour`,
      ],
    ],
    [
      "The sweep's listing",
      dollars(fixed.listing),
      [`the last ${SWEEP_LOOKBACK_DAYS} days' and today's, ${sweepFolders} folders of ${filesPerDay} files`, `${count(HOURS_PER_MONTH * listPagesPerRun)} a month whatever the archive's age`],
    ],
    ["The sweep's Cloud Scheduler job", dollars(fixed.scheduler), []],
    ["the batch tier's own, total", dollars(fixedPerMonth), []],
  ])("%s is recomputed from the prices", (label, cell, basis) => {
    const cells = rowOf(fixedTable, label);
    expect([cells[STREAMING], cells[BATCH]]).toEqual(["–", cell]);
    for (const text of basis) expect(cells[3]).toContain(text);
  });

  test("the total is the sum of the batch tier's lines, within their rounding", () => {
    const lines = fixedTable.filter((cells) => cells[STREAMING] === "–" && !cells[0].includes("total"));
    const sum = lines.reduce((total, cells) => total + Number(/^\$([0-9.]+)/.exec(cells[BATCH])![1]), 0);
    expect(lines).toHaveLength(Object.keys(fixed).length);
    // Each line and the total are rounded to the cent: half a cent each at most.
    expect(Math.abs(Number(rowOf(fixedTable, "the batch tier's own, total")[BATCH].slice(1)) - sum)).toBeLessThanOrEqual(0.005 * (lines.length + 1));
  });

  test("the forwarding rules are the same fixed cost in both modes", () => {
    const rule = dollars(PRICE.forwardingRuleHour * HOURS_PER_MONTH, 0);
    const cells = rowOf(fixedTable, "The load balancer's forwarding rules");
    expect(cells[3]).toContain(`$${PRICE.forwardingRuleHour} an hour each`);
    expect([cells[STREAMING], cells[BATCH]]).toEqual([`${rule} to ${dollars(2 * PRICE.forwardingRuleHour * HOURS_PER_MONTH, 0)}`, `${rule} to ${dollars(2 * PRICE.forwardingRuleHour * HOURS_PER_MONTH, 0)}`]);
  });

  test("the volumes from which they fade are recomputed", () => {
    expect(section).toContain(`the batch tier's **${dollars(fixedPerMonth)} a month** is under 0.15× the floor (${dollars(0.15 * FLOOR)} per million)`);
    const fixedUnderFifteenPercent = fixedPerMonth / (0.15 * FLOOR);
    expect(section).toContain(`from about **${Math.round(fixedUnderFifteenPercent)} million events a month**, and batch as a whole`);
    const wholeWithinTarget = fixedPerMonth / (TARGET - batchPerMillion);
    expect(section).toContain(`within 1.15× the floor from about **${Math.round(wholeWithinTarget)} million events a month** (some ${count(Math.round((wholeWithinTarget * MILLION) / HOURS_PER_MONTH / 1000) * 1000)} an hour)`);
    expect(section).toContain(`at 1 million events a month they are ${dollars(fixedPerMonth)} per million, beside ${dollars(PRICE.forwardingRuleHour * HOURS_PER_MONTH, 0)} of forwarding rule`);
  });

  test("within the free tiers only the Cloud Storage operations and the ledger's rows remain", () => {
    const runs = filesPerMonth + HOURS_PER_MONTH;
    const vcpuSeconds = filesPerMonth * ASSUMED.loaderRunSeconds + HOURS_PER_MONTH * ASSUMED.sweepRunSeconds;
    expect(section).toContain(`the loader's and the sweep's ${count(vcpuSeconds)} vCPU-seconds and ${count(runs)} runs`);
    const remaining = filesPerMonth * (storageOperationsPerFile + SIZE.streamedRowMinBytes * PRICE.streamingPerByte) + fixed.listing;
    expect(section).toContain(`**${dollars(remaining)} a month**, whatever the archive's age`);
  });

  test("keeping the archive in Coldline longer adds to the batch figure as stated", () => {
    expect(section).toContain(`${dollars(archiveMonthColdline, 3)} per million events a month in Coldline`);
    expect(section).toContain(`adds ${dollars(3 * archiveMonthColdline, 3)} per million events (batch ${ratio(batchPerMillion + 3 * archiveMonthColdline)})`);
    expect(section).toContain(`adds ${dollars(11 * archiveMonthColdline, 3)} (batch ${ratio(batchPerMillion + 11 * archiveMonthColdline)}, above the target)`);
    expect(section).toContain(`passes 1.15× once a month's events have spent ${Math.ceil((TARGET - batchPerMillion) / archiveMonthColdline)} months in Coldline`);
  });

  test("the README's summary gives the same batch figures", () => {
    const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
    expect(readme).toContain(`about ${dollars(batchPerMillion)} per million, ${ratio(batchPerMillion)} the CDN's lookups, however the events arrive`);
    expect(readme).toContain(`plus about ${dollars(fixedPerMonth)} a month for its per-file and hourly machinery beyond the free tiers`);
  });
});

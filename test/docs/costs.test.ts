import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ASSUMED_SINK_FILES_PER_HOUR } from "../../core/batchLimits";

const costs = readFileSync(path.join(__dirname, "..", "..", "docs", "costs.md"), "utf8");
const section = costs.slice(costs.indexOf("## Streaming and batch side by side"), costs.indexOf("## Per report load"));

/** The list prices and sizes the side-by-side table states, in US dollars. */
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
  // 1 vCPU and 512 MiB
  runSecond: 0.000024 + 0.5 * 0.0000025,
  streamingPerByte: 0.01 / 200e6,
  queryPerByte: 6.25 / TIB,
  schedulerJobMonth: 0.1,
};
const SIZE = { responseBytes: 0.5e3, archiveEntryBytes: 1.4e3, streamedRowMinBytes: 1e3, queryMinBytes: 10e6 };
const ASSUMED = { loaderSecondsPerEntry: 150e-6, billedSecondsPerInvocation: 10, classBReadsPerFile: 3, bigQueryStoragePerMillion: 0.01 };
const HOURS_PER_MONTH = 730;
const MILLION = 1_000_000;
const FLOOR = PRICE.cdnLookup * MILLION;
const STREAMING_OTHER = { busy: 0.11 + 0.4 + 0.16 + 0.05, sparse: 0.11 + 0.4 + 2.53 + 0.05 };

const archiveMonthStandard = ((SIZE.archiveEntryBytes * MILLION) / GIB) * PRICE.standardPerGibMonth;
const archiveMonthColdline = ((SIZE.archiveEntryBytes * MILLION) / GIB) * PRICE.coldlinePerGibMonth;
const perEvent = {
  cdn: FLOOR,
  egress: ((SIZE.responseBytes * MILLION) / GIB) * PRICE.cdnEgressPerGib,
  archive: archiveMonthStandard,
  loader: MILLION * ASSUMED.loaderSecondsPerEntry * PRICE.runSecond,
  bigQueryStorage: ASSUMED.bigQueryStoragePerMillion,
};
// The sink's write and its notification; the loader's reads; the ledger's streamed row.
const fileOperations = 2 * PRICE.classA + ASSUMED.classBReadsPerFile * PRICE.classB + SIZE.streamedRowMinBytes * PRICE.streamingPerByte;
const perFile = fileOperations + PRICE.runRequest + ASSUMED.billedSecondsPerInvocation * PRICE.runSecond;
const sweepInstance = PRICE.runRequest + ASSUMED.billedSecondsPerInvocation * PRICE.runSecond;
const perSweep = sweepInstance + PRICE.classA + SIZE.queryMinBytes * PRICE.queryPerByte;
const filesPerMonth = HOURS_PER_MONTH * ASSUMED_SINK_FILES_PER_HOUR;
const perEventTotal = Object.values(perEvent).reduce((sum, value) => sum + value, 0);

function batch(eventsPerMonth: number) {
  const millions = eventsPerMonth / MILLION;
  const files = (filesPerMonth * perFile) / millions;
  const sweep = (HOURS_PER_MONTH * perSweep + PRICE.schedulerJobMonth) / millions;
  return { files, sweep, total: perEventTotal + files + sweep };
}
const busy = batch(HOURS_PER_MONTH * MILLION);
const sparse = batch(MILLION);
const monthly = filesPerMonth * perFile + HOURS_PER_MONTH * perSweep + PRICE.schedulerJobMonth;

const dollars = (value: number, digits: number) => `$${value.toFixed(digits)}`;
const ratio = (value: number) => `${(value / FLOOR).toFixed(2)}×`;

/** The cells of the side-by-side table's row whose first cell starts with `label`. */
function row(label: string): string[] {
  const line = section.split("\n").find((text) => text.replace(/\*\*/g, "").startsWith(`| ${label}`));
  if (!line) throw new Error(`docs/costs.md has no row "${label}" in its side-by-side table`);
  return line.split("|").slice(1, -1).map((cell) => cell.trim().replace(/\*\*/g, ""));
}
const COLUMN = { streamingBusy: 1, streamingSparse: 2, batchBusy: 3, batchSparse: 4 } as const;

describe("docs/costs.md, streaming and batch side by side", () => {
  test("states the files an hour core/batchLimits.ts assumes", () => {
    expect(section).toContain(`**${ASSUMED_SINK_FILES_PER_HOUR} files an hour**`);
  });

  test.each([
    ["Loader CPU and memory", dollars(perEvent.loader, 3), dollars(perEvent.loader, 3)],
    ["Per archive file", `${dollars(busy.files, 3)} (${ASSUMED_SINK_FILES_PER_HOUR} files)`, `${dollars(sparse.files, 3)} (${filesPerMonth.toLocaleString("en-US")} files)`],
    ["The sweep", dollars(busy.sweep, 4), dollars(sparse.sweep, 3)],
    ["Raw archive storage", dollars(perEvent.archive, 3), dollars(perEvent.archive, 3)],
    ["total", dollars(busy.total, 2), dollars(sparse.total, 2)],
    ["× the CDN floor", ratio(busy.total), ratio(sparse.total)],
  ])("the batch columns of %s are recomputed from the prices", (label, busyCell, sparseCell) => {
    const cells = row(label);
    expect([cells[COLUMN.batchBusy], cells[COLUMN.batchSparse]]).toEqual([busyCell, sparseCell]);
  });

  test("each column's total is the sum of its lines, within their rounding", () => {
    const lines = section
      .split("\n")
      .filter((text) => text.startsWith("| ") && !text.startsWith("| part") && !text.startsWith("| **"))
      .map((text) => text.split("|").slice(1, -1).map((cell) => cell.trim()));
    for (const column of Object.values(COLUMN)) {
      const sum = lines.reduce((total, cells) => total + (Number(/^\$([0-9.]+)/.exec(cells[column])?.[1]) || 0), 0);
      // The lines are rounded (egress: $0.037 shown as $0.04), so their sum may differ from the total by a cent.
      expect(Math.abs(Number(row("total")[column].slice(1)) - sum)).toBeLessThanOrEqual(0.01);
      expect(Math.abs(Number(row("× the CDN floor")[column].slice(0, -1)) - sum / FLOOR)).toBeLessThanOrEqual(0.01);
    }
  });

  test("the streaming columns are the first table's lines plus the archive", () => {
    expect(row("total")[COLUMN.streamingBusy]).toBe(dollars(0.75 + 0.04 + STREAMING_OTHER.busy + archiveMonthStandard + 0.01, 2));
    expect(row("total")[COLUMN.streamingSparse]).toBe(dollars(0.75 + 0.04 + STREAMING_OTHER.sparse + archiveMonthStandard + 0.01, 2));
  });

  test("busy batch is within 1.15× the floor, and the doc says sparse batch is not, with what it would take", () => {
    expect(busy.total).toBeLessThanOrEqual(1.15 * FLOOR);
    expect(sparse.total).toBeGreaterThan(1.15 * FLOOR);
    expect(section).toContain(`**Busy, batch is at ${ratio(busy.total)} the floor: within the 1.15× target.**`);
    expect(section).toContain(`**Sparse, batch is at ${ratio(sparse.total)} the floor: not within the target**`);
    expect(section).toContain(`**${dollars(monthly, 2)} a month**`);
    const breakEven = monthly / (1.15 * FLOOR - perEventTotal);
    expect(section).toContain(`**${Math.round(breakEven)} million events a month**`);
    expect(section).toContain(`some ${(Math.round((breakEven * MILLION) / HOURS_PER_MONTH / 1000) * 1000).toLocaleString("en-US")} an hour`);
  });

  test("within the free tiers only the Cloud Storage operations and the ledger's rows remain", () => {
    const freeTierSeconds = (filesPerMonth + HOURS_PER_MONTH) * ASSUMED.billedSecondsPerInvocation;
    expect(section).toContain(`${freeTierSeconds.toLocaleString("en-US")} vCPU-seconds and ${(filesPerMonth + HOURS_PER_MONTH).toLocaleString("en-US")} invocations`);
    const withFreeTiers = perEventTotal + filesPerMonth * fileOperations + HOURS_PER_MONTH * PRICE.classA;
    expect(section).toContain(`**${dollars(withFreeTiers, 2)} per million: ${ratio(withFreeTiers)}**`);
    expect(section).toContain(`(${(withFreeTiers / FLOOR).toFixed(3)}× before rounding)`);
  });

  test("keeping the archive in Coldline longer adds to the busy figure as stated", () => {
    expect(section).toContain(`${dollars(archiveMonthColdline, 3)} per million events a month in Coldline`);
    expect(section).toContain(`adds ${dollars(3 * archiveMonthColdline, 3)} (busy batch ${ratio(busy.total + 3 * archiveMonthColdline)})`);
    expect(section).toContain(`adds ${dollars(11 * archiveMonthColdline, 3)} (busy batch ${ratio(busy.total + 11 * archiveMonthColdline)}, above the target)`);
  });

  test("the README's summary gives the same batch figures", () => {
    const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
    expect(readme).toContain(`about ${dollars(busy.total, 2)} per million at volume, ${ratio(busy.total)} the CDN's lookups`);
    expect(readme).toContain(`about ${dollars(monthly, 2)} a month beyond the free tiers`);
  });
});

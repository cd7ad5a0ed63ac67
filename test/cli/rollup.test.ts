import * as path from "node:path";
import {
  bigQueryRunner,
  DEFAULT_RETRY,
  formatRollupSummary,
  MAX_DAYS_WITHOUT_YES,
  recomputeDays,
  rollupDays,
  rollupHint,
  withConflictRetry,
} from "../../cli/rollup";
import type { RetryPolicy } from "../../cli/rollup";
import type { DayProgress } from "../../cli/progress";
import { UsageError } from "../../cli/runner";
import { bigQueryRollupScript } from "../../core/rollups";
import { LocalDatabase } from "../../local/database";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { makeTempDir, removeDir, startTestPipeline } from "../../testkit/localPipeline";
import { runScript } from "../../testkit/runScript";
import { acceptedEvent, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { KEYWORD_ATTRIBUTES, settingsFor } from "../../testkit/settings";

const TODAY = "2026-03-10";

describe("rollupDays", () => {
  test.each<[string, string | undefined, string | undefined, boolean, RegExp]>([
    ["missing --to", "2026-03-01", undefined, false, /pass --from and --to/],
    ["a day that does not exist", "2026-02-30", "2026-03-01", false, /--from must be a UTC day as YYYY-MM-DD, got "2026-02-30"/],
    ["a day in another format", "2026-03-01", "10.03.2026", false, /--to must be a UTC day/],
    ["a reversed range", "2026-03-05", "2026-03-01", false, /runs backwards: --from 2026-03-05 is after --to 2026-03-01; swap them/],
    ["a day in the future", "2026-03-01", "2026-03-11", false, /--to 2026-03-11 is in the future \(today is 2026-03-10 UTC\)/],
    ["more days than the bound without --yes", "2025-12-08", "2026-03-10", false, new RegExp(`93 days is more than ${MAX_DAYS_WITHOUT_YES}.*Pass --yes`)],
  ])("refuses %s", (_, from, to, yes, message) => {
    expect(() => rollupDays(from, to, TODAY, yes)).toThrow(UsageError);
    expect(() => rollupDays(from, to, TODAY, yes)).toThrow(message);
  });

  test("lists every day of a range, both ends and month ends included; the bound holds exactly; --yes lifts it", () => {
    expect(rollupDays("2026-02-27", "2026-03-02", TODAY, false)).toEqual(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
    expect(rollupDays(TODAY, TODAY, TODAY, false)).toEqual([TODAY]);
    expect(rollupDays("2025-12-09", TODAY, TODAY, false)).toHaveLength(MAX_DAYS_WITHOUT_YES);
    expect(rollupDays("2025-01-01", TODAY, TODAY, true)).toHaveLength(434);
  });
});

/** Records the progress bar's calls. */
function recordingProgress(): DayProgress & { calls: string[] } {
  const calls: string[] = [];
  return { calls, start: (total) => calls.push(`start ${total}`), update: (done, rows) => calls.push(`${done} ${rows}`), stop: () => calls.push("stop") };
}

describe("against BigQuery (the loopback stand-in, through the real client)", () => {
  const bigQuery = new BigQueryStandIn();
  const settings = settingsFor({ attributes: KEYWORD_ATTRIBUTES });
  const sleeps: number[] = [];
  const policy: RetryPolicy = { ...DEFAULT_RETRY, sleep: async (ms) => void sleeps.push(ms) };
  const warnings: string[] = [];
  beforeAll(() => bigQuery.start());
  afterAll(() => bigQuery.stop());
  beforeEach(() => {
    bigQuery.reset();
    sleeps.length = 0;
    warnings.length = 0;
  });

  const runner = () => {
    const run = bigQueryRunner(bigQuery.client(), settings, "p", "pixel_dev");
    return (range: { from: string; to: string }) => withConflictRetry(() => run(range), policy, (message) => warnings.push(message));
  };

  test("runs one script a day, each replacing its day in a transaction, and sums the rows they report", async () => {
    bigQuery.scriptQueries({ rowsWritten: 12 }, { rowsWritten: 0 }, { rowsWritten: 30 });
    const progress = recordingProgress();
    const summary = await recomputeDays(["2026-01-05", "2026-01-06", "2026-01-07"], runner(), progress);
    expect(summary).toEqual({ days: 3, rows: 42 });
    expect(bigQuery.queries).toEqual(
      ["2026-01-05", "2026-01-06", "2026-01-07"].map((day) => bigQueryRollupScript(settings, "p", "pixel_dev", { from: { date: day }, to: { date: day } }, { countRows: true })),
    );
    expect(progress.calls).toEqual(["start 3", "1 12", "2 12", "3 42", "stop"]);
    expect(formatRollupSummary(summary, "BigQuery p.pixel_dev")).toBe("recomputed 3 day(s) of rollups in BigQuery p.pixel_dev: 42 rollup rows written");
  });

  test("retries a day that BigQuery aborted for a concurrent transaction, after a pause that doubles", async () => {
    const conflict = { error: "Transaction is aborted due to concurrent update against table p:pixel_dev.rollup_counts." };
    bigQuery.scriptQueries(conflict, conflict, { rowsWritten: 7 });
    expect(await recomputeDays(["2026-01-05"], runner())).toEqual({ days: 1, rows: 7 });
    expect(bigQuery.queries).toHaveLength(3);
    expect(sleeps).toEqual([DEFAULT_RETRY.firstDelayMs, DEFAULT_RETRY.firstDelayMs * 2]);
    expect(warnings[0]).toMatch(/another transaction changed the same rollup table .*trying again in 2 s/);
  });

  test("gives up after its attempts, and never retries another error", async () => {
    const conflict = { error: "Could not serialize access to table p:pixel_dev.rollup_totals due to concurrent update" };
    bigQuery.scriptQueries(...Array.from({ length: DEFAULT_RETRY.attempts }, () => conflict));
    await expect(recomputeDays(["2026-01-05"], runner())).rejects.toThrow(/concurrent update/);
    expect(bigQuery.queries).toHaveLength(DEFAULT_RETRY.attempts);

    bigQuery.reset();
    bigQuery.scriptQueries({ error: "Access Denied: Table p:pixel_dev.rollup_counts: User does not have permission" }, { rowsWritten: 5 });
    const progress = recordingProgress();
    await expect(recomputeDays(["2026-01-05", "2026-01-06"], runner(), progress)).rejects.toThrow(/Access Denied/);
    expect(bigQuery.queries).toHaveLength(1);
    expect(progress.calls).toEqual(["start 2", "stop"]);
  });
});

test("--local recomputes the local database's days and counts the rows they hold", async () => {
  const dir = await makeTempDir();
  const settings = settingsFor();
  try {
    const database = await LocalDatabase.open(path.join(dir, "pixel.duckdb"), settings);
    const event = (id: string, day: string) =>
      acceptedEvent(loadBalancerEntry({ insertId: id, timestamp: `${day}T10:00:00Z`, httpRequest: { requestUrl: pixelUrl("user_id=acme&type=view") } }), settings);
    await database.commit({ events: [event("a", "2026-01-05"), event("b", "2026-01-07")], refusals: [] }, { segment: 1, offset: 1 });
    // One row in each of the six rollups for each day with events; none for the day between.
    expect(await recomputeDays(["2026-01-05", "2026-01-06", "2026-01-07"], (range) => database.rollup(range))).toEqual({ days: 3, rows: 12 });
    database.close();
  } finally {
    await removeDir(dir);
  }
});

test("--local, while npm start holds the data directory, names that server and what to do", async () => {
  const dir = await makeTempDir();
  try {
    const pipeline = await startTestPipeline(dir);
    try {
      const result = await runScript("cli/rollup.ts", ["--stack", "dev", "--local", "--data-dir", dir, "--from", "2026-01-05", "--to", "2026-01-05"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `the data directory ${dir} is in use by the npm start running as process ${process.pid} at ${pipeline.url}: ` +
          `DuckDB lets one process write ${path.join(dir, "pixel.duckdb")}. ` +
          "rollup --local writes the database itself: stop that server (Ctrl-C where it runs) and run the rollup again; while it runs, its loader keeps the rollups of the days it loads up to date. " +
          `To read its data while it runs, use npm run query -- --data-dir ${dir} "SQL".\n`,
      );
    } finally {
      await pipeline.close();
    }
  } finally {
    await removeDir(dir);
  }
});

test.each<[string, Set<string>, "bigquery" | "local" | "dry-run", string]>([
  ["no events", new Set(), "bigquery", "no events, so no rollups to bring up to date"],
  ["one day, locally", new Set(["2026-01-05"]), "local", "the events are of 1 UTC day(s), 2026-01-05; the local rollups of those days were recomputed as the events were stored"],
  [
    "a year of days",
    new Set(["2025-01-02", "2026-01-05", "2025-06-01"]),
    "bigquery",
    "the events are of 3 UTC day(s), 2025-01-02 to 2026-01-05; the scheduled query recomputes only the latest days: once the events are in BigQuery, bring the rollups up to date with:\n  npm run rollup -- --stack dev --from 2025-01-02 --to 2026-01-05 --yes",
  ],
])("rollupHint with %s", (_, days, mode, hint) => {
  expect(rollupHint(days, "dev", mode)).toBe(hint);
});

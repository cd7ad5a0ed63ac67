import fc from "fast-check";
import { LOAD_LEDGER_SCHEMA, LOAD_LEDGER_TABLE, LOAD_OUTCOMES } from "../../core/batchLoad";
import {
  failedAttemptOutcome,
  ledgerHistoryQuery,
  ledgerInsertId,
  ledgerStart,
  MAX_LOAD_ATTEMPTS,
  NO_HISTORY,
  nextAttempt,
  objectHistories,
  planSweep,
  sweepDayPrefixes,
  sweepLookbackStart,
  SWEEP_GRACE_MS,
  SWEEP_LOOKBACK_DAYS,
} from "../../core/loadLedger";
import type { LedgerCount, LedgerSelection, ListedObject } from "../../core/loadLedger";
import { GoogleSqlAnalyzer } from "../../testkit/googleSql";

const BUCKET = "pixel-archive";
const SHARD = "requests/2026/01/05/23:00:00_23:59:59_S0.json";
const T0 = new Date("2026-01-06T02:00:00Z");

function count(object: string, outcome: string, attempts: number, firstRecordedAt = T0): LedgerCount {
  return { object: `gs://${BUCKET}/${object}`, outcome, attempts, firstRecordedAt };
}

describe("attempts and death", () => {
  test("each failed attempt counts, and the last allowed one records dead", () => {
    let history = NO_HISTORY;
    const outcomes = [];
    for (let failures = 0; failures < MAX_LOAD_ATTEMPTS; failures++) {
      const attempt = nextAttempt(history);
      outcomes.push(failedAttemptOutcome(attempt));
      history = objectHistories([count(SHARD, "failed", attempt)]).get(`gs://${BUCKET}/${SHARD}`) ?? NO_HISTORY;
    }
    expect(outcomes).toEqual([...Array<string>(MAX_LOAD_ATTEMPTS - 1).fill("failed"), "dead"]);
  });

  test("a history sums failures and sees loaded and dead rows", () => {
    const histories = objectHistories([count("a.json", "failed", 2), count("a.json", "loaded", 1), count("b.json", "dead", 1), count("b.json", "failed", 4)]);
    expect(histories.get(`gs://${BUCKET}/a.json`)).toEqual({ loaded: true, dead: false, failedAttempts: 2 });
    expect(histories.get(`gs://${BUCKET}/b.json`)).toEqual({ loaded: false, dead: true, failedAttempts: 4 });
  });

  test("ledgerStart is the first row's time, undefined for an empty ledger", () => {
    expect(ledgerStart([])).toBeUndefined();
    expect(ledgerStart([count("a.json", "loaded", 1, new Date("2026-01-07T00:00:00Z")), count("b.json", "failed", 1, T0)])).toEqual(T0);
  });
});

describe("ledgerInsertId", () => {
  test("is the same for the same attempt, and differs when object, generation, outcome or attempt differ", () => {
    const attempt = fc.record({ object: fc.string(), generation: fc.option(fc.string(), { nil: undefined }), outcome: fc.constantFrom(...LOAD_OUTCOMES), attempt: fc.nat() });
    fc.assert(
      fc.property(attempt, attempt, (a, b) => {
        const idA = ledgerInsertId(a.object, a.generation, a.outcome, a.attempt);
        expect(ledgerInsertId(a.object, a.generation, a.outcome, a.attempt)).toBe(idA);
        // insertAll takes at most 128 characters.
        expect(idA.length).toBeLessThanOrEqual(128);
        const same = a.object === b.object && a.generation === b.generation && a.outcome === b.outcome && a.attempt === b.attempt;
        expect(ledgerInsertId(b.object, b.generation, b.outcome, b.attempt) === idA).toBe(same);
      }),
    );
  });
});

describe("planSweep", () => {
  const now = new Date(T0.getTime() + 3 * SWEEP_GRACE_MS);
  const old = new Date(now.getTime() - SWEEP_GRACE_MS);
  const listed = (name: string, createdAt = old): ListedObject => ({ name, createdAt });

  test.each<[string, boolean, ListedObject, LedgerCount[]]>([
    ["a sink object the ledger has not seen", true, listed("requests/2026/01/06/01:00:00_01:59:59_S0.json"), []],
    ["one that failed before", true, listed("requests/2026/01/06/01:00:00_01:59:59_S0.json"), [count("requests/2026/01/06/01:00:00_01:59:59_S0.json", "failed", 2)]],
    ["one already loaded", false, listed("requests/2026/01/06/01:00:00_01:59:59_S0.json"), [count("requests/2026/01/06/01:00:00_01:59:59_S0.json", "loaded", 1)]],
    ["a dead one", false, listed("requests/2026/01/06/01:00:00_01:59:59_S0.json"), [count("requests/2026/01/06/01:00:00_01:59:59_S0.json", "dead", 1)]],
    ["one within the grace period", false, listed("requests/2026/01/06/01:00:00_01:59:59_S0.json", new Date(now.getTime() - SWEEP_GRACE_MS + 1)), []],
    ["one written within the grace period before the ledger's first row", true, listed("requests/2026/01/06/01:00:00_01:59:59_S1.json", new Date(T0.getTime() - SWEEP_GRACE_MS)), []],
    ["one written longer before the ledger's first row", false, listed("requests/2026/01/05/01:00:00_01:59:59_S0.json", new Date(T0.getTime() - SWEEP_GRACE_MS - 1)), []],
    ["an object outside the sink's prefix", false, listed("dead-letters/2026/01/06/x.json"), []],
    ["a sink folder's other file", false, listed("requests/2026/01/06/notes.txt"), []],
  ])("%s: loaded %s", (_name, expected, object, counts) => {
    const ledger = [count(SHARD, "loaded", 1), ...counts];
    const plan = planSweep(BUCKET, [object], objectHistories(ledger), ledgerStart(ledger), now);
    expect(plan.load).toEqual(expected ? [object] : []);
  });

  test("an empty ledger loads nothing: the archive may hold what streaming loaded before", () => {
    expect(planSweep(BUCKET, [listed(SHARD)], new Map(), undefined, now)).toEqual({ load: [], remaining: 0 });
  });

  test("loads at most maxObjects, oldest name first, and counts the rest", () => {
    const names = ["requests/2026/01/06/03:00:00_03:59:59_S0.json", "requests/2026/01/06/01:00:00_01:59:59_S0.json", "requests/2026/01/06/02:00:00_02:59:59_S0.json"];
    const ledger = [count(SHARD, "loaded", 1)];
    const plan = planSweep(BUCKET, names.map((name) => listed(name)), objectHistories(ledger), ledgerStart(ledger), now, 2);
    expect(plan.load.map((object) => object.name)).toEqual([names[1], names[2]]);
    expect(plan.remaining).toBe(1);
  });
});

describe("the sweep's lookback", () => {
  const dayPrefix = (day: string) => `requests/${day.replaceAll("-", "/")}/`;

  test.each<[string, string, string, string[]]>([
    ["an old ledger: the lookback's days, across a month's and a year's end", "2025-06-01T00:00:00Z", "2026-01-03T10:00:00Z", ["2025-12-27", "2025-12-28", "2025-12-29", "2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02", "2026-01-03"]],
    ["a run just after midnight still lists the lookback's first whole day", "2025-06-01T00:00:00Z", "2026-01-08T00:00:01Z", ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]],
    ["a ledger begun within the lookback: from the day before its first row", "2026-01-06T02:00:00Z", "2026-01-07T05:00:00Z", ["2026-01-05", "2026-01-06", "2026-01-07"]],
    ["a ledger begun on the lookback's third day", "2025-12-29T01:00:00Z", "2026-01-03T10:00:00Z", ["2025-12-28", "2025-12-29", "2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02", "2026-01-03"]],
  ])("%s", (_name, start, now, days) => {
    expect(sweepDayPrefixes(new Date(start), new Date(now))).toEqual(days.map(dayPrefix));
  });

  test("covers every hour of the last SWEEP_LOOKBACK_DAYS days, and the ledger rows of every object it lists", () => {
    const time = fc.date({ min: new Date("2024-01-01T00:00:00Z"), max: new Date("2030-01-01T00:00:00Z"), noInvalidDate: true });
    fc.assert(
      fc.property(time, (now) => {
        const prefixes = sweepDayPrefixes(new Date("2020-01-01T00:00:00Z"), now);
        const since = sweepLookbackStart(now);
        // The first listed folder's day is the query's bound: no object in it was recorded earlier.
        expect(prefixes[0]).toBe(dayPrefix(since.toISOString().slice(0, 10)));
        expect(now.getTime() - since.getTime()).toBeGreaterThanOrEqual(SWEEP_LOOKBACK_DAYS * 24 * 60 * 60 * 1000);
        expect(prefixes.at(-1)).toBe(dayPrefix(now.toISOString().slice(0, 10)));
        expect(prefixes).toHaveLength(SWEEP_LOOKBACK_DAYS + 1);
      }),
    );
  });
});

describe("ledgerHistoryQuery", () => {
  let analyzer: GoogleSqlAnalyzer;
  beforeAll(async () => {
    analyzer = await GoogleSqlAnalyzer.start();
  }, 60_000);
  afterAll(async () => {
    await analyzer?.close();
  });

  const ledgerTable = (path: string) => (path === `pixel_dev.${LOAD_LEDGER_TABLE}` ? LOAD_LEDGER_SCHEMA : undefined);

  test.each<LedgerSelection>([
    { object: `gs://${BUCKET}/${SHARD}` },
    { objectsUnder: `gs://${BUCKET}/requests/`, recordedSince: new Date("2025-12-30T00:00:00Z") },
    { object: "gs://b/it's a \\ name\n.json" },
  ])("reads the ledger's counts for %j, as Google's analyzer accepts it", async (selection) => {
    const analysis = await analyzer.analyze(ledgerHistoryQuery("pixel_dev", selection), ledgerTable);
    expect(analysis.columns).toEqual([
      { name: "object", type: "STRING" },
      { name: "outcome", type: "STRING" },
      { name: "attempts", type: "INT64" },
      { name: "first_recorded_at", type: "TIMESTAMP" },
    ]);
  });

  test("the sweep's query reads only the rows recorded since its bound, a constant, so BigQuery prunes the older partitions", () => {
    const sql = ledgerHistoryQuery("pixel_dev", { objectsUnder: `gs://${BUCKET}/requests/`, recordedSince: new Date("2025-12-30T00:00:00Z") });
    expect(sql).toContain("AND recorded_at >= TIMESTAMP '2025-12-30 00:00:00.000+00'");
  });
});

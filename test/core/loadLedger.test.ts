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
  SWEEP_GRACE_MS,
} from "../../core/loadLedger";
import type { LedgerCount, ListedObject } from "../../core/loadLedger";
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

describe("ledgerHistoryQuery", () => {
  let analyzer: GoogleSqlAnalyzer;
  beforeAll(async () => {
    analyzer = await GoogleSqlAnalyzer.start();
  }, 60_000);
  afterAll(async () => {
    await analyzer?.close();
  });

  const ledgerTable = (path: string) => (path === `pixel_dev.${LOAD_LEDGER_TABLE}` ? LOAD_LEDGER_SCHEMA : undefined);

  test.each([{ object: `gs://${BUCKET}/${SHARD}` }, { objectsUnder: `gs://${BUCKET}/requests/` }, { object: "gs://b/it's a \\ name\n.json" }])("reads the ledger's counts for %j, as Google's analyzer accepts it", async (selection) => {
    const analysis = await analyzer.analyze(ledgerHistoryQuery("pixel_dev", selection), ledgerTable);
    expect(analysis.columns).toEqual([
      { name: "object", type: "STRING" },
      { name: "outcome", type: "STRING" },
      { name: "attempts", type: "INT64" },
      { name: "first_recorded_at", type: "TIMESTAMP" },
    ]);
  });
});

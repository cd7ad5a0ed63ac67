import { LOAD_LEDGER_SCHEMA, LOAD_LEDGER_TABLE } from "../../core/batchLoad";
import { bigQueryLedger } from "../../functions/loadLedger";
import type { LedgerEntry } from "../../functions/loadLedger";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { ledgerQueries } from "../../testkit/ledgerQueries";

const bigQuery = new BigQueryStandIn();
const OBJECT = "gs://pixel-archive/requests/2026/01/05/23:00:00_23:59:59_S0.json";
const FIRST = new Date("2026-01-06T02:10:00.123Z");

beforeAll(() => bigQuery.start());
afterAll(() => bigQuery.stop());
beforeEach(() => {
  bigQuery.reset();
  bigQuery.answerQueries(ledgerQueries(bigQuery, "pixel_dev"));
});

const ledger = () => bigQueryLedger(bigQuery.client().dataset("pixel_dev"));

const failed: LedgerEntry = { object: OBJECT, generation: "17", outcome: "failed", attempt: 1, detail: "503 from Cloud Storage", recordedAt: FIRST };
const loaded: LedgerEntry = {
  object: OBJECT,
  generation: "17",
  outcome: "loaded",
  attempt: 2,
  entries: 11,
  rows: 6,
  refused: 5,
  jobs: JSON.stringify([{ table: "pixel_acme_20260105", job_id: "pixel_load_x", rows: 6, status: "loaded" }]),
  recordedAt: new Date(FIRST.getTime() + 60_000),
};

test("streams one row per attempt into the ledger table, in the ledger's columns", async () => {
  await ledger().record(failed);
  const [request] = bigQuery.requests;
  expect(request.path).toBe(`/bigquery/v2/projects/test-project/datasets/pixel_dev/tables/${LOAD_LEDGER_TABLE}/insertAll`);
  const [row] = (request.body as { rows: { insertId: string; json: Record<string, unknown> }[] }).rows;
  expect(row.insertId).toMatch(/^[0-9a-f]{32}$/);
  expect(row.json).toEqual({ object: OBJECT, generation: "17", outcome: "failed", detail: "503 from Cloud Storage", recorded_at: "2026-01-06T02:10:00.123Z" });
  const columns = new Set(LOAD_LEDGER_SCHEMA.map((field) => field.name));
  await ledger().record(loaded);
  for (const stored of bigQuery.rowsIn(LOAD_LEDGER_TABLE)) expect(Object.keys(stored as object).filter((key) => !columns.has(key))).toEqual([]);
});

test("writing the same attempt again adds no row; each attempt adds one", async () => {
  await ledger().record(failed);
  await ledger().record(failed);
  await ledger().record(loaded);
  expect(bigQuery.rowsIn(LOAD_LEDGER_TABLE)).toHaveLength(2);
});

test("reads the counts by object and outcome back with a query, with the first row's time", async () => {
  const other = "gs://pixel-archive/requests/2026/01/06/00:00:00_00:59:59_S0.json";
  for (const entry of [failed, loaded, { ...failed, object: other, recordedAt: new Date(FIRST.getTime() + 120_000) }]) await ledger().record(entry);
  expect(await ledger().counts({ object: OBJECT })).toEqual([
    { object: OBJECT, outcome: "failed", attempts: 1, firstRecordedAt: FIRST },
    { object: OBJECT, outcome: "loaded", attempts: 1, firstRecordedAt: loaded.recordedAt },
  ]);
  expect(await ledger().counts({ objectsUnder: "gs://pixel-archive/requests/", recordedSince: FIRST })).toHaveLength(3);
  // The stand-in's emulation keeps the query's time bound: only the rows recorded since are counted.
  expect(await ledger().counts({ objectsUnder: "gs://pixel-archive/requests/", recordedSince: loaded.recordedAt })).toEqual([
    { object: OBJECT, outcome: "loaded", attempts: 1, firstRecordedAt: loaded.recordedAt },
    { object: other, outcome: "failed", attempts: 1, firstRecordedAt: new Date(FIRST.getTime() + 120_000) },
  ]);
  expect(bigQuery.queries).toHaveLength(3);
});

test("a failed insert is an error, so that the attempt is not taken as recorded", async () => {
  bigQuery.script({ status: 503, body: { error: { code: 503, message: "backend error" } } });
  await expect(ledger().record(failed)).rejects.toThrow();
});

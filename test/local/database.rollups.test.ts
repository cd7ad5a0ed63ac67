import * as path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { AcceptedEvent } from "../../core/event";
import { consecutiveDays, rollupTables } from "../../core/rollups";
import { dailyAggregates } from "../../core/views";
import { LocalDatabase } from "../../local/database";
import type { JsonRow } from "../../local/database";
import { createRollupTableSql, duckDbDialect } from "../../local/duckdbSchema";
import { makeTempDir, removeDir } from "../../testkit/localPipeline";
import { acceptedEvent, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { settingsFor } from "../../testkit/settings";

/**
 * The rollups the loader keeps, batch by batch, against the same aggregates recomputed from
 * events_dedup over everything stored: late events, replayed duplicates, dnt and bot rows included.
 */
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

interface Visit {
  readonly id: string;
  readonly tenant: string;
  readonly timestamp: string;
  readonly userAgent?: string;
  readonly referer?: string;
  readonly query?: string;
  readonly remoteIp?: string;
}

const v = (id: string, tenant: string, timestamp: string, more: Partial<Visit> = {}): Visit => ({ id, tenant, timestamp, ...more });

/** What the loader commits, batch by batch. */
const BATCHES: readonly (readonly Visit[])[] = [
  [
    v("a1", "acme", "2026-01-05T10:00:00Z", { referer: "https://shop.example.com/a?x=1" }),
    v("a2", "acme", "2026-01-05T11:00:00Z", { referer: "https://shop.example.com/b", query: "utm_source=news&utm_campaign=jan" }),
    v("a3", "acme", "2026-01-05T12:00:00Z", { userAgent: PHONE, remoteIp: "212.27.48.10" }),
    v("a4", "acme", "2026-01-05T13:00:00Z", { userAgent: "curl/8.5.0" }),
    v("a5", "acme", "2026-01-05T14:00:00Z", { query: "dnt=1" }),
    v("g1", "globex", "2026-01-05T15:00:00Z"),
    v("a6", "acme", "2026-01-06T09:00:00Z"),
  ],
  // Replayed duplicates of the first batch, today's events, and a late event of two days ago.
  [
    v("a1", "acme", "2026-01-05T10:00:00Z", { referer: "https://shop.example.com/a?x=1" }),
    v("a4", "acme", "2026-01-05T13:00:00Z", { userAgent: "curl/8.5.0" }),
    v("a7", "acme", "2026-01-07T08:00:00Z", { query: "dnt=1", userAgent: PHONE }),
    v("g2", "globex", "2026-01-07T08:30:00Z", { userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) GoogleImageProxy" }),
  ],
  [v("late", "acme", "2026-01-05T23:59:59Z", { referer: "https://shop.example.com/a", query: "utm_source=news&utm_campaign=jan" })],
];

let settings: CoreSettings;
let dir: string;
let file: string;
let database: LocalDatabase;

function event(visit: Visit): AcceptedEvent {
  const entry = loadBalancerEntry({
    insertId: visit.id,
    timestamp: visit.timestamp,
    httpRequest: {
      requestUrl: pixelUrl(`user_id=${visit.tenant}&type=view${visit.query ? `&${visit.query}` : ""}`),
      userAgent: visit.userAgent ?? FIREFOX,
      referer: visit.referer ?? "https://shop.example.com/",
      remoteIp: visit.remoteIp ?? "89.160.20.156",
    },
  });
  return acceptedEvent(entry, settings);
}

async function commit(visits: readonly Visit[], offset: number): Promise<void> {
  await database.commit({ events: visits.map(event), refusals: [] }, { segment: 1, offset });
}

/** Every rollup table's rows but computed_at, and the same aggregates computed now from events_dedup, in one order. */
async function rollupsAndRecomputation(): Promise<{ table: string; rollup: JsonRow[]; recomputed: JsonRow[] }[]> {
  return Promise.all(
    dailyAggregates(settings).map(async (aggregate) => {
      const order = `ORDER BY ${aggregate.columns.map((_, index) => index + 1).join(", ")}`;
      const columns = aggregate.columns.map((name) => duckDbDialect.identifier(name)).join(", ");
      return {
        table: aggregate.rollup,
        rollup: await database.query(`SELECT ${columns} FROM ${aggregate.rollup} ${order}`),
        recomputed: await database.query(`SELECT * FROM (${aggregate.query(duckDbDialect.table("events_dedup"), duckDbDialect)}) ${order}`),
      };
    }),
  );
}

const computedAt = async (table: string, day: string, tenant = "acme") =>
  (await database.query(`SELECT DISTINCT computed_at FROM ${table} WHERE event_date = DATE '${day}' AND tenant = '${tenant}'`)).map((row) => row.computed_at);

beforeEach(async () => {
  settings = settingsFor();
  dir = await makeTempDir();
  file = path.join(dir, "pixel.duckdb");
  database = await LocalDatabase.open(file, settings);
});

afterEach(async () => {
  database.close();
  await removeDir(dir);
});

test("after every batch, each rollup table equals its aggregate recomputed from events_dedup, every column and row", async () => {
  for (const [index, batch] of BATCHES.entries()) {
    await commit(batch, index + 1);
    for (const { table, rollup, recomputed } of await rollupsAndRecomputation()) {
      expect({ table, rows: rollup }).toEqual({ table, rows: recomputed });
    }
  }
  const all = await rollupsAndRecomputation();
  // The corpus reaches what it is for: bots, dnt rows (no visitor), e-mail proxies, two tenants, three days.
  const totals = all.find((entry) => entry.table === "rollup_totals")!.rollup;
  expect(totals.map((row) => `${row.tenant} ${row.event_date}`)).toEqual(["acme 2026-01-05", "acme 2026-01-06", "acme 2026-01-07", "globex 2026-01-05", "globex 2026-01-07"]);
  expect(totals[0]).toMatchObject({ events: 6, bot_events: 1, human_events: 5 });
  expect(Number(totals[0].visitors)).toBeLessThan(Number(totals[0].human_events));
  expect(totals.some((row) => Number(row.email_proxy_events) > 0)).toBe(true);
});

test("a late event recomputes its own tenant's day only", async () => {
  await commit(BATCHES[0], 1);
  await commit(BATCHES[1], 2);
  const before = { late: await computedAt("rollup_totals", "2026-01-05"), others: [await computedAt("rollup_totals", "2026-01-06"), await computedAt("rollup_totals", "2026-01-07")] };
  await commit(BATCHES[2], 3);
  const after = { late: await computedAt("rollup_totals", "2026-01-05"), others: [await computedAt("rollup_totals", "2026-01-06"), await computedAt("rollup_totals", "2026-01-07")] };
  expect(after.others).toEqual(before.others);
  expect(after.late).toHaveLength(1);
  expect(String(after.late[0]) > String(before.late[0])).toBe(true);
  for (const table of rollupTables(settings)) {
    expect(await computedAt(table.name, "2026-01-05")).toEqual(after.late);
  }
});

test("a batch of one tenant recomputes that tenant's rows of the day and leaves another tenant's rows of the same day untouched", async () => {
  await commit(BATCHES[0], 1);
  const rowsOf = (tenant: string) => Promise.all(rollupTables(settings).map((table) => database.query(`SELECT * FROM ${table.name} WHERE tenant = '${tenant}' AND event_date = DATE '2026-01-05' ORDER BY ALL`)));
  const globex = await rowsOf("globex");
  const acme = await computedAt("rollup_totals", "2026-01-05");
  expect(globex.every((rows) => rows.length > 0)).toBe(true);
  // The late event is acme's, on the day globex has events too.
  await commit(BATCHES[2], 2);
  expect(await rowsOf("globex")).toEqual(globex);
  const acmeAfter = (await rowsOf("acme")).flat().map((row) => String(row.computed_at));
  expect(new Set(acmeAfter).size).toBe(1);
  expect(acmeAfter[0] > String(acme[0])).toBe(true);
});

test("a range's days with no events produce no rows and no error; the same days again give the same rows", async () => {
  await commit(BATCHES[0], 1);
  expect(await database.rollup({ from: "2020-01-01", to: "2020-01-31" })).toBe(0);
  expect(await database.query(`SELECT count(*) AS n FROM rollup_totals WHERE event_date < DATE '2026-01-01'`)).toEqual([{ n: 0 }]);
  // The same days again: the same rows.
  const rows = await rollupsAndRecomputation();
  expect(await database.rollup({ from: "2026-01-01", to: "2026-01-31" })).toBe(rows.reduce((sum, entry) => sum + entry.rollup.length, 0));
  expect(await rollupsAndRecomputation()).toEqual(rows);
});

test("a run whose INSERT fails leaves every rollup's previous rows of its days in place", async () => {
  await commit(BATCHES[0], 1);
  const before = await Promise.all(rollupTables(settings).map((table) => database.query(`SELECT * FROM ${table.name} ORDER BY ALL`)));
  database.close();
  // rollup_totals, replaced last, refuses any row computed from now on: its INSERT fails after every other table's DELETE and INSERT.
  const instance = await DuckDBInstance.create(file);
  const connection = await instance.connect();
  const totals = rollupTables(settings).at(-1)!;
  expect(totals.name).toBe("rollup_totals");
  const [{ cutoff }] = (await connection.runAndReadAll(`SELECT CAST(max(computed_at) AS VARCHAR) AS cutoff FROM rollup_totals`)).getRowObjectsJS();
  await connection.run(`ALTER TABLE rollup_totals RENAME TO totals_kept`);
  await connection.run(createRollupTableSql(totals.name, totals.schema).replace(/\)$/, `, CHECK (computed_at <= TIMESTAMP '${String(cutoff)}'))`));
  await connection.run(`INSERT INTO rollup_totals SELECT * FROM totals_kept`);
  await connection.run(`DROP TABLE totals_kept`);
  connection.closeSync();
  instance.closeSync();
  database = await LocalDatabase.open(file, settings);
  await expect(database.rollup({ from: "2026-01-05", to: "2026-01-06" })).rejects.toThrow(/CHECK|constraint/i);
  await expect(commit(BATCHES[2], 2)).rejects.toThrow(/CHECK|constraint/i);
  const after = await Promise.all(rollupTables(settings).map((table) => database.query(`SELECT * FROM ${table.name} ORDER BY ALL`)));
  expect(after).toEqual(before);
});

test("consecutiveDays groups a batch's days into the fewest ranges", () => {
  expect(consecutiveDays(["2026-01-07", "2026-01-05", "2026-01-06", "2026-01-05", "2025-12-31", "2026-01-01", "2026-03-01"])).toEqual([
    { from: "2025-12-31", to: "2026-01-01" },
    { from: "2026-01-05", to: "2026-01-07" },
    { from: "2026-03-01", to: "2026-03-01" },
  ]);
  expect(consecutiveDays([])).toEqual([]);
});

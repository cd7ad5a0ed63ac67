import { mkdir, readdir, stat, utimes, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { ROLLUPS } from "../../core/layout";
import { LocalDatabase } from "../../local/database";
import { Loader } from "../../local/loader";
import { segmentFileName } from "../../local/spool";
import { makeTempDir, removeDir, spooledPixelLine } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

jest.setTimeout(60_000);

// A real DuckDB file and spool: two old days and a recent one, with a refusal in each; a retention
// of 30 days prunes the old days' events, rollups and refusals, and the spool segment that held them.
const NOW = Date.parse("2026-12-05T13:00:00Z");
const OLD_DAYS = ["2026-01-10", "2026-10-01"];
const RECENT_DAY = "2026-11-20";
const nanos = (day: string, second: number) => BigInt(Date.parse(`${day}T12:00:${String(second).padStart(2, "0")}Z`)) * 1_000_000n;
const dayLines = (day: string) => [
  spooledPixelLine(`${day}-1`, "user_id=acme&type=view", nanos(day, 1)),
  spooledPixelLine(`${day}-2`, "user_id=beta&type=view", nanos(day, 2)),
  // No tenant: a refusal of that day.
  spooledPixelLine(`${day}-3`, "type=view", nanos(day, 3)),
];

let dir: string;
let database: LocalDatabase;
let loader: Loader;
beforeEach(async () => {
  dir = await makeTempDir();
  const spoolDir = path.join(dir, "spool");
  await mkdir(spoolDir, { recursive: true });
  const old = `${OLD_DAYS.flatMap(dayLines).join("\n")}\n`;
  const recent = `${dayLines(RECENT_DAY).join("\n")}\n`;
  await writeFile(path.join(spoolDir, segmentFileName(1)), old);
  await writeFile(path.join(spoolDir, segmentFileName(2)), recent);
  // Segment 1 was last written on its last day; segment 2 is the one being written now.
  await utimes(path.join(spoolDir, segmentFileName(1)), new Date(`${OLD_DAYS[1]}T13:00:00Z`), new Date(`${OLD_DAYS[1]}T13:00:00Z`));
  const settings = settingsFor({ attributes: { user_id: "STRING", type: "STRING" } });
  database = await LocalDatabase.open(path.join(dir, "pixel.duckdb"), settings);
  const end = { segment: 2, offset: (await stat(path.join(spoolDir, segmentFileName(2)))).size };
  loader = await Loader.create({ spoolDir, database, settings, retentionDays: 30, durableEnd: () => end, log: () => undefined, warn: () => undefined });
  await loader.drain();
});

afterEach(async () => {
  await loader.stop();
  database.close();
  await removeDir(dir);
});

const byDay = async (table: string, column: string) =>
  Object.fromEntries((await database.query(`SELECT CAST(${column} AS VARCHAR) AS day, count(*) AS n FROM ${table} GROUP BY 1 ORDER BY 1`)).map((row) => [row.day, Number(row.n)]));

test("removes the events, rollups, refusals and loaded spool segments older than the retention, and nothing newer", async () => {
  const all = [...OLD_DAYS, RECENT_DAY];
  expect(await byDay("events_partitioned", "event_date")).toEqual(Object.fromEntries(all.map((day) => [day, 2])));
  expect(Object.keys(await byDay(ROLLUPS.counts, "event_date"))).toEqual(all);
  expect(await byDay("refusals", "CAST(request_timestamp AS DATE)")).toEqual(Object.fromEntries(all.map((day) => [day, 1])));
  const rollupsOfRecentDay = await database.query(`SELECT * FROM ${ROLLUPS.counts} WHERE event_date = DATE '${RECENT_DAY}' ORDER BY ALL`);
  // The pixels carry no user agent, so they are bots: the rollups of people (pages, devices …) hold none of them.
  const rollupDays = async () => Object.fromEntries(await Promise.all(Object.values(ROLLUPS).map(async (rollup) => [rollup, Object.keys(await byDay(rollup, "event_date"))] as const)));
  const rollupDaysBefore = await rollupDays();

  const pruned = await loader.pruneExpired(NOW);

  // 30 days up to 2026-12-05 start on 2026-11-06.
  expect(pruned).toEqual({ oldestKept: "2026-11-06", events: 4, rollupRows: expect.any(Number), refusals: 2, segments: 1 });
  expect(pruned!.rollupRows).toBeGreaterThan(0);
  expect(await byDay("events_partitioned", "event_date")).toEqual({ [RECENT_DAY]: 2 });
  expect(await rollupDays()).toEqual(Object.fromEntries(Object.entries(rollupDaysBefore).map(([rollup, days]) => [rollup, days.filter((day) => day === RECENT_DAY)])));
  expect(await database.query(`SELECT * FROM ${ROLLUPS.counts} WHERE event_date = DATE '${RECENT_DAY}' ORDER BY ALL`)).toEqual(rollupsOfRecentDay);
  expect(await byDay("refusals", "CAST(request_timestamp AS DATE)")).toEqual({ [RECENT_DAY]: 1 });
  expect(await readdir(path.join(dir, "spool"))).toEqual([segmentFileName(2)]);
});

test("a second prune removes nothing, and a retention of for ever never prunes", async () => {
  await loader.pruneExpired(NOW);
  expect(await loader.pruneExpired(NOW)).toEqual({ oldestKept: "2026-11-06", events: 0, rollupRows: 0, refusals: 0, segments: 0 });
  const forever = await Loader.create({ spoolDir: path.join(dir, "spool"), database, settings: settingsFor({ attributes: { user_id: "STRING", type: "STRING" } }), durableEnd: () => ({ segment: 2, offset: 0 }), log: () => undefined, warn: () => undefined });
  expect(await forever.pruneExpired(NOW)).toBeUndefined();
});

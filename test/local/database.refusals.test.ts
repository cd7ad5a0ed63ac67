import { stat } from "node:fs/promises";
import * as path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { LocalDatabase } from "../../local/database";
import type { RefusalRecord } from "../../local/database";
import { REFUSAL_ENTRY_BYTES } from "../../local/refusalBounds";
import { countRows, freshDirectoryEachTest, httpRequest, query } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

jest.setTimeout(300_000);

const local = freshDirectoryEachTest();

// Any web page can make the browser send these: refused (no tenant), each with a 15 KB URL.
const PAD = "p".repeat(15_000);
const MAX_REFUSALS = 400;
const FLOOD = 1000;
const CONNECTIONS = 20;

async function flood(pixelUrl: string, from: number): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < from + FLOOD) {
        const answer = await httpRequest(`${pixelUrl}?n=${next++}&pad=${PAD}`);
        expect(answer.status).toBe(200);
      }
    }),
  );
}

async function databaseBytes(): Promise<number> {
  return (await stat(path.join(local.dir, "pixel.duckdb"))).size;
}

async function usedBlocks(): Promise<number> {
  const instance = await DuckDBInstance.create(path.join(local.dir, "pixel.duckdb"), { access_mode: "READ_ONLY" });
  try {
    const connection = await instance.connect();
    const [[used]] = (await connection.runAndReadAll("SELECT used_blocks FROM pragma_database_size()")).getRows();
    connection.closeSync();
    return Number(used);
  } finally {
    instance.closeSync();
  }
}

it("keeps the database bounded under a flood of refused requests with 15 KB URLs: each stored cut, the newest kept", async () => {
  const sizes: number[] = [];
  const blocks: number[] = [];
  for (const round of [0, 1, 2]) {
    const { pixelUrl } = await local.startPipeline(undefined, { maxRefusals: MAX_REFUSALS });
    await flood(pixelUrl, round * FLOOD);
    // A good pixel after the flood: it is loaded like any other.
    await httpRequest(`${pixelUrl}?user_id=acme&order_id=${round}`);
    // Closing loads the spool and checkpoints the WAL into the file.
    await local.stopPipeline();
    sizes.push(await databaseBytes());
    blocks.push(await usedBlocks());
  }
  expect(await countRows(local.dir)).toBe(3);
  const [refusals] = await query(local.dir, `SELECT count(*) AS n, max(strlen(log_entry)) AS bytes, min(CAST(regexp_extract(log_entry, '[?]n=(\\d+)', 1) AS INT)) AS oldest FROM refusals`);
  // Down to nine tenths of the bound each time it is passed, so between the two.
  expect(refusals.n).toBeGreaterThanOrEqual(MAX_REFUSALS * 0.9);
  expect(refusals.n).toBeLessThanOrEqual(MAX_REFUSALS);
  expect(refusals.bytes).toBeLessThanOrEqual(REFUSAL_ENTRY_BYTES);
  // The newest kept: all from the last round's last requests (connections answer slightly out of order).
  expect(refusals.oldest).toBeGreaterThanOrEqual(3 * FLOOD - MAX_REFUSALS - CONNECTIONS);
  // Stored whole, 1,000 such refusals took 16 MB. Cut, they take under 4 KB each, and with the oldest
  // dropped the blocks in use stay as they were after the first round (DELETE let them grow on).
  expect(sizes[0]).toBeLessThan(FLOOD * 4096);
  // The file's length also counts blocks freed by the dropped table until DuckDB reuses or cuts
  // them off, so it swings from round to round; the blocks in use do not.
  expect(blocks[2]).toBeLessThanOrEqual(blocks[0] + 2);
});

it("never deletes dead letters to make room, and deletes the oldest refusals first", async () => {
  const database = await LocalDatabase.open(path.join(local.dir, "pixel.duckdb"), settingsFor(), { maxRefusals: 10 });
  const refusal = (segment: number, offset: number, reason: string): RefusalRecord => ({
    message_id: `${segment}:${offset}`,
    reason,
    severity: "WARNING",
    detail: "",
    request_timestamp: null,
    log_entry: "{}",
  });
  try {
    // Offsets that sort wrongly as text (9 after 10), in a second segment after the first.
    await database.commit({ events: [], refusals: [refusal(1, 5, "row_rejected"), ...[9, 10, 11].map((offset) => refusal(1, offset, "missing_tenant"))] }, { segment: 1, offset: 12 });
    await database.commit({ events: [], refusals: Array.from({ length: 8 }, (_, offset) => refusal(2, offset, "missing_tenant")) }, { segment: 2, offset: 8 });
    const kept = await database.read([{ sql: `SELECT message_id FROM refusals ORDER BY ALL` }]);
    // 11 refusals passed the bound of 10: the 9 newest are kept, and the dead letter, whatever its age.
    expect(kept[0].map((row) => row.message_id)).toEqual(["1:11", "1:5", "2:0", "2:1", "2:2", "2:3", "2:4", "2:5", "2:6", "2:7"]);
  } finally {
    database.close();
  }
});

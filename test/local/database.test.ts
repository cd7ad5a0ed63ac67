import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { templateSchema } from "../../core/schema";
import { LocalDatabase, openInstance, spillDirectory } from "../../local/database";
import { createTableSql } from "../../local/duckdbSchema";
import { acceptedEvent, loadBalancerEntry } from "../../testkit/logEntries";
import { freshDirectoryEachTest } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

const local = freshDirectoryEachTest();

it("moves the day tables of a file written by an older version into the one stored table, once", async () => {
  const file = path.join(local.dir, "pixel.duckdb");
  const settings = settingsFor();
  // The older layout: a table per tenant and day, made from the template, and no stored table.
  const older = await DuckDBInstance.create(file);
  const connection = await older.connect();
  // With an attribute the stack has dropped since.
  const olderSchema = templateSchema(settingsFor({ attributes: { user_id: "STRING", dropped: "STRING" } }).attributes);
  for (const [table, id] of [["pixel_acme_20260105", "a"], ["pixel_acmeX2Dcorp_20260106", "b"]]) {
    await connection.run(createTableSql(table, olderSchema));
    await connection.run(`INSERT INTO ${table} (event_timestamp, insert_id, user_id) VALUES ('2026-01-05 10:00:00', '${id}', 'x')`);
  }
  connection.closeSync();
  older.closeSync();

  for (let open = 0; open < 2; open++) {
    const database = await LocalDatabase.open(file, settings);
    try {
      expect(await database.query(`SELECT tenant, CAST(event_date AS VARCHAR) AS day, insert_id FROM events ORDER BY insert_id`)).toEqual([
        { tenant: "acme", day: "2026-01-05", insert_id: "a" },
        { tenant: "acme-corp", day: "2026-01-06", insert_id: "b" },
      ]);
      expect(await database.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'pixel\\_%' ESCAPE '\\'`)).toEqual([{ n: 0 }]);
      expect(await database.query(`SELECT insert_id FROM pixel_acme_20260105`)).toEqual([{ insert_id: "a" }]);
    } finally {
      database.close();
    }
  }
});

it("reads several statements at one moment: a batch committed meanwhile is in all of them or in none", async () => {
  const settings = settingsFor();
  const database = await LocalDatabase.open(path.join(local.dir, "pixel.duckdb"), settings);
  try {
    const batch = (first: number) => ({
      events: Array.from({ length: 50 }, (_, index) => acceptedEvent(loadBalancerEntry({ insertId: `e${first + index}` }), settings)),
      refusals: [],
    });
    await database.commit(batch(0), { segment: 1, offset: 1 });
    const count = { sql: "SELECT count(*) AS n FROM events" };
    // One transaction for the whole read (DuckDB's id of it), with a batch committed while it runs.
    const transaction = { sql: "SELECT txid_current() AS id" };
    const [reads] = await Promise.all([
      database.read([count, transaction, { sql: "SELECT count(*) AS n FROM range(20000000)" }, count, transaction]),
      database.commit(batch(50), { segment: 1, offset: 2 }),
    ]);
    const [before, [{ id: firstId }], , after, [{ id: lastId }]] = reads;
    expect(lastId).toBe(firstId);
    expect(after).toEqual(before);
    expect(await database.query(count.sql)).toEqual([{ n: 100 }]);
  } finally {
    database.close();
  }
});

describe("spilling", () => {
  // Scaled down from the real bounds (1 GB of memory, SPILL_LIMIT): the same mechanism, in seconds.
  const limits = { memory: "100MB", spill: "50MB" };
  // A window over 8 million rows of about 50 bytes: about 180 MB to spill with 100 MB of memory.
  const spilling = `SELECT max(s) AS s FROM (SELECT i::VARCHAR || repeat('x', 40) AS s, row_number() OVER (ORDER BY hash(i)) AS r FROM range(8000000) t(i))`;

  it("stops a query at the spill limit, with DuckDB's message, and leaves no spill files", async () => {
    const file = path.join(local.dir, "pixel.duckdb");
    const instance = await openInstance(file, { threads: "1" }, limits);
    const connection = await instance.connect();
    try {
      await expect(connection.run(spilling)).rejects.toThrow(/failed to offload data block .*max_temp_directory_size/s);
      // The limit is locked like every other setting.
      await expect(connection.run(`SET max_temp_directory_size = '10GB'`)).rejects.toThrow(/configuration has been locked/);
      expect(await readdir(spillDirectory(file)).catch(() => [])).toEqual([]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it("removes the spill files a killed run left, when the server opens the file", async () => {
    const file = path.join(local.dir, "pixel.duckdb");
    await mkdir(spillDirectory(file), { mode: 0o700 });
    await writeFile(path.join(spillDirectory(file), "duckdb_temp_storage_DEFAULT-0.tmp"), Buffer.alloc(1 << 20), { mode: 0o600 });
    const database = await LocalDatabase.open(file, settingsFor());
    database.close();
    expect(existsSync(spillDirectory(file))).toBe(false);
  });
});

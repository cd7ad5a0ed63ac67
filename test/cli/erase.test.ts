import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import {
  applyBigQueryErasure,
  eraseRequestFrom,
  parseEraseArgs,
  planBigQueryErasure,
  purgeDeadLetters,
  runErase,
  streamingBufferAdvice,
} from "../../cli/erase";
import type { EraseDependencies, EraseTerminal } from "../../cli/erase";
import { UsageError } from "../../cli/runner";
import type { CoreSettings } from "../../core/config/coreSettings";
import { erasureDays, noErasure } from "../../core/erasure";
import { PARTITIONED_TABLE, ROLLUPS, TENANT_COLUMN } from "../../core/layout";
import { tableSuffix } from "../../core/tenant";
import { googleApi } from "../../functions/googleApi";
import { LocalDatabase } from "../../local/database";
import type { RefusalRecord } from "../../local/database";
import { dataPaths } from "../../local/paths";
import { segmentFileName } from "../../local/spool";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import type { QueryAnswer } from "../../testkit/bigQueryStandIn";
import { captureCommandOutput } from "../../testkit/console";
import { GcsStandIn } from "../../testkit/gcsStandIn";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { makeTempDir, removeDir } from "../../testkit/localPipeline";
import { PubSubStandIn } from "../../testkit/pubsubStandIn";
import { settingsFor } from "../../testkit/settings";

const output = captureCommandOutput();
const TODAY = "2026-03-10";
const NOW = new Date(`${TODAY}T12:00:00Z`);

/** Tenants whose names, or encodings, start with another's: erasing one must leave the others whole. */
const NEIGHBOURS = ["acme", "acme_eu", "acmeX", "acmeeu", "Acme"] as const;

describe("the command line", () => {
  const request = (...argv: string[]) => eraseRequestFrom(parseEraseArgs(argv), TODAY);

  test.each<[string, string[], RegExp]>([
    ["no tenant", ["--stack", "dev", "--local"], /pass --tenant/],
    ["an empty tenant", ["--stack", "dev", "--tenant", "", "--local"], /pass --tenant/],
    ["a tenant longer than any stored", ["--stack", "dev", "--tenant", "a".repeat(65), "--local"], /at most 64 bytes/],
    ["an unparsable --before", ["--stack", "dev", "--tenant", "acme", "--before", "10.03.2026", "--local"], /--before must be a UTC day as YYYY-MM-DD, got "10.03.2026"/],
    ["a --before that does not exist", ["--stack", "dev", "--tenant", "acme", "--before", "2026-02-30", "--local"], /--before must be a UTC day/],
    ["a --before in the future", ["--stack", "dev", "--tenant", "acme", "--before", "2026-03-11", "--local"], /--before 2026-03-11 is in the future \(today is 2026-03-10 UTC\)/],
    ["BigQuery flags with --local", ["--stack", "dev", "--tenant", "acme", "--local", "--project", "p"], /are for BigQuery, not with --local/],
    ["a stack without --outputs", ["--stack", "dev", "--tenant", "acme"], /pass --outputs/],
  ])("refuses %s", (_, argv, message) => {
    expect(() => request(...argv)).toThrow(UsageError);
    expect(() => request(...argv)).toThrow(message);
  });

  test("--before today is taken, and covers the days before it only; without it every day is covered", () => {
    expect(request("--stack", "dev", "--tenant", "acme", "--before", TODAY, "--local").days).toEqual({ from: "0001-01-01", to: "2026-03-09" });
    expect(request("--stack", "dev", "--tenant", "acme", "--local").days).toEqual({ from: "0001-01-01", to: "9999-12-31" });
    expect(erasureDays("2026-03-01")).toEqual({ from: "0001-01-01", to: "2026-02-28" });
  });
});

/** A model of the tenant-carrying tables behind the stand-in: it answers the erasure's COUNT and DELETE from their SQL. */
class TenantRows {
  readonly rows = new Map<string, { tenant: string; day: string }[]>();
  /** Tables whose DELETE BigQuery refuses for the streaming buffer. */
  readonly buffered = new Set<string>();

  answer = (sql: string): QueryAnswer | { error: string } => {
    const match = /FROM `[^`.]+\.[^`.]+\.(\w+)` WHERE `event_date` BETWEEN DATE '([\d-]+)' AND DATE '([\d-]+)' AND `tenant` = '((?:[^'\\]|\\.)*)'/.exec(sql);
    if (!match) throw new Error(`the model does not know ${sql}`);
    const [, table, from, to, tenant] = match;
    const rows = this.rows.get(table) ?? [];
    const hit = (row: { tenant: string; day: string }) => row.tenant === tenant.replace(/\\(.)/g, "$1") && row.day >= from && row.day <= to;
    const count = rows.filter(hit).length;
    if (sql.startsWith("DELETE")) {
      if (!sql.includes("SELECT @@row_count")) throw new Error("a DELETE reports its rows with @@row_count");
      if (this.buffered.has(table)) return { error: `UPDATE or DELETE statement over table p.d.${table} would affect rows in the streaming buffer, which is not supported` };
      this.rows.set(table, rows.filter((row) => !hit(row)));
    }
    return { fields: [{ name: "row_count", type: "INTEGER" }], rows: [[String(count)]] };
  };
}

function dayTableName(settings: CoreSettings, tenant: string, day: string): string {
  return settings.templateTable + tableSuffix(tenant, day.replace(/-/g, ""));
}

describe("against BigQuery (the loopback stand-in, through the real client)", () => {
  const bigQuery = new BigQueryStandIn();
  const model = new TenantRows();
  beforeAll(() => bigQuery.start());
  afterAll(() => bigQuery.stop());
  beforeEach(() => {
    bigQuery.reset();
    bigQuery.tablesPageSize = 3;
    model.rows.clear();
    model.buffered.clear();
    bigQuery.answerQueries(model.answer);
  });

  /** Every neighbour has day tables of two days, and rows in the partitioned table and a rollup. */
  function seed(settings: CoreSettings): void {
    for (const name of [settings.templateTable, "events", "events_dedup", ...Object.values(ROLLUPS), PARTITIONED_TABLE, `${settings.templateTable}_acme`]) bigQuery.tables.set(name, { tableId: name, numRows: "0" });
    for (const tenant of NEIGHBOURS) {
      for (const day of ["2026-01-01", "2026-01-02"]) {
        bigQuery.tables.set(dayTableName(settings, tenant, day), { tableId: dayTableName(settings, tenant, day), numRows: "10" });
        for (const table of [PARTITIONED_TABLE, ROLLUPS.counts]) model.rows.set(table, [...(model.rows.get(table) ?? []), { tenant, day }, { tenant, day }]);
      }
    }
  }

  test.each(NEIGHBOURS.map((tenant) => [tenant]))("erasing %s drops exactly its day tables and rows, through every page of tables.list", async (tenant) => {
    const settings = settingsFor({ layout: "partitioned" });
    seed(settings);
    const before = new Map(bigQuery.tables);
    const plan = await planBigQueryErasure(bigQuery.client(), settings, "test-project", "pixel_dev", tenant, erasureDays());
    expect(plan.dayTables).toEqual(["2026-01-01", "2026-01-02"].map((day) => ({ name: dayTableName(settings, tenant, day), rows: 10 })));
    expect(plan.rows.find((table) => table.table === PARTITIONED_TABLE)?.rows).toBe(4);
    // Nine pages of three: the listing follows nextPageToken to the end.
    expect(bigQuery.requests.filter((request) => request.method === "GET" && request.path.endsWith("/tables")).length).toBe(Math.ceil(before.size / bigQuery.tablesPageSize));

    const counts = noErasure();
    expect(await applyBigQueryErasure(bigQuery.client(), "pixel_dev", plan, counts)).toEqual({ streamingBuffer: [] });
    expect(counts).toMatchObject({ dayTables: 2, dayTableRows: 20, rows: { [PARTITIONED_TABLE]: 4, [ROLLUPS.counts]: 4 } });
    const gone = [...before.keys()].filter((name) => !bigQuery.tables.has(name));
    expect(gone.sort()).toEqual(plan.dayTables.map((table) => table.name));
    for (const other of NEIGHBOURS.filter((name) => name !== tenant)) {
      expect(bigQuery.tables.has(dayTableName(settings, other, "2026-01-01"))).toBe(true);
      expect(model.rows.get(PARTITIONED_TABLE)!.filter((row) => row.tenant === other)).toHaveLength(4);
    }
    expect(model.rows.get(PARTITIONED_TABLE)!.filter((row) => row.tenant === tenant)).toEqual([]);
  });

  test("every DELETE and COUNT carries an event_date range, the partition filter DML needs; --before limits tables and rows to the days before it", async () => {
    const settings = settingsFor({ layout: "partitioned" });
    seed(settings);
    const plan = await planBigQueryErasure(bigQuery.client(), settings, "test-project", "pixel_dev", "acme", erasureDays("2026-01-02"));
    expect(plan.dayTables.map((table) => table.name)).toEqual([dayTableName(settings, "acme", "2026-01-01")]);
    expect(plan.rows.map((table) => table.table)).toEqual([PARTITIONED_TABLE, ...Object.values(ROLLUPS)]);
    for (const sql of bigQuery.queries) expect(sql).toMatch(/WHERE `event_date` BETWEEN DATE '0001-01-01' AND DATE '2026-01-01' AND `tenant` = 'acme'/);
    await applyBigQueryErasure(bigQuery.client(), "pixel_dev", plan, noErasure());
    expect(model.rows.get(PARTITIONED_TABLE)!.filter((row) => row.tenant === "acme").map((row) => row.day)).toEqual(["2026-01-02", "2026-01-02"]);
  });

  test("per-tenant-day has no partitioned table to delete from: only the rollups", async () => {
    const settings = settingsFor();
    seed(settings);
    const plan = await planBigQueryErasure(bigQuery.client(), settings, "test-project", "pixel_dev", "acme", erasureDays());
    expect(plan.rows.map((table) => table.table)).toEqual(Object.values(ROLLUPS));
  });

  test("a DELETE aborted by a concurrent transaction (the scheduled rollup query) is run again", async () => {
    const settings = settingsFor({ layout: "partitioned" });
    seed(settings);
    const plan = await planBigQueryErasure(bigQuery.client(), settings, "test-project", "pixel_dev", "acme", erasureDays());
    let aborted = false;
    bigQuery.answerQueries((sql) => {
      if (!aborted && sql.startsWith(`DELETE FROM \`test-project.pixel_dev.${ROLLUPS.counts}\``)) {
        aborted = true;
        return { error: "Transaction is aborted due to concurrent update against table test-project:pixel_dev.rollup_counts." };
      }
      return model.answer(sql);
    });
    const sleeps: number[] = [];
    const counts = noErasure();
    await applyBigQueryErasure(bigQuery.client(), "pixel_dev", plan, counts, { attempts: 3, firstDelayMs: 1000, sleep: async (ms) => void sleeps.push(ms) });
    expect(sleeps).toEqual([1000]);
    expect(counts.rows[ROLLUPS.counts]).toBe(4);
    expect(output.stderr.join("\n")).toMatch(/another transaction changed the same rollup table/);
  });

  test("rows in the streaming buffer: the DELETE is refused, the rest goes on, and the advice names when to run again", async () => {
    const settings = settingsFor({ layout: "partitioned" });
    seed(settings);
    model.buffered.add(PARTITIONED_TABLE);
    const counts = noErasure();
    const plan = await planBigQueryErasure(bigQuery.client(), settings, "test-project", "pixel_dev", "acme", erasureDays());
    expect(await applyBigQueryErasure(bigQuery.client(), "pixel_dev", plan, counts)).toEqual({ streamingBuffer: [PARTITIONED_TABLE] });
    expect(counts.dayTables).toBe(2);
    expect(counts.rows[ROLLUPS.counts]).toBe(4);
    expect(model.rows.get(PARTITIONED_TABLE)!.filter((row) => row.tenant === "acme")).toHaveLength(4);
    const advice = streamingBufferAdvice([PARTITIONED_TABLE], NOW, "npm run erase -- --stack dev --tenant acme");
    expect(advice).toMatch(/streaming buffer/);
    expect(advice).toMatch(/run the same command again after 12:30 UTC \(if BigQuery refuses again, at 13:30 UTC at the latest\)/);
  });
});

describe("dead letters (the Pub/Sub stand-in)", () => {
  const subscription = "projects/p/subscriptions/pixel-dead-letters";
  const pubsub = new PubSubStandIn(subscription, "projects/p/topics/pixel-requests");
  beforeAll(() => pubsub.start());
  afterAll(() => pubsub.stop());
  beforeEach(() => pubsub.waiting.clear());

  function deadLetter(query: string, timestamp = "2026-01-01T10:00:00Z"): string {
    return pubsub.add({ data: Buffer.from(JSON.stringify(loadBalancerEntry({ timestamp, httpRequest: { requestUrl: pixelUrl(query) } }))).toString("base64") });
  }

  test("the tenant's messages are acknowledged, every other one is handed back; a dry run removes none; a second run finds none", async () => {
    const own = [deadLetter("user_id=acme"), deadLetter("user_id=acme&user_id=other")];
    const others = [deadLetter("user_id=acme_eu"), deadLetter("user_id=acmeX"), deadLetter("user_id=acmeeu"), deadLetter("user_id=acme", "2026-03-01T00:00:00Z")];
    const api = googleApi(pubsub.endpoint);
    const days = erasureDays("2026-02-01");
    expect(await purgeDeadLetters(api, subscription, DEV_SETTINGS, "acme", days, true)).toBe(2);
    expect(pubsub.waiting.size).toBe(6);
    expect(await purgeDeadLetters(api, subscription, DEV_SETTINGS, "acme", days, false)).toBe(2);
    expect([...pubsub.waiting.keys()].sort()).toEqual(others.sort());
    expect(own.some((id) => pubsub.waiting.has(id))).toBe(false);
    expect(await purgeDeadLetters(api, subscription, DEV_SETTINGS, "acme", days, false)).toBe(0);
    // Nothing stays leased: a redrive sees the others at once.
    expect(await purgeDeadLetters(api, subscription, DEV_SETTINGS, "acme_eu", days, true)).toBe(1);
  });
});

describe("the whole command", () => {
  const bigQuery = new BigQueryStandIn();
  const subscription = "projects/test-project/subscriptions/pixel-dead-letters";
  const pubsub = new PubSubStandIn(subscription, "projects/test-project/topics/pixel-requests");
  const gcs = new GcsStandIn();
  const ARCHIVE = "pixel-archive";
  const OBJECT = "requests/2026/01/01/10:00:00_10:59:59_S0.json";
  const model = new TenantRows();
  let dir: string;
  beforeAll(async () => {
    await bigQuery.start();
    await pubsub.start();
    await gcs.start();
  });
  afterAll(async () => {
    await bigQuery.stop();
    await pubsub.stop();
    await gcs.stop();
  });
  beforeEach(async () => {
    dir = await makeTempDir();
    bigQuery.reset();
    pubsub.waiting.clear();
    model.rows.clear();
    bigQuery.answerQueries(model.answer);
    await writeFile(path.join(dir, "outputs.json"), JSON.stringify({ deadLetterSubscription: "pixel-dead-letters", requestLogTopic: "pixel-requests", archiveBucket: `gs://${ARCHIVE}` }));
    gcs.buckets.clear();
    gcs.put(ARCHIVE, OBJECT, ["acme", "acme_eu", "acme"].map((tenant) => `${JSON.stringify(loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl(`user_id=${tenant}`) } }))}\n`).join(""));
    for (const tenant of ["acme", "acme_eu"]) {
      bigQuery.tables.set(dayTableName(DEV_SETTINGS, tenant, "2026-01-01"), { tableId: dayTableName(DEV_SETTINGS, tenant, "2026-01-01"), numRows: "3" });
      model.rows.set(ROLLUPS.totals, [...(model.rows.get(ROLLUPS.totals) ?? []), { tenant, day: "2026-01-01" }]);
    }
  });
  afterEach(() => removeDir(dir));

  function dependencies(answers: string[] = [], isTTY = true): EraseDependencies & { asked: string[] } {
    const asked: string[] = [];
    const terminal: EraseTerminal = { isTTY, ask: async (question) => (asked.push(question), answers.shift() ?? "") };
    return { asked, bigQuery: () => bigQuery.client(), pubsub: () => googleApi(pubsub.endpoint), storage: () => googleApi(gcs.endpoint), terminal, now: () => NOW, who: async () => ({ user: "operator", account: "ops@example.com" }) };
  }

  const argv = (...extra: string[]) => parseEraseArgs(["--stack", "dev", "--tenant", "acme", "--project", "test-project", "--outputs", path.join(dir, "outputs.json"), "--data-dir", dir, ...extra]);
  const auditLines = async () => (await readFile(path.join(dir, "erase-audit.ndjson"), "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);

  test("a dry run prints the tables and rows that would go and changes nothing", async () => {
    expect(await runErase(argv("--dry-run"), dependencies())).toBe(0);
    const text = output.stdout.join("\n");
    expect(text).toContain(`${dayTableName(DEV_SETTINGS, "acme", "2026-01-01")}  3 rows`);
    expect(text).toContain(`${ROLLUPS.totals}: 1 rows`);
    expect(text).toContain("archive: 2 entries in 1 of 1 objects");
    expect(text).toContain("dry run: nothing was changed");
    expect(bigQuery.tables.size).toBe(2);
    expect(gcs.buckets.get(ARCHIVE)!.get(OBJECT)!.toString()).toMatch(/user_id=acme"/);
    expect(model.rows.get(ROLLUPS.totals)).toHaveLength(2);
    expect((await auditLines())[0]).toMatchObject({ outcome: "dry-run", tenant: "acme", dryRun: true });
  });

  test("asks before it erases: no on a terminal changes nothing; without a terminal it needs --yes", async () => {
    const declined = dependencies(["n"]);
    expect(await runErase(argv(), declined)).toBe(1);
    expect(declined.asked).toEqual([expect.stringMatching(/Erase all of the above of tenant "acme" from stack dev\? .*\[y\/N\]/)]);
    expect(bigQuery.tables.size).toBe(2);
    await expect(runErase(argv(), dependencies([], false))).rejects.toThrow(/stdin is not a terminal.*pass --yes/);
    expect(bigQuery.tables.size).toBe(2);
    expect((await auditLines()).map((line) => line.outcome)).toEqual(["declined"]);
  });

  test("yes erases the tenant's table and rollup rows, not its neighbour's; a second run finds nothing; the audit holds counts and names only", async () => {
    pubsub.add({ data: Buffer.from(JSON.stringify(loadBalancerEntry({ timestamp: "2026-01-01T10:00:00Z", httpRequest: { requestUrl: pixelUrl("user_id=acme") } }))).toString("base64") });
    const confirmedRun = dependencies(["y"]);
    expect(await runErase(argv(), confirmedRun)).toBe(0);
    expect([...bigQuery.tables.keys()]).toEqual([dayTableName(DEV_SETTINGS, "acme_eu", "2026-01-01")]);
    expect(model.rows.get(ROLLUPS.totals)).toEqual([{ tenant: "acme_eu", day: "2026-01-01" }]);
    expect(pubsub.waiting.size).toBe(0);
    const archived = gcs.buckets.get(ARCHIVE)!.get(OBJECT)!.toString();
    expect(archived).not.toMatch(/user_id=acme"/);
    expect(archived).toMatch(/user_id=acme_eu"/);
    expect(output.stdout.join("\n")).toMatch(
      /erased tenant "acme" of every day: 1 day table\(s\) dropped \(3 rows\), 1 rows of rollup_totals, 1 dead letter\(s\) removed; archive: 1 object\(s\) scanned, 1 rewritten, 2 entries removed/,
    );

    output.stdout.length = 0;
    expect(await runErase(argv("--yes"), dependencies())).toBe(0);
    expect(output.stdout.join("\n")).toMatch(/tenant "acme" has no data of every day in BigQuery test-project\.pixel_dev, .* and gs:\/\/pixel-archive\/requests\/: nothing was erased/);

    const [erased, second] = await auditLines();
    expect(erased).toMatchObject({ time: NOW.toISOString(), who: { user: "operator", account: "ops@example.com" }, stack: "dev", tenant: "acme", outcome: "erased", counts: { dayTables: 1, dayTableRows: 3, deadLetters: 1 } });
    expect(erased).toMatchObject({ counts: { archiveObjects: 1, archiveRewritten: 1, archiveEntries: 2 } });
    expect(second).toMatchObject({ outcome: "nothing-found", counts: { dayTables: 0, deadLetters: 0, archiveEntries: 0 } });
    expect(JSON.stringify(erased)).not.toMatch(/89\.160|Mozilla|shop\.example/);
  });

  test("an unknown tenant erases nothing and says so", async () => {
    expect(await runErase(parseEraseArgs(["--stack", "dev", "--tenant", "nobody", "--project", "test-project", "--outputs", path.join(dir, "outputs.json"), "--data-dir", dir, "--yes"]), dependencies())).toBe(0);
    expect(output.stdout.join("\n")).toMatch(/tenant "nobody" has no data of every day .*: nothing was erased/);
    expect(gcs.buckets.get(ARCHIVE)!.get(OBJECT)!.toString().match(/user_id=/g)).toHaveLength(3);
    expect(bigQuery.tables.size).toBe(2);
  });
});

describe("--local, on a real DuckDB file and spool", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => removeDir(dir));

  const TENANTS = ["acme", "acme_eu", "acmeX"];

  function entryLine(tenant: string, insertId: string, timestamp = "2026-01-01T10:00:00Z"): string {
    return JSON.stringify(loadBalancerEntry({ insertId, timestamp, httpRequest: { requestUrl: pixelUrl(`user_id=${encodeURIComponent(tenant)}&type=click`) } }));
  }

  /** A loaded data directory: a segment of every tenant's requests (two days each), their rows and rollups, and one refusal each. */
  async function seed(): Promise<void> {
    const paths = dataPaths(dir);
    const lines = TENANTS.flatMap((tenant, index) => [entryLine(tenant, `a${index}`), entryLine(tenant, `b${index}`, "2026-01-02T10:00:00Z")]);
    await mkdir(paths.spoolDir, { recursive: true, mode: 0o700 });
    const segment = `${lines.join("\n")}\n`;
    await writeFile(path.join(paths.spoolDir, segmentFileName(1)), segment, { mode: 0o600 });
    const refusals: RefusalRecord[] = TENANTS.map((tenant, index) => ({
      message_id: `1:${900 + index}`,
      reason: "tenant_not_allowed",
      severity: "WARNING",
      detail: "tenant",
      request_timestamp: "2026-01-01T10:00:00Z",
      // Cut short, as a long refused entry is stored: no longer JSON, still the tenant's.
      log_entry: entryLine(tenant, `r${index}`).slice(0, 400),
    }));
    const database = await LocalDatabase.open(paths.database, DEV_SETTINGS);
    try {
      await database.commit({ events: lines.map((line) => acceptedEvent(JSON.parse(line))), refusals }, { segment: 1, offset: Buffer.byteLength(segment) });
    } finally {
      database.close();
    }
  }

  async function byTenant(sql: string): Promise<Record<string, number>> {
    const database = await LocalDatabase.open(dataPaths(dir).database, DEV_SETTINGS);
    try {
      const [rows] = await database.read([{ sql }]);
      return Object.fromEntries(rows.map((row) => [String(row.tenant), Number(row.n)]));
    } finally {
      database.close();
    }
  }

  const counts = async () => ({
    events: await byTenant(`SELECT ${TENANT_COLUMN} AS tenant, count(*) AS n FROM ${PARTITIONED_TABLE} GROUP BY 1`),
    rollups: await byTenant(`SELECT ${TENANT_COLUMN} AS tenant, count(*) AS n FROM ${ROLLUPS.totals} GROUP BY 1`),
    refusals: await byTenant(`SELECT CASE WHEN log_entry LIKE '%user_id=acme&%' THEN 'acme' WHEN log_entry LIKE '%user_id=acme_eu%' THEN 'acme_eu' ELSE 'acmeX' END AS tenant, count(*) AS n FROM refusals GROUP BY 1`),
    spool: (await readFile(path.join(dir, "spool", segmentFileName(1)), "utf8")).trim().split("\n").length,
  });

  const run = (...extra: string[]) =>
    runErase(parseEraseArgs(["--stack", "dev", "--tenant", "acme", "--local", "--data-dir", dir, ...extra]), {
      bigQuery: () => {
        throw new Error("--local never calls BigQuery");
      },
      pubsub: () => {
        throw new Error("--local never calls Pub/Sub");
      },
      storage: () => {
        throw new Error("--local never calls Cloud Storage");
      },
      terminal: { isTTY: false, ask: () => Promise.reject(new Error("--local never asks")) },
      now: () => NOW,
      who: async () => ({ user: "operator" }),
    });

  test("removes the tenant's rows, rollups, refusals and spool lines, keeps every neighbour's, and a second run finds nothing", async () => {
    await seed();
    const before = await counts();
    expect(before).toEqual({ events: { acme: 2, acme_eu: 2, acmeX: 2 }, rollups: { acme: 2, acme_eu: 2, acmeX: 2 }, refusals: { acme: 1, acme_eu: 1, acmeX: 1 }, spool: 6 });

    expect(await run("--dry-run")).toBe(0);
    expect(output.stdout.join("\n")).toMatch(/events_partitioned: 2 rows[\s\S]*refusals: 1 stored entries[\s\S]*spool: 2 lines[\s\S]*dry run: nothing was changed/);
    expect(await counts()).toEqual(before);

    expect(await run()).toBe(0);
    expect(await counts()).toEqual({ events: { acme_eu: 2, acmeX: 2 }, rollups: { acme_eu: 2, acmeX: 2 }, refusals: { acme_eu: 1, acmeX: 1 }, spool: 4 });
    expect(await readFile(path.join(dir, "spool", segmentFileName(1)), "utf8")).not.toMatch(/user_id=acme&/);
    expect((await readdir(path.join(dir, "spool"))).sort()).toEqual([segmentFileName(1)]);

    output.stdout.length = 0;
    expect(await run()).toBe(0);
    expect(output.stdout[0]).toMatch(/tenant "acme" has no data of every day in .*pixel\.duckdb or its spool: nothing to erase/);
    const audit = (await readFile(path.join(dir, "erase-audit.ndjson"), "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { outcome: string; counts: { spoolLines: number } });
    expect(audit.map((line) => line.outcome)).toEqual(["dry-run", "erased", "nothing-found"]);
    expect(audit[1].counts.spoolLines).toBe(2);
  });

  test("--before keeps the tenant's days from that day on", async () => {
    await seed();
    expect(await run("--before", "2026-01-02")).toBe(0);
    const after = await counts();
    expect(after.events).toEqual({ acme: 1, acme_eu: 2, acmeX: 2 });
    expect(after.spool).toBe(5);
  });

  test("a data directory without a database or spool has nothing to erase, and is left without one", async () => {
    expect(await run()).toBe(0);
    expect(output.stdout[0]).toMatch(/tenant "acme" has no data of every day .*: nothing to erase/);
    expect(await readdir(dir)).toEqual(["erase-audit.ndjson"]);
  });

  test("refuses while the spool holds requests not loaded yet", async () => {
    await seed();
    await writeFile(path.join(dir, "spool", segmentFileName(2)), `${entryLine("acme", "late")}\n`, { mode: 0o600 });
    await expect(run()).rejects.toThrow(/holds \d+ bytes of requests not loaded .* Run npm start on this data directory until its loader has caught up/);
    expect((await counts()).events.acme).toBe(2);
  });

  test("the loader starts after the erased segments: a new segment loads as before", async () => {
    await seed();
    expect(await run()).toBe(0);
    const database = await LocalDatabase.open(dataPaths(dir).database, DEV_SETTINGS);
    try {
      expect(await database.readCheckpoint()).toEqual({ segment: 2, offset: 0 });
    } finally {
      database.close();
    }
  });
});

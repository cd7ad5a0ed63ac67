import { applyRetention, dayTableChanges, expiringPartitions, formatExpiringPartitions, formatRetentionReport, PAST_RETENTION_GRACE_MS, partitionedTables } from "../../cli/retention";
import { PARTITIONED_TABLE, ROLLUPS } from "../../core/layout";
import { settingsFor } from "../../testkit/settings";
import { encodeTenant } from "../../core/tenant";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";

const NOW = Date.parse("2026-12-05T13:00:00Z");
const DAY_MS = 86_400_000;
const at = (day: string) => Date.parse(`${day}T00:00:00Z`);

describe("dayTableChanges", () => {
  test("gives each exact day table its day + the retention, and touches nothing else", () => {
    const changes = dayTableChanges(
      [
        { tableId: "pixel_acme_20260101" },
        { tableId: `pixel_${encodeTenant("acme-eu")}_20260102`, expirationTime: String(at("2026-01-02") + 30 * DAY_MS) },
        { tableId: "pixel" },
        { tableId: "pixel_acme" },
        { tableId: "pixel_acme_2026010" },
        { tableId: "pixel_acme_20261301" },
        { tableId: "pixelx_acme_20260101" },
        { tableId: "events" },
        { tableId: "rollup_counts" },
      ],
      "pixel",
      400,
      NOW,
    );
    expect(changes).toEqual([
      { table: "pixel_acme_20260101", day: "2026-01-01", to: at("2026-01-01") + 400 * DAY_MS, expiresAtOnce: false },
      { table: `pixel_${encodeTenant("acme-eu")}_20260102`, day: "2026-01-02", from: at("2026-01-02") + 30 * DAY_MS, to: at("2026-01-02") + 400 * DAY_MS, expiresAtOnce: false },
    ]);
  });

  test("a table past its retention expires an hour after the run, since BigQuery refuses an expiration in the past", () => {
    expect(dayTableChanges([{ tableId: "pixel_acme_20241001" }], "pixel", 400, NOW)).toEqual([
      { table: "pixel_acme_20241001", day: "2024-10-01", to: NOW + PAST_RETENTION_GRACE_MS, expiresAtOnce: true },
    ]);
  });

  test("the day exactly at its retention is past it: it expired at this midnight", () => {
    expect(dayTableChanges([{ tableId: "pixel_acme_20261204" }, { tableId: "pixel_acme_20261205" }], "pixel", 1, NOW).map((change) => [change.day, change.expiresAtOnce])).toEqual([
      ["2026-12-04", true],
      ["2026-12-05", false],
    ]);
  });

  test("tables that already expire as the retention says are left alone", () => {
    expect(dayTableChanges([{ tableId: "pixel_acme_20260101", expirationTime: String(at("2026-01-01") + 400 * DAY_MS) }], "pixel", 400, NOW)).toEqual([]);
    expect(dayTableChanges([{ tableId: "pixel_acme_20200101", expirationTime: String(NOW + 60_000) }], "pixel", 400, NOW)).toEqual([]);
  });
});

describe("against the BigQuery stand-in", () => {
  const bigQuery = new BigQueryStandIn();
  beforeAll(() => bigQuery.start());
  afterAll(() => bigQuery.stop());
  beforeEach(() => {
    bigQuery.reset();
    bigQuery.tablesPageSize = 3;
    // Seven day tables over four pages of three, beside the template, a view and a rollup.
    for (const day of ["20240101", "20240102", "20260601", "20260602", "20261201"]) bigQuery.tables.set(`pixel_acme_${day}`, { tableId: `pixel_acme_${day}`, numRows: "10", numBytes: "1000" });
    bigQuery.tables.set("pixel_beta_20240301", { tableId: "pixel_beta_20240301", numRows: "5", numBytes: "500", expirationTime: String(Date.now() + 3650 * DAY_MS) });
    bigQuery.tables.set("pixel_beta_20261130", { tableId: "pixel_beta_20261130", numRows: "1", numBytes: "100" });
    bigQuery.tables.set("pixel", { tableId: "pixel" });
    bigQuery.tables.set("events", { tableId: "events", type: "VIEW" });
    bigQuery.tables.set("rollup_counts", { tableId: "rollup_counts" });
  });

  const dataset = () => bigQuery.client().dataset("pixel_dev");
  const expirations = () => Object.fromEntries([...bigQuery.tables.values()].map((table) => [table.tableId, table.expirationTime]));

  test("--dry-run lists every page, says what would go at once, and changes nothing", async () => {
    const now = Date.now();
    const before = expirations();
    const report = await applyRetention(dataset(), { templateTable: "pixel", retentionDays: 365, now, dryRun: true });
    expect(report.dayTables).toBe(7);
    expect(report.changes).toHaveLength(7);
    // 2024's three tables are older than 365 days, whatever day the test runs from 2025 to mid-2027.
    expect(report.atOnce).toEqual({ tables: 3, rows: 25, bytes: 2500 });
    expect(expirations()).toEqual(before);
    expect(bigQuery.requests.filter((request) => request.method === "PATCH")).toEqual([]);
    expect(bigQuery.requests.filter((request) => request.method === "GET" && request.path.endsWith("/tables"))).toHaveLength(4);
    expect(formatRetentionReport(report, "BigQuery p.pixel_dev", 365)).toMatch(/^BigQuery p\.pixel_dev: 7 day table\(s\); would set the expiration of 7 to their day \+ 365 days\n[\s\S]*\n3 table\(s\), 25 row\(s\), 2500 byte\(s\) would expire within the hour\.$/);
  });

  test("sets each day table's expiration, no other table's, deletes none, and a second run changes nothing", async () => {
    const now = Date.now();
    const report = await applyRetention(dataset(), { templateTable: "pixel", retentionDays: 365, now, dryRun: false });
    expect(report.applied).toBe(true);
    expect(bigQuery.tables.size).toBe(10);
    expect(bigQuery.requests.filter((request) => request.method === "DELETE")).toEqual([]);
    const after = expirations();
    expect(after.pixel).toBeUndefined();
    expect(after.events).toBeUndefined();
    expect(after.rollup_counts).toBeUndefined();
    expect(after.pixel_acme_20260601).toBe(String(at("2026-06-01") + 365 * DAY_MS));
    expect(after.pixel_beta_20240301).toBe(String(now + PAST_RETENTION_GRACE_MS));
    const again = await applyRetention(dataset(), { templateTable: "pixel", retentionDays: 365, now, dryRun: false });
    expect(again.changes).toEqual([]);
    expect(expirations()).toEqual(after);
  });
});

describe("the partitions that expire at the next update", () => {
  const bigQuery = new BigQueryStandIn();
  beforeAll(() => bigQuery.start());
  afterAll(() => bigQuery.stop());
  beforeEach(() => bigQuery.reset());

  test("are the rollups' in both layouts, and events_partitioned's in the partitioned one", () => {
    expect(partitionedTables(settingsFor()).sort()).toEqual([...Object.values(ROLLUPS)].sort());
    expect(partitionedTables(settingsFor({ layout: "partitioned" }))[0]).toBe(PARTITIONED_TABLE);
  });

  test("are read from INFORMATION_SCHEMA.PARTITIONS before the oldest kept day, and summed per table", async () => {
    bigQuery.scriptQueryRows([
      { table_name: PARTITIONED_TABLE, partition_id: "20240101", total_rows: "10", total_logical_bytes: "1000" },
      { table_name: PARTITIONED_TABLE, partition_id: "20240102", total_rows: "5", total_logical_bytes: "500" },
      { table_name: ROLLUPS.counts, partition_id: "20240101", total_rows: "2", total_logical_bytes: null },
    ]);
    const partitions = await expiringPartitions(bigQuery.client(), "p", "pixel_dev", [PARTITIONED_TABLE, ROLLUPS.counts], "2024-11-06");
    expect(partitions).toEqual([
      { table: PARTITIONED_TABLE, days: 2, first: "2024-01-01", last: "2024-01-02", rows: 15, bytes: 1500 },
      { table: ROLLUPS.counts, days: 1, first: "2024-01-01", last: "2024-01-01", rows: 2, bytes: 0 },
    ]);
    expect(bigQuery.queries).toEqual([expect.stringContaining("FROM `p.pixel_dev.INFORMATION_SCHEMA.PARTITIONS`")]);
    const job = bigQuery.requests.find((request) => request.method === "POST" && request.path.endsWith("/jobs"))!.body as { configuration: { query: { queryParameters: { name: string; parameterValue: unknown }[] } } };
    expect(job.configuration.query.queryParameters.find((parameter) => parameter.name === "before")?.parameterValue).toEqual({ value: "20241106" });
    expect(formatExpiringPartitions(partitions, "2024-11-06")).toBe(
      `partitions older than 2024-11-06, which expire at the next pulumi up (the program sets their expiration):\n  ${PARTITIONED_TABLE}: 2 day(s), 2024-01-01 to 2024-01-02, 15 row(s), 1500 byte(s)\n  ${ROLLUPS.counts}: 1 day(s), 2024-01-01 to 2024-01-01, 2 row(s), 0 byte(s)`,
    );
    expect(formatExpiringPartitions([], "2024-11-06")).toBe("no partition is older than 2024-11-06.");
  });
});

import fc from "fast-check";
import { allTenantsCoverage, entryErased, erasureDays, isTenantDayTable, tenantRowsStatements } from "../../core/erasure";
import { PARTITIONED_TABLE, ROLLUPS } from "../../core/layout";
import { tableSuffix } from "../../core/tenant";
import { bigQueryDialect } from "../../core/views";
import { duckDbDialect } from "../../local/duckdbSchema";
import { GoogleSqlAnalyzer, stackTables } from "../../testkit/googleSql";
import { loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { settingsFor } from "../../testkit/settings";

const ALL_DAYS = erasureDays();

describe("isTenantDayTable", () => {
  test.each<[string, string, boolean]>([
    ["pixel_acme_20260101", "acme", true],
    ["pixel_acmeX5Feu_20260101", "acme", false],
    ["pixel_acmeX58_20260101", "acme", false],
    ["pixel_acmeeu_20260101", "acme", false],
    ["pixel_X41cme_20260101", "acme", false],
    ["pixel_acmeX5Feu_20260101", "acme_eu", true],
    ["pixel_acme_2026010", "acme", false],
    ["pixel_acme", "acme", false],
    ["pixel", "acme", false],
    ["pixelx_acme_20260101", "acme", false],
    ["events_partitioned", "acme", false],
  ])("%s is a day table of %s: %s", (table, tenant, expected) => {
    expect(isTenantDayTable(table, "pixel", tenant, ALL_DAYS)).toBe(expected);
  });

  test("--before: the days before it only", () => {
    expect(isTenantDayTable("pixel_acme_20260101", "pixel", "acme", erasureDays("2026-01-02"))).toBe(true);
    expect(isTenantDayTable("pixel_acme_20260102", "pixel", "acme", erasureDays("2026-01-02"))).toBe(false);
  });

  test("a tenant's erasure never matches another tenant's day table, whatever the two names", () => {
    const tenant = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(tenant, tenant, (erased, other) => {
        fc.pre(erased !== other);
        expect(isTenantDayTable(`pixel${tableSuffix(other, "20260101")}`, "pixel", erased, ALL_DAYS)).toBe(false);
        expect(isTenantDayTable(`pixel${tableSuffix(erased, "20260101")}`, "pixel", erased, ALL_DAYS)).toBe(true);
      }),
    );
  });
});

describe("entryErased", () => {
  const settings = settingsFor();
  const entry = (query: string, timestamp = "2026-01-01T10:00:00Z") => JSON.stringify(loadBalancerEntry({ timestamp, httpRequest: { requestUrl: pixelUrl(query) } }));

  test.each<[string, string, boolean]>([
    ["the tenant's request", entry("user_id=acme"), true],
    ["a request naming it among others", entry("user_id=other&user_id=acme"), true],
    ["its name encoded in the URL", entry("user_id=%61cme"), true],
    ["a neighbour's", entry("user_id=acme_eu"), false],
    ["a tenant that starts with it", entry("user_id=acmeeu"), false],
    ["the tenant in another parameter", entry("type=acme&user_id=other"), false],
    ["an entry cut short, no longer JSON", entry("user_id=acme").slice(0, 400), true],
    ["a neighbour's entry cut short", entry("user_id=acme_eu").slice(0, 400), false],
    ["text that is no entry", "not json", false],
  ])("%s: %s", (_, text, expected) => {
    expect(entryErased(text, settings, "acme", ALL_DAYS)).toBe(expected);
  });

  test("--before keeps the entries of that day on; an entry without a timestamp goes", () => {
    expect(entryErased(entry("user_id=acme", "2026-01-01T23:59:59Z"), settings, "acme", erasureDays("2026-01-02"))).toBe(true);
    expect(entryErased(entry("user_id=acme", "2026-01-02T00:00:00Z"), settings, "acme", erasureDays("2026-01-02"))).toBe(false);
    expect(entryErased(JSON.stringify(loadBalancerEntry({ timestamp: undefined, httpRequest: { requestUrl: pixelUrl("user_id=acme") } })), settings, "acme", erasureDays("2026-01-02"))).toBe(true);
  });
});

test("tenantRowsStatements: the partitioned table (partitioned only) and every rollup, each with an event_date range and the tenant, quoted", () => {
  const partitioned = tenantRowsStatements(settingsFor({ layout: "partitioned" }), duckDbDialect, "o'brien", erasureDays("2026-01-02"));
  expect(partitioned.map((statement) => statement.table)).toEqual([PARTITIONED_TABLE, ...Object.values(ROLLUPS)]);
  for (const statement of partitioned) {
    expect(statement.delete).toBe(`DELETE FROM "${statement.table}" WHERE "event_date" BETWEEN DATE '0001-01-01' AND DATE '2026-01-01' AND "tenant" = 'o''brien'`);
    expect(statement.count).toBe(`SELECT COUNT(*) AS row_count FROM "${statement.table}" WHERE "event_date" BETWEEN DATE '0001-01-01' AND DATE '2026-01-01' AND "tenant" = 'o''brien'`);
  }
  expect(tenantRowsStatements(settingsFor(), duckDbDialect, "acme", ALL_DAYS).map((statement) => statement.table)).toEqual(Object.values(ROLLUPS));
});

test.each<[string, readonly string[], string | undefined, ReturnType<typeof allTenantsCoverage>]>([
  ["a listed user", ["user:ops@example.com"], "ops@example.com", "listed"],
  ["a listed service account", ["serviceAccount:eraser@p.iam.gserviceaccount.com"], "eraser@p.iam.gserviceaccount.com", "listed"],
  ["the user's domain", ["domain:example.com"], "ops@example.com", "listed"],
  ["someone else only", ["user:ana@example.com"], "ops@example.com", "not-listed"],
  ["a group it may be in", ["group:analysts@example.com"], "ops@example.com", "maybe"],
  ["an account gcloud does not name", ["user:ana@example.com"], undefined, "maybe"],
])("allTenantsCoverage: %s", (_, readers, account, expected) => {
  expect(allTenantsCoverage(readers, account)).toBe(expected);
});

describe("tenantRowsStatements in GoogleSQL (ZetaSQL's analyzer, BigQuery's language)", () => {
  let analyzer: GoogleSqlAnalyzer;
  beforeAll(async () => {
    analyzer = await GoogleSqlAnalyzer.start();
  });
  afterAll(() => analyzer.close());

  test.each([["partitioned"], ["per-tenant-day"]] as const)("every DELETE and count of the %s layout is valid against the stack's tables", async (layout) => {
    const settings = settingsFor({ layout });
    const statements = tenantRowsStatements(settings, bigQueryDialect("p", "d"), "o'brien\\", erasureDays("2026-01-02"));
    for (const statement of statements) {
      await analyzer.analyze(statement.delete, stackTables(settings, "p", "d"));
      expect((await analyzer.analyze(statement.count, stackTables(settings, "p", "d"))).columns).toEqual([{ name: "row_count", type: "INT64" }]);
    }
  });
});

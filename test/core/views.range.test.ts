import * as path from "node:path";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { AcceptedEvent } from "../../core/event";
import { BREAKDOWNS, bigQueryDialect, rangeBreakdownQuery, rangeDaysQuery, rangeTotalsQuery, viewQueries } from "../../core/views";
import type { TenantRange } from "../../core/views";
import { LocalDatabase } from "../../local/database";
import { duckDbDialect } from "../../local/duckdbSchema";
import { analyzeViews, GoogleSqlAnalyzer, stackTables } from "../../testkit/googleSql";
import { makeTempDir, removeDir } from "../../testkit/localPipeline";
import { acceptedEvent, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { settingsFor } from "../../testkit/settings";

// The dashboard's answers for a tenant over a range of days, read from the rollups the loader keeps.
let SETTINGS: CoreSettings;
beforeAll(() => {
  SETTINGS = settingsFor();
});
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const VISITS: [tenant: string, day: string, userAgent: string, referer: string][] = [
  // One person on two days of the range: visitor ids are daily, so two visitor-days.
  ["acme", "2026-01-05", FIREFOX, "https://shop.example.com/a"],
  ["acme", "2026-01-06", FIREFOX, "https://shop.example.com/a"],
  ["acme", "2026-01-06", FIREFOX, "https://shop.example.com/b"],
  ["acme", "2026-01-06", "curl/8.5.0", "https://shop.example.com/b"],
  // Outside the range, and another tenant: never counted.
  ["acme", "2026-01-08", FIREFOX, "https://shop.example.com/c"],
  ["globex", "2026-01-06", FIREFOX, "https://shop.example.com/a"],
];
const RANGE: TenantRange = { tenant: "acme", from: "2026-01-05", to: "2026-01-07" };

function events(): AcceptedEvent[] {
  return VISITS.map(([tenant, day, userAgent, referer], index) => {
    const entry = loadBalancerEntry({ insertId: `r${index}`, timestamp: `${day}T10:00:00Z`, httpRequest: { requestUrl: pixelUrl(`user_id=${tenant}&type=view`), userAgent, referer } });
    return acceptedEvent(entry, SETTINGS);
  });
}

describe("in DuckDB, over the events the core made", () => {
  let dir: string;
  let database: LocalDatabase;
  beforeAll(async () => {
    dir = await makeTempDir();
    database = await LocalDatabase.open(path.join(dir, "pixel.duckdb"), SETTINGS);
    await database.commit({ events: events(), refusals: [] }, { segment: 1, offset: 0 });
  });
  afterAll(async () => {
    database.close();
    await removeDir(dir);
  });

  test("a visitor of two days is two visitor-days of the range; bots are counted apart", async () => {
    expect(await database.query(rangeTotalsQuery(RANGE, duckDbDialect))).toEqual([{ events: 4, bot_events: 1, visitors: 2 }]);
    expect(await database.query(rangeDaysQuery(RANGE, duckDbDialect))).toEqual([
      { event_date: "2026-01-05", human_events: 1, bot_events: 0, visitors: 1 },
      { event_date: "2026-01-06", human_events: 2, bot_events: 1, visitors: 1 },
    ]);
  });

  test("a breakdown gives the busiest values first, people only, at most `limit` rows", async () => {
    const [pages] = BREAKDOWNS;
    expect(await database.query(rangeBreakdownQuery(pages, RANGE, duckDbDialect, 10))).toEqual([
      { page_host: "shop.example.com", page_path: "/a", events: 2, visitors: 2 },
      { page_host: "shop.example.com", page_path: "/b", events: 1, visitors: 1 },
    ]);
    expect(await database.query(rangeBreakdownQuery(pages, RANGE, duckDbDialect, 1))).toHaveLength(1);
  });

  test("a tenant named to break out of its string literal is only a name", async () => {
    expect(await database.query(rangeTotalsQuery({ ...RANGE, tenant: "acme' OR TRUE OR '" }, duckDbDialect))).toEqual([{ events: 0, bot_events: 0, visitors: 0 }]);
  });
});

test("as GoogleSQL, Google's analyzer resolves every query against the rollup tables", async () => {
  const dialect = bigQueryDialect("my-project", "pixel_dev");
  const analyzer = await GoogleSqlAnalyzer.start();
  try {
    const views = await analyzeViews(analyzer, viewQueries(SETTINGS, dialect), SETTINGS, "my-project", "pixel_dev");
    const tables = stackTables(SETTINGS, "my-project", "pixel_dev", new Map([...views].map(([name, analysis]) => [name, analysis.columns])));
    const totals = await analyzer.analyze(rangeTotalsQuery(RANGE, dialect), tables);
    expect(totals.columns.map((column) => `${column.name} ${column.type}`)).toEqual(["events INT64", "bot_events INT64", "visitors INT64"]);
    expect(totals.tables).toEqual(["my-project.pixel_dev.rollup_totals"]);
    expect((await analyzer.analyze(rangeDaysQuery(RANGE, dialect), tables)).columns[0]).toEqual({ name: "event_date", type: "DATE" });
    for (const breakdown of BREAKDOWNS) {
      const analysis = await analyzer.analyze(rangeBreakdownQuery(breakdown, RANGE, dialect, 10), tables);
      expect(analysis.columns.map((column) => column.name)).toEqual([...breakdown.dimensions, "events", "visitors"]);
      expect(analysis.tables).toEqual([`my-project.pixel_dev.${breakdown.rollup}`]);
    }
  } finally {
    await analyzer.close();
  }
});

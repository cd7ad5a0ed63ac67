import * as path from "node:path";
import { analyticsRange, tenantChoicesQuery } from "../../local/dashboard";
import { LocalDatabase } from "../../local/database";
import { acceptedEvent, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { makeTempDir, removeDir } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

test.each([
  [{ from: "2026-01-01", to: "2026-01-07" }, { from: "2026-01-01", to: "2026-01-07" }],
  [{ from: "2026-01-01", to: "2026-01-01", tenant: "acme" }, { from: "2026-01-01", to: "2026-01-01", tenant: "acme" }],
  [{ from: "2026-01-01", to: "2026-12-31", tenant: "" }, { from: "2026-01-01", to: "2026-12-31" }],
  [{ to: "2026-01-07" }, { error: 'from must be a UTC day as YYYY-MM-DD, got ""' }],
  [{ from: "2026-01-01", to: "2026-02-30" }, { error: 'to must be a UTC day as YYYY-MM-DD, got "2026-02-30"' }],
  [{ from: "01/01/2026", to: "2026-01-07" }, { error: 'from must be a UTC day as YYYY-MM-DD, got "01/01/2026"' }],
  [{ from: "2026-01-07", to: "2026-01-01" }, { error: "the range from 2026-01-07 to 2026-01-01 must run forwards and hold at most 366 days" }],
  [{ from: "2024-01-01", to: "2026-01-01" }, { error: "the range from 2024-01-01 to 2026-01-01 must run forwards and hold at most 366 days" }],
  [{ from: "2026-01-01", to: "2026-01-07", tenant: "x".repeat(65) }, { error: "tenant is longer than any tenant can be (64 bytes)" }],
])("the dashboard's analytics request %p reads as %p", (query, expected) => {
  expect(analyticsRange(new URLSearchParams(query))).toEqual(expected);
});

describe("the tenants offered to choose from", () => {
  const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
  const CURL = "curl/8.5.0";
  const DAY = "2017-05-17";
  // Per tenant, the user agents of its events on DAY.
  const VISITS: Record<string, string[]> = {
    "curl-only": [CURL, CURL, CURL, CURL, CURL],
    "people-and-bots": [FIREFOX, CURL, CURL],
    "few-people": [FIREFOX],
    "most-people": [FIREFOX, FIREFOX],
  };
  let dir: string;
  let database: LocalDatabase;

  beforeAll(async () => {
    const settings = settingsFor();
    dir = await makeTempDir();
    database = await LocalDatabase.open(path.join(dir, "pixel.duckdb"), settings);
    const visits = Object.entries(VISITS).flatMap(([tenant, userAgents]) => userAgents.map((userAgent) => ({ tenant, userAgent, timestamp: `${DAY}T11:12:28Z` })));
    // The day after the range: people there count for nothing in it.
    visits.push(...Array.from({ length: 9 }, () => ({ tenant: "curl-only", userAgent: FIREFOX, timestamp: "2017-05-18T00:00:01Z" })));
    const events = visits.map(({ tenant, userAgent, timestamp }, index) =>
      acceptedEvent(loadBalancerEntry({ insertId: `e${index}`, timestamp, httpRequest: { requestUrl: pixelUrl(`user_id=${tenant}&type=view`), userAgent } }), settings),
    );
    await database.commit({ events, refusals: [] }, { segment: 1, offset: 0 });
  });

  afterAll(async () => {
    database?.close();
    await removeDir(dir);
  });

  it("come with the most events of people first, then the most of bots, so the page never starts on a tenant only bots reached while one has people", async () => {
    const [choices] = await database.read([{ sql: tenantChoicesQuery({ from: DAY, to: DAY }) }]);
    expect(choices).toEqual([
      { tenant: "most-people", human_events: 2, bot_events: 0 },
      { tenant: "people-and-bots", human_events: 1, bot_events: 2 },
      { tenant: "few-people", human_events: 1, bot_events: 0 },
      { tenant: "curl-only", human_events: 0, bot_events: 5 },
    ]);
  });
});

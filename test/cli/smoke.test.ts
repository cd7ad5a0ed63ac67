import type { IncomingMessage, ServerResponse } from "node:http";
import { EXIT, runCommand } from "../../cli/runner";
import { runSmoke, SMOKE_USER_AGENT, smokeCommand, smokeOutputs, smokePixelUrl, smokeRowsQuery, smokeTenant, smokeUserAgent } from "../../cli/smoke";
import { classifyClient } from "../../core/client";
import { withSigningKeys } from "../../core/config/coreSettings";
import { checkSignature } from "../../core/signature";
import { bigQueryDialect, viewQueries } from "../../core/views";
import { duckDbDialect } from "../../local/duckdbSchema";
import { freshDirectoryEachTest, query } from "../../testkit/localPipeline";
import { LoopbackStandIn } from "../../testkit/loopbackStandIn";
import { DEV_SETTINGS } from "../../testkit/logEntries";
import { analyzeViews, GoogleSqlAnalyzer, stackTables } from "../../testkit/googleSql";
import { captureCommandOutput } from "../../testkit/console";

const { stdout, stderr } = captureCommandOutput();

describe("npm run smoke -- --local, against npm start's pipeline", () => {
  const local = freshDirectoryEachTest();

  test("every pixel, and the repeat that revalidates the first, becomes one row of a bot: it reports them and exits 0", async () => {
    await local.startPipeline(DEV_SETTINGS);
    expect(await runCommand(smokeCommand, ["--stack", "dev", "--local", "--data-dir", local.dir, "--count", "20"])).toBe(EXIT.ok);
    expect(stderr).toEqual([]);
    expect(stdout.join("\n")).toMatch(/^smoke run [0-9a-f]{12}, tenant smoke, http:\/\/127\.0\.0\.1:\d+\/pixel\.png → /);
    expect(stdout.join("\n")).toMatch(/sent 21, stored 21, lost 0, duplicated 0; pixel to row p50 \d+\.\d s, p99 \d+\.\d s/);
    expect(stdout.join("\n")).toContain("edge: the pixel says max-age=0, and a repeat with its ETag is answered 304");
    // No report counts them as people: every row is a bot's, and the repeat is the 304.
    const rows = await query(local.dir, `SELECT is_bot, status, count(*) AS n FROM events WHERE user_agent LIKE '${SMOKE_USER_AGENT}/%' GROUP BY ALL ORDER BY status`);
    expect(rows).toEqual([
      { is_bot: true, status: 200, n: 20 },
      { is_bot: true, status: 304, n: 1 },
    ]);
  });

  test("pixels the pipeline refuses are lost: it says so and exits 1", async () => {
    // The running pipeline accepts acme only; the dev stack's smoke tenant is refused.
    await local.startPipeline({ ...DEV_SETTINGS, tenantAllowlist: ["acme"] });
    expect(await runCommand(smokeCommand, ["--stack", "dev", "--local", "--data-dir", local.dir, "--count", "5", "--timeout", "2"])).toBe(EXIT.failure);
    expect(stdout.join("\n")).toContain("sent 6, stored 0, lost 6, duplicated 0");
    expect(stdout.join("\n")).toContain("did not become rows");
  });

  test("without a running pipeline it says how to start one, exit 1", async () => {
    expect(await runCommand(smokeCommand, ["--stack", "dev", "--local", "--data-dir", local.dir])).toBe(EXIT.failure);
    expect(stderr.join("\n")).toContain("start it with npm start");
  });
});

/**
 * The edge and the log of a stack, as smoke sees them: it answers the pixel with the headers a test
 * gives, and each request it answered is a row of the events view.
 */
class EdgeStandIn extends LoopbackStandIn {
  readonly userAgents: string[] = [];
  constructor(private readonly edge: { cacheControl?: string; etag?: string; revalidates: boolean }) {
    super();
  }
  protected answer(request: IncomingMessage, response: ServerResponse): void {
    this.userAgents.push(request.headers["user-agent"] ?? "");
    const { cacheControl, etag, revalidates } = this.edge;
    const headers = { ...(cacheControl ? { "cache-control": cacheControl } : {}), ...(etag ? { etag } : {}) };
    if (revalidates && etag && request.headers["if-none-match"] === etag) response.writeHead(304, headers).end();
    else response.writeHead(200, { ...headers, "content-type": "image/png" }).end(Buffer.alloc(68));
  }
  rows(): Record<string, unknown>[] {
    return this.userAgents.map((userAgent) => ({ user_agent: userAgent, copies: 1 }));
  }
}

describe("the edge check, against a stand-in edge", () => {
  const GOOD = { cacheControl: "public, max-age=0", etag: '"abc"', revalidates: true };
  test.each([
    ["one that lets browsers revalidate", GOOD, EXIT.ok, ["edge: the pixel says max-age=0, and a repeat with its ETag is answered 304"]],
    [
      "a client TTL of an hour",
      { ...GOOD, cacheControl: "public, max-age=3600" },
      EXIT.failure,
      [`edge check failed: the pixel's Cache-Control is "public, max-age=3600", not max-age=0`],
    ],
    ["no Cache-Control", { ...GOOD, cacheControl: undefined }, EXIT.failure, ["edge check failed: the pixel's Cache-Control is missing, not max-age=0"]],
    ["no 304 for a current copy", { ...GOOD, revalidates: false }, EXIT.failure, [`edge check failed: a repeat request with If-None-Match: "abc" was answered 200, not 304 Not Modified`]],
    ["no ETag", { ...GOOD, etag: undefined }, EXIT.failure, ["edge check failed: the pixel's answer has no ETag"]],
  ])("%s: the report names what is wrong, and the exit code says it", async (_, edge, code, messages) => {
    const standIn = new EdgeStandIn(edge);
    await standIn.start();
    try {
      const target = { pixelUrl: `${standIn.endpoint}/pixel.png`, dialect: duckDbDialect, query: async () => standIn.rows(), pollMs: 10 };
      expect(await runSmoke(target, DEV_SETTINGS, 3, 5_000, "stand-in")).toBe(code);
    } finally {
      await standIn.stop();
    }
    const report = stdout.join("\n");
    // The repeat is one more view, not a duplicate, whatever the edge answered.
    expect(report).toContain("sent 4, stored 4, lost 0, duplicated 0");
    for (const message of messages) expect(report).toContain(message);
    expect(report.match(/edge check failed/g) ?? []).toHaveLength(code === EXIT.ok ? 0 : messages.length);
  });
});

test("smoke's user agent is one the core's bot check flags, so no report counts its pixels as people", () => {
  expect(classifyClient(smokeUserAgent("0123456789ab", 7))).toMatchObject({ isBot: true, emailProxy: null });
});

test("each test pixel has its own URL, for the stack's tenant, signed when the stack signs", () => {
  const signed = withSigningKeys({ ...DEV_SETTINGS, signedUrls: true, tenantAllowlist: ["acme"] }, { PIXEL_SIGNING_KEYS: "0123456789abcdef" });
  const urls = [0, 1].map((sequence) => new URL(smokePixelUrl("https://t.example/pixel.png", signed, "run1", sequence)));
  expect(urls[0].href).not.toBe(urls[1].href);
  expect(urls.map((url) => url.searchParams.get("user_id"))).toEqual(["acme", "acme"]);
  expect(urls.map((url) => checkSignature(url.searchParams, ["0123456789abcdef"]))).toEqual(["valid", "valid"]);
  expect(smokeTenant(DEV_SETTINGS)).toBe("smoke");
});

test("the BigQuery query reads the events view only, as Google's analyzer resolves it against the dev stack", async () => {
  const dialect = bigQueryDialect("p-1", "pixel_dev");
  const sql = smokeRowsQuery(dialect, "O'Brien", "run1", new Date("2026-11-28T00:00:00Z"));
  const analyzer = await GoogleSqlAnalyzer.start();
  try {
    const views = await analyzeViews(analyzer, viewQueries(DEV_SETTINGS, dialect), DEV_SETTINGS, "p-1", "pixel_dev");
    const analysis = await analyzer.analyze(sql, stackTables(DEV_SETTINGS, "p-1", "pixel_dev", new Map([...views].map(([name, view]) => [name, view.columns]))));
    expect(analysis.tables).toEqual(["p-1.pixel_dev.events"]);
    expect(analysis.columns).toEqual([{ name: "user_agent", type: "STRING" }, { name: "copies", type: "INT64" }]);
  } finally {
    await analyzer.close();
  }
  expect(sql).toContain("WHERE `tenant` = 'O\\'Brien'");
  expect(sql).toContain("`event_date` >= DATE '2026-11-28'");
});

test.each([
  ["{", /not JSON/],
  [JSON.stringify({ pixelUrl: "https://t.example/pixel.png" }), /no pixelUrl or eventsViewId/],
])("outputs %p are refused", (json, message) => {
  expect(() => smokeOutputs(json)).toThrow(message);
});

test("outputs of a deployed stack name the pixel and the view", () => {
  expect(smokeOutputs(JSON.stringify({ pixelUrl: "https://t.example/pixel.png", eventsViewId: "p-1.pixel_dev.events" }))).toEqual({
    pixelUrl: "https://t.example/pixel.png",
    project: "p-1",
    dataset: "pixel_dev",
  });
});

import { EXIT, runCommand } from "../../cli/runner";
import { smokeCommand, smokeOutputs, smokePixelUrl, smokeRowsQuery, smokeTenant } from "../../cli/smoke";
import { withSigningKeys } from "../../core/config/coreSettings";
import { checkSignature } from "../../core/signature";
import { bigQueryDialect, viewQueries } from "../../core/views";
import { freshDirectoryEachTest } from "../../testkit/localPipeline";
import { DEV_SETTINGS } from "../../testkit/logEntries";
import { analyzeViews, GoogleSqlAnalyzer, stackTables } from "../../testkit/googleSql";
import { captureCommandOutput } from "../../testkit/console";

const { stdout, stderr } = captureCommandOutput();

describe("npm run smoke -- --local, against npm start's pipeline", () => {
  const local = freshDirectoryEachTest();

  test("every pixel becomes one row: it reports them and exits 0", async () => {
    await local.startPipeline(DEV_SETTINGS);
    expect(await runCommand(smokeCommand, ["--stack", "dev", "--local", "--data-dir", local.dir, "--count", "20"])).toBe(EXIT.ok);
    expect(stderr).toEqual([]);
    expect(stdout.join("\n")).toMatch(/^smoke run [0-9a-f]{12}, tenant smoke, http:\/\/127\.0\.0\.1:\d+\/pixel\.png → /);
    expect(stdout.join("\n")).toMatch(/sent 20, stored 20, lost 0, duplicated 0; pixel to row p50 \d+\.\d s, p99 \d+\.\d s/);
  });

  test("pixels the pipeline refuses are lost: it says so and exits 1", async () => {
    // The running pipeline accepts acme only; the dev stack's smoke tenant is refused.
    await local.startPipeline({ ...DEV_SETTINGS, tenantAllowlist: ["acme"] });
    expect(await runCommand(smokeCommand, ["--stack", "dev", "--local", "--data-dir", local.dir, "--count", "5", "--timeout", "2"])).toBe(EXIT.failure);
    expect(stdout.join("\n")).toContain("sent 5, stored 0, lost 5, duplicated 0");
    expect(stdout.join("\n")).toContain("did not become rows");
  });

  test("without a running pipeline it says how to start one, exit 1", async () => {
    expect(await runCommand(smokeCommand, ["--stack", "dev", "--local", "--data-dir", local.dir])).toBe(EXIT.failure);
    expect(stderr.join("\n")).toContain("start it with npm start");
  });
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

import { FUNCTION_ENTRY_POINT } from "../../../core/functionContract";
import { ROLLUPS } from "../../../core/layout";
import { parseCoreSettingsJson } from "../../../core/config/coreSettings";
import type { CoreSettings } from "../../../core/config/coreSettings";
import { bigQueryDialect, tenantEventsQuery, viewQueries } from "../../../core/views";
import { LOOKER_STUDIO_CREATE_URL } from "../../../infra/warehouse/reporting";
import { BASE_CONFIG, only, ofType, ProgramRun, runProgram, TEST_PROJECT } from "../../../testkit/pulumiProgram";
import { analyzeViews, GoogleSqlAnalyzer, stackTables } from "../../../testkit/googleSql";
import type { Analysis } from "../../../testkit/googleSql";

// The default layout under Pulumi's mocks: the views over the template's wildcard, the link and the per-tenant queries.
let run: ProgramRun;
let core: CoreSettings;
let analyzer: GoogleSqlAnalyzer;
let analyses: Map<string, Analysis>;
beforeAll(async () => {
  analyzer = await GoogleSqlAnalyzer.start();
  run = await runProgram({ ...BASE_CONFIG, "pixel-pipeline:tenantAllowlist": JSON.stringify(["acme", "acme-corp"]) });
  const collector = only(run, "gcp:cloudfunctionsv2/function:Function");
  expect(collector.inputs.buildConfig.entryPoint).toBe(FUNCTION_ENTRY_POINT);
  core = parseCoreSettingsJson(collector.inputs.serviceConfig.environmentVariables.PIXEL_PIPELINE_SETTINGS);
  // What the program declares, analysed by Google's analyzer in creation order.
  analyses = await analyzeViews(analyzer, views().map((view) => ({ name: view.inputs.tableId, description: "", query: view.inputs.view.query })), core, TEST_PROJECT, "pixel_dev");
});

afterAll(async () => {
  await analyzer?.close();
});

const tables = () => ofType(run, "gcp:bigquery/table:Table");
const views = () => tables().filter((table) => table.inputs.view !== undefined);

test("the function streams with templateSuffix: its settings say per-tenant-day", () => {
  expect(core.layout).toBe("per-tenant-day");
});

test("declares every view with the GoogleSQL built from the function's own settings", () => {
  const expected = viewQueries(core, bigQueryDialect(TEST_PROJECT, "pixel_dev"));
  expect(views().map((view) => [view.inputs.tableId, view.inputs.view])).toEqual(expected.map((view) => [view.name, { query: view.query, useLegacySql: false }]));
  for (const view of views()) {
    expect(view.inputs).toMatchObject({ datasetId: "pixel_dev", deletionProtection: false });
    expect(view.inputs.description).toEqual(expect.any(String));
  }
  expect(analyses.get("events")!.tables).toEqual([`${TEST_PROJECT}.pixel_dev.pixel*`]);
});

test("keeps the template as the only event table, beside the rollups, with no partitioned table and no row-level security", () => {
  expect(tables().filter((table) => table.inputs.view === undefined).map((table) => table.inputs.tableId)).toEqual(["pixel", ...Object.values(ROLLUPS)]);
  expect(ofType(run, "gcp:bigquery/rowAccessPolicy:RowAccessPolicy")).toEqual([]);
  // The rollups' scheduled query writes its tables; no one else holds a table grant.
  expect(ofType(run, "gcp:bigquery/iamMember:IamMember").map((grant) => [grant.inputs.tableId, grant.inputs.role])).toEqual(Object.values(ROLLUPS).map((rollup) => [rollup, "roles/bigquery.dataEditor"]));
});

test("outputs the events view, and a Looker Studio link that opens a report on daily_totals, over the rollups", () => {
  expect(run.outputs.eventsViewId).toBe(`${TEST_PROJECT}.pixel_dev.events`);
  const url = new URL(run.outputs.lookerStudioUrl);
  expect(`${url.origin}${url.pathname}`).toBe(LOOKER_STUDIO_CREATE_URL);
  expect(Object.fromEntries(url.searchParams)).toEqual({
    "c.mode": "edit",
    "r.reportName": "Pixel daily_totals (dev)",
    "ds.ds0.datasourceName": "pixel_dev.daily_totals",
    "ds.ds0.connector": "bigQuery",
    "ds.ds0.type": "TABLE",
    "ds.ds0.projectId": TEST_PROJECT,
    "ds.ds0.datasetId": "pixel_dev",
    "ds.ds0.tableId": "daily_totals",
  });
});

test("outputs a Looker Studio link per report view, each opening a report on that view", () => {
  expect(Object.keys(run.outputs.lookerStudioReports)).toEqual(["daily_counts", "daily_pages", "daily_campaigns", "daily_devices", "daily_countries", "daily_totals"]);
  for (const [view, link] of Object.entries<string>(run.outputs.lookerStudioReports)) {
    const parameters = new URL(link).searchParams;
    expect(link.startsWith(`${LOOKER_STUDIO_CREATE_URL}?`)).toBe(true);
    expect(Object.fromEntries(parameters)).toMatchObject({
      "r.reportName": `Pixel ${view} (dev)`,
      "ds.ds0.connector": "bigQuery",
      "ds.ds0.projectId": TEST_PROJECT,
      "ds.ds0.datasetId": "pixel_dev",
      "ds.ds0.tableId": view,
    });
    expect(analyses.has(parameters.get("ds.ds0.tableId")!)).toBe(true);
  }
});

test("outputs an authorized-view query per allowlisted tenant, each accepted by Google's analyzer", async () => {
  const dialect = bigQueryDialect(TEST_PROJECT, "pixel_dev");
  expect(run.outputs.tenantViewQueries).toEqual({ acme: tenantEventsQuery(core, "acme", dialect), "acme-corp": tenantEventsQuery(core, "acme-corp", dialect) });
  expect(run.outputs.tenantViewQueries["acme-corp"]).toContain("BETWEEN '_acmeX2Dcorp_00000000' AND '_acmeX2Dcorp_99999999'");
  for (const query of Object.values<string>(run.outputs.tenantViewQueries)) {
    expect((await analyzer.analyze(query, stackTables(core, TEST_PROJECT, "pixel_dev"))).tables).toEqual([`${TEST_PROJECT}.pixel_dev.pixel*`]);
  }
});

test("outputs an example query that reads the example tenant's day tables only, accepted by Google's analyzer", async () => {
  expect((await analyzer.analyze(run.outputs.exampleQuery, stackTables(core, TEST_PROJECT, "pixel_dev"))).tables).toEqual([`${TEST_PROJECT}.pixel_dev.pixel_acme_*`]);
});

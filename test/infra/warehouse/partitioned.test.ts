import { PARTITIONED_TABLE, partitionedSchema, ROLLUPS, VIEWS } from "../../../core/layout";
import { bigQueryRollupScript } from "../../../core/rollups";
import { scheduledRange } from "../../../infra/warehouse/rollups";
import { templateSchema } from "../../../core/schema";
import { parseCoreSettingsJson } from "../../../core/config/coreSettings";
import type { CoreSettings } from "../../../core/config/coreSettings";
import { bigQueryDialect, tenantEventsQuery, viewQueries } from "../../../core/views";
import { BASE_CONFIG, grants, only, ofType, ProgramRun, runProgram, TEST_PROJECT } from "../../../testkit/pulumiProgram";
import type { CapturedResource } from "../../../testkit/pulumiProgram";
import { analyzeViews, GoogleSqlAnalyzer, stackTables } from "../../../testkit/googleSql";
import type { Column, TableResolver } from "../../../testkit/googleSql";

// The partitioned layout with per-tenant readers, under Pulumi's mocks.
const ANALYSTS = "group:analysts@example.com";
const ANA = "user:ana@acme.com";
const BETA = "group:readers@beta.example";
const RUNNER = `serviceAccount:pixel-dev-rollup@${TEST_PROJECT}.iam.gserviceaccount.com`;

let run: ProgramRun;
let core: CoreSettings;
let analyzer: GoogleSqlAnalyzer;
/** The dataset as the program declares it: the tables, then the views, analysed by Google's analyzer. */
let dataset: TableResolver;
beforeAll(async () => {
  analyzer = await GoogleSqlAnalyzer.start();
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:layout": "partitioned",
    "pixel-pipeline:tenantAllowlist": JSON.stringify(["acme", "O'Beta"]),
    "pixel-pipeline:tenantReaders": JSON.stringify({ acme: [ANA], "O'Beta": [BETA] }),
    "pixel-pipeline:allTenantsReaders": JSON.stringify([ANALYSTS]),
  });
  core = parseCoreSettingsJson(only(run, "gcp:cloudfunctionsv2/function:Function").inputs.serviceConfig.environmentVariables.PIXEL_PIPELINE_SETTINGS);
  const declaredViews = ofType(run, "gcp:bigquery/table:Table").filter((table) => table.inputs.view).map((table) => ({ name: table.inputs.tableId, description: "", query: table.inputs.view.query }));
  const views = await analyzeViews(analyzer, declaredViews, core, TEST_PROJECT, "pixel_dev");
  dataset = stackTables(core, TEST_PROJECT, "pixel_dev", new Map<string, readonly Column[]>([...views].map(([name, analysis]) => [name, analysis.columns])));
});

afterAll(async () => {
  await analyzer?.close();
});

const table = (tableId: string) => only(run, "gcp:bigquery/table:Table", (candidate) => candidate.inputs.tableId === tableId);
const policies = () => ofType(run, "gcp:bigquery/rowAccessPolicy:RowAccessPolicy");
const only1 = <T>(found: readonly T[]): T => {
  if (found.length !== 1) throw new Error(`expected one, found ${found.length}`);
  return found[0];
};

test("the function knows the layout, so it streams into the partitioned table without templateSuffix", () => {
  expect(core.layout).toBe("partitioned");
});

test("declares one table partitioned by event date and clustered by tenant and event type, refusing queries without a date filter", () => {
  expect(table(PARTITIONED_TABLE).inputs).toMatchObject({
    datasetId: "pixel_dev",
    timePartitioning: { type: "DAY", field: "event_date" },
    requirePartitionFilter: true,
    clusterings: ["tenant", "type"],
    deletionProtection: false,
  });
  expect(JSON.parse(table(PARTITIONED_TABLE).inputs.schema)).toEqual(partitionedSchema(core.attributes));
});

test("keeps the template table, so switching layouts never deletes a table", () => {
  expect(JSON.parse(table("pixel").inputs.schema)).toEqual(templateSchema(core.attributes));
});

test("declares the same views, the events view reading the partitioned table, each accepted by Google's analyzer", () => {
  const expected = viewQueries(core, bigQueryDialect(TEST_PROJECT, "pixel_dev"));
  expect(expected.map((view) => table(view.name).inputs.view)).toEqual(expected.map((view) => ({ query: view.query, useLegacySql: false })));
  expect(table("events").inputs.view.query).toBe(`SELECT *\nFROM \`${TEST_PROJECT}.pixel_dev.${PARTITIONED_TABLE}\``);
  for (const view of expected) expect(dataset(`${TEST_PROJECT}.pixel_dev.${view.name}`)).toBeDefined();
});

test("row access policies on the partitioned table: all rows for the analysts and the rollups' scheduled query, each tenant's rows for its readers", () => {
  // Sorted: a policy with the runner's account waits for its e-mail, so registration order varies.
  const onTable = policies().filter((policy) => policy.inputs.tableId === PARTITIONED_TABLE).map((policy) => policy.inputs);
  expect(onTable.sort((a, b) => a.policyId.localeCompare(b.policyId))).toEqual([
    { datasetId: "pixel_dev", tableId: PARTITIONED_TABLE, policyId: "all_tenants", filterPredicate: "TRUE", grantees: [ANALYSTS, RUNNER] },
    { datasetId: "pixel_dev", tableId: PARTITIONED_TABLE, policyId: "tenant_acme", filterPredicate: "`tenant` = 'acme'", grantees: [ANA] },
    { datasetId: "pixel_dev", tableId: PARTITIONED_TABLE, policyId: "tenant_X4FX27X42eta", filterPredicate: "`tenant` = 'O\\'Beta'", grantees: [BETA] },
  ]);
});

test.each(["all_tenants", "tenant_acme", "tenant_X4FX27X42eta"])("the row access policy %s is DDL that Google's analyzer accepts on the partitioned table", async (policyId) => {
  const { inputs } = only(run, "gcp:bigquery/rowAccessPolicy:RowAccessPolicy", (policy) => policy.inputs.policyId === policyId && policy.inputs.tableId === PARTITIONED_TABLE);
  const grantees = inputs.grantees.map((grantee: string) => `'${grantee}'`).join(", ");
  const ddl = `CREATE ROW ACCESS POLICY ${inputs.policyId} ON \`${TEST_PROJECT}.${inputs.datasetId}.${inputs.tableId}\` GRANT TO (${grantees}) FILTER USING (${inputs.filterPredicate})`;
  await expect(analyzer.analyze(ddl, dataset)).resolves.toBeDefined();
});

test("every reader may read the partitioned table, the rollup tables and every view, and holds no other grant", () => {
  const readerGrants = grants(run).filter((grant) => [ANALYSTS, ANA, BETA].includes(grant.inputs.member));
  expect(readerGrants.every((grant) => grant.type === "gcp:bigquery/iamMember:IamMember" && grant.inputs.role === "roles/bigquery.dataViewer")).toBe(true);
  const granted = readerGrants.map((grant) => `${grant.inputs.member} ${grant.inputs.datasetId}.${grant.inputs.tableId}`).sort();
  const expected = [ANALYSTS, ANA, BETA].flatMap((member) => [PARTITIONED_TABLE, ...Object.values(ROLLUPS), ...Object.values(VIEWS)].map((name) => `${member} pixel_dev.${name}`));
  expect(granted).toEqual(expected.sort());
});

test("the rollups' account reads the partitioned table only, and rewrites the rollups through their all-tenants policies", () => {
  const runnerGrants = grants(run).filter((grant) => grant.inputs.member === RUNNER && grant.inputs.role === "roles/bigquery.dataViewer");
  expect(runnerGrants.map((grant) => [grant.type, grant.inputs.datasetId, grant.inputs.tableId])).toEqual([["gcp:bigquery/iamMember:IamMember", "pixel_dev", PARTITIONED_TABLE]]);
  for (const rollup of Object.values(ROLLUPS)) {
    const allTenants = only(run, "gcp:bigquery/rowAccessPolicy:RowAccessPolicy", (policy) => policy.inputs.tableId === rollup && policy.inputs.policyId === "all_tenants");
    expect(allTenants.inputs.grantees).toEqual([ANALYSTS, RUNNER]);
  }
});

test("the scheduled query waits for every row access policy that names its account, the partitioned table's and each rollup table's, and for the account's grants", () => {
  const urnOf = (resource: CapturedResource) => only1(run.urns.filter(({ urn }) => urn.endsWith(`${resource.type}::${resource.name}`))).urn;
  const schedule = only(run, "gcp:bigquery/dataTransferConfig:DataTransferConfig");
  const runnerPolicies = policies().filter((policy) => policy.inputs.grantees.includes(RUNNER));
  expect(runnerPolicies.map((policy) => policy.inputs.tableId).sort()).toEqual([PARTITIONED_TABLE, ...Object.values(ROLLUPS)].sort());
  const runnerGrants = grants(run).filter((grant) => grant.inputs.member === RUNNER);
  expect(runnerGrants.length).toBeGreaterThanOrEqual(3);
  const waitsFor = only1(run.urns.filter(({ urn }) => urn === urnOf(schedule))).dependencies;
  expect([...runnerPolicies, ...runnerGrants].map(urnOf).filter((urn) => !waitsFor.includes(urn))).toEqual([]);
});

test("the scheduled query reads only its days of the partitioned table, with the event_date filter requirePartitionFilter asks for", () => {
  const query: string = only(run, "gcp:bigquery/dataTransferConfig:DataTransferConfig").inputs.params.query;
  expect(query).toBe(bigQueryRollupScript(core, TEST_PROJECT, "pixel_dev", scheduledRange(2)));
  // Each INSERT runs with its days as date literals (core/rollups.ts), in a string whose newlines are escaped.
  expect(query).toContain(`FROM \`${TEST_PROJECT}.pixel_dev.${PARTITIONED_TABLE}\`\\u000aWHERE \`event_date\` BETWEEN ' || FORMAT('%T', _first_day) || ' AND ' || FORMAT('%T', _last_day) || '`);
  expect(query).not.toContain("INFORMATION_SCHEMA");
});

test("the example query reads the events view by tenant and partition date", async () => {
  expect(run.outputs.exampleQuery).toContain(`FROM \`${TEST_PROJECT}.pixel_dev.events\``);
  expect(run.outputs.exampleQuery).toMatch(/WHERE tenant = 'acme' AND event_date BETWEEN DATE '\d{4}-\d\d-\d\d' AND DATE '\d{4}-\d\d-\d\d'/);
  expect((await analyzer.analyze(run.outputs.exampleQuery, dataset)).tables).toEqual([`${TEST_PROJECT}.pixel_dev.events`]);
});

test("the Looker Studio link opens daily_totals, over the rollups; the tenant queries filter the partitioned table", async () => {
  expect(new URL(run.outputs.lookerStudioUrl).searchParams.get("ds.ds0.tableId")).toBe("daily_totals");
  expect(run.outputs.tenantViewQueries["O'Beta"]).toBe(tenantEventsQuery(core, "O'Beta", bigQueryDialect(TEST_PROJECT, "pixel_dev")));
  for (const query of Object.values<string>(run.outputs.tenantViewQueries)) {
    expect((await analyzer.analyze(query, dataset)).tables).toEqual([`${TEST_PROJECT}.pixel_dev.${PARTITIONED_TABLE}`]);
  }
});

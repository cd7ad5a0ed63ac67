import { parseCoreSettingsJson } from "../../../core/config/coreSettings";
import type { CoreSettings } from "../../../core/config/coreSettings";
import { ROLLUPS, VIEWS } from "../../../core/layout";
import { bigQueryRollupScript, rollupTables } from "../../../core/rollups";
import { REPORT_VIEWS } from "../../../infra/warehouse/reporting";
import { SERVICE_AGENTS } from "../../../infra/naming";
import { scheduledRange } from "../../../infra/warehouse/rollups";
import { Bag, BASE_CONFIG, CapturedResource, grants, only, ofType, ProgramRun, runProgram, strings, TEST_PROJECT } from "../../../testkit/pulumiProgram";
import { GoogleSqlAnalyzer, stackTables } from "../../../testkit/googleSql";

// The rollups of a per-tenant-day stack with per-tenant readers, under Pulumi's mocks; the
// partitioned layout's differences are in partitioned.test.ts.
const ANALYSTS = "group:analysts@example.com";
const ANA = "user:ana@acme.com";
const BETA = "group:readers@beta.example";
const RUNNER = `serviceAccount:pixel-dev-rollup@${TEST_PROJECT}.iam.gserviceaccount.com`;
const ROLLUP_TABLES = Object.values(ROLLUPS);

let run: ProgramRun;
let core: CoreSettings;
let analyzer: GoogleSqlAnalyzer;
beforeAll(async () => {
  analyzer = await GoogleSqlAnalyzer.start();
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:datasetLocation": "EU",
    "pixel-pipeline:deletionProtection": "true",
    "pixel-pipeline:rollupLateDays": "3",
    "pixel-pipeline:rollupSchedule": "every 30 minutes",
    "pixel-pipeline:tenantAllowlist": JSON.stringify(["acme", "O'Beta"]),
    "pixel-pipeline:tenantReaders": JSON.stringify({ acme: [ANA], "O'Beta": [BETA] }),
    "pixel-pipeline:allTenantsReaders": JSON.stringify([ANALYSTS]),
  });
  core = parseCoreSettingsJson(only(run, "gcp:cloudfunctionsv2/function:Function").inputs.serviceConfig.environmentVariables.PIXEL_PIPELINE_SETTINGS);
});

afterAll(async () => {
  await analyzer?.close();
});

const table = (tableId: string) => only(run, "gcp:bigquery/table:Table", (candidate) => candidate.inputs.tableId === tableId);
const schedule = () => only(run, "gcp:bigquery/dataTransferConfig:DataTransferConfig");
const runner = () => only(run, "gcp:serviceaccount/account:Account", (account) => account.inputs.accountId === "pixel-dev-rollup");
const transferAgent = () => only(run, "gcp:projects/serviceIdentity:ServiceIdentity", (agent) => agent.inputs.service === SERVICE_AGENTS.dataTransfer.service);
const grantsTo = (member: string) => grants(run).filter((grant) => grant.inputs.member === member || strings(grant.inputs.members).includes(member));
const grantee = (grant: CapturedResource) => `${grant.type.split(":").at(-1)} ${grant.inputs.role} ${grant.inputs.project ?? grant.inputs.datasetId}${grant.inputs.tableId ? `.${grant.inputs.tableId}` : ""}${grant.inputs.serviceAccountId ? ` ${grant.inputs.serviceAccountId}` : ""}`;

test("declares the six rollup tables in the event dataset: core's schemas, partitioned by event date, clustered by tenant, protected as the stack says", () => {
  expect(rollupTables(core).map((definition) => definition.name)).toEqual(ROLLUP_TABLES);
  for (const definition of rollupTables(core)) {
    expect(table(definition.name).inputs).toMatchObject({
      datasetId: "pixel_dev",
      timePartitioning: { type: "DAY", field: "event_date" },
      clusterings: ["tenant"],
      deletionProtection: true,
      description: definition.description,
    });
    expect(JSON.parse(table(definition.name).inputs.schema)).toEqual(definition.schema);
    expect(JSON.parse(table(definition.name).inputs.schema).map((field: { name: string }) => field.name)).toContain("computed_at");
  }
});

test("schedules one query, in the dataset's location, on the stack's schedule, as the rollups' own account, writing no destination table", () => {
  expect(schedule().inputs).toEqual({
    project: TEST_PROJECT,
    displayName: "Pixel rollups (dev)",
    location: "EU",
    dataSourceId: "scheduled_query",
    schedule: "every 30 minutes",
    serviceAccountName: runner().state.email,
    params: { query: expect.any(String) },
  });
  expect(only(run, "gcp:bigquery/dataset:Dataset").inputs.location).toBe(schedule().inputs.location);
});

test("the scheduled query recomputes today and the rollupLateDays days before it, from core's script for the stack's layout", () => {
  const query: string = schedule().inputs.params.query;
  expect(query).toBe(bigQueryRollupScript(core, TEST_PROJECT, "pixel_dev", scheduledRange(3)));
  expect(query).toContain("DECLARE _first_day DATE DEFAULT DATE_SUB(@run_date, INTERVAL 3 DAY);");
  expect(query).toContain("DECLARE _last_day DATE DEFAULT @run_date;");
  // per-tenant-day: only the day tables of the window, listed by name.
  expect(query).toContain("INFORMATION_SCHEMA.TABLES");
  expect(query).toMatch(/BEGIN TRANSACTION;[\s\S]*COMMIT TRANSACTION;$/);
  for (const rollup of ROLLUP_TABLES) expect(query).toContain(`DELETE FROM \`${TEST_PROJECT}.pixel_dev.${rollup}\` WHERE \`event_date\` BETWEEN _first_day AND _last_day`);
});

test("the rollups' account may read the events, write the rollup tables and run jobs, and nothing else", () => {
  expect(runner().state.member).toBe(RUNNER);
  const writes = ROLLUP_TABLES.map((rollup) => `IamMember roles/bigquery.dataEditor pixel_dev.${rollup}`);
  expect(grantsTo(RUNNER).map(grantee).sort()).toEqual(
    [
      // Per-tenant-day: the day tables appear on demand, so reading them takes the dataset.
      "DatasetIamMember roles/bigquery.dataViewer pixel_dev",
      ...writes,
      `IAMMember roles/bigquery.jobUser ${TEST_PROJECT}`,
    ].sort(),
  );
  // Nothing project-wide beyond running jobs.
  expect(grantsTo(RUNNER).filter((grant) => grant.type === "gcp:projects/iAMMember:IAMMember").map((grant) => grant.inputs.role)).toEqual(["roles/bigquery.jobUser"]);
});

test("the Data Transfer Service's agent is declared, and may mint the rollups' account's tokens and nothing more", () => {
  expect(transferAgent().inputs).toEqual({ project: TEST_PROJECT, service: SERVICE_AGENTS.dataTransfer.service });
  expect(grantsTo(transferAgent().state.member).map(grantee)).toEqual([`IAMMember roles/iam.serviceAccountTokenCreator undefined ${runner().state.name}`]);
});

test("every rollup table has an all-tenants policy for the analysts and the rollups' account, and one policy per tenant", () => {
  const key = (policy: Bag) => `${policy.tableId} ${policy.policyId}`;
  const policies = ofType(run, "gcp:bigquery/rowAccessPolicy:RowAccessPolicy").map((policy) => policy.inputs);
  expect(policies.sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
    ROLLUP_TABLES.flatMap((rollup) => [
      { datasetId: "pixel_dev", tableId: rollup, policyId: "all_tenants", filterPredicate: "TRUE", grantees: [ANALYSTS, RUNNER] },
      { datasetId: "pixel_dev", tableId: rollup, policyId: "tenant_acme", filterPredicate: "`tenant` = 'acme'", grantees: [ANA] },
      { datasetId: "pixel_dev", tableId: rollup, policyId: "tenant_X4FX27X42eta", filterPredicate: "`tenant` = 'O\\'Beta'", grantees: [BETA] },
    ]).sort((a, b) => key(a).localeCompare(key(b))),
  );
});

test.each(ROLLUP_TABLES)("the row access policies of %s are DDL that Google's analyzer accepts on that table", async (rollup) => {
  for (const { inputs } of ofType(run, "gcp:bigquery/rowAccessPolicy:RowAccessPolicy").filter((policy) => policy.inputs.tableId === rollup)) {
    const grantees = inputs.grantees.map((member: string) => `'${member}'`).join(", ");
    const ddl = `CREATE ROW ACCESS POLICY ${inputs.policyId} ON \`${TEST_PROJECT}.${inputs.datasetId}.${inputs.tableId}\` GRANT TO (${grantees}) FILTER USING (${inputs.filterPredicate})`;
    await expect(analyzer.analyze(ddl, stackTables(core, TEST_PROJECT, "pixel_dev"))).resolves.toBeDefined();
  }
});

test("per-tenant-day readers may read the rollups and the daily views over them, never the raw events", () => {
  for (const member of [ANALYSTS, ANA, BETA]) {
    expect(grantsTo(member).map(grantee).sort()).toEqual([...ROLLUP_TABLES, ...REPORT_VIEWS].map((name) => `IamMember roles/bigquery.dataViewer pixel_dev.${name}`).sort());
  }
  expect(REPORT_VIEWS).not.toContain(VIEWS.events);
  expect(REPORT_VIEWS).not.toContain(VIEWS.dedup);
});

test("the daily views read the rollup tables", () => {
  for (const definition of rollupTables(core)) {
    expect(table(definition.view).inputs.view.query).toContain(`FROM \`${TEST_PROJECT}.pixel_dev.${definition.name}\``);
  }
});

test("every Looker Studio link opens a report on a daily view over the rollups, the main one on daily_totals", () => {
  expect(Object.keys(run.outputs.lookerStudioReports)).toEqual(rollupTables(core).map((definition) => definition.view));
  for (const [view, url] of Object.entries<string>(run.outputs.lookerStudioReports)) {
    expect(new URL(url).searchParams.get("ds.ds0.tableId")).toBe(view);
  }
  expect(new URL(run.outputs.lookerStudioUrl).searchParams.get("ds.ds0.tableId")).toBe(VIEWS.dailyTotals);
});

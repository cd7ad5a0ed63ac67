import { readFileSync } from "node:fs";
import * as path from "node:path";
import { bigQueryDialect, viewQueries } from "../../core/views";
import { analyzeViews, GoogleSqlAnalyzer, stackTables } from "../../testkit/googleSql";
import type { Column, TableResolver } from "../../testkit/googleSql";
import { DEV_SETTINGS } from "../../testkit/logEntries";

// Every ```sql block of the README, the analytics docs and the deploy guide is analysed by Google's analyzer in
// BigQuery's mode, against the dev stack's tables and views (project my-project, dataset
// pixel_dev), as the docs say: a wrong column, type or function fails here.
const DOCS = ["README.md", "docs/cookbook.md", "docs/analytics.md", "docs/deploy.md"];
const [PROJECT, DATASET] = ["my-project", "pixel_dev"];

const blocks = DOCS.flatMap((file) => {
  const text = readFileSync(path.join(__dirname, "..", "..", file), "utf8");
  return [...text.matchAll(/```sql\n([\s\S]*?)```/g)].map((match, index): [string, string] => [`${file} #${index + 1}`, match[1].trim()]);
});

let analyzer: GoogleSqlAnalyzer;
/** The dev stack's dataset in both layouts: the docs show the day tables and the partitioned table. */
let devDataset: TableResolver;

beforeAll(async () => {
  analyzer = await GoogleSqlAnalyzer.start();
  const partitioned = { ...DEV_SETTINGS, layout: "partitioned" as const };
  const views = await analyzeViews(analyzer, viewQueries(DEV_SETTINGS, bigQueryDialect(PROJECT, DATASET)), DEV_SETTINGS, PROJECT, DATASET);
  const viewColumns = new Map<string, readonly Column[]>([...views].map(([name, analysis]) => [name, analysis.columns]));
  const perTenantDayTables = stackTables(DEV_SETTINGS, PROJECT, DATASET, viewColumns);
  const partitionedTables = stackTables(partitioned, PROJECT, DATASET);
  devDataset = (tablePath) => perTenantDayTables(tablePath) ?? partitionedTables(tablePath);
});

afterAll(async () => {
  await analyzer?.close();
});

test("the docs have SQL blocks to check, and the analyzer refuses a wrong column, type or function in them", async () => {
  expect(blocks.length).toBeGreaterThan(10);
  const [, first] = blocks.find(([, sql]) => sql.includes("events_dedup"))!;
  await expect(analyzer.analyze(first.replace("events_dedup", "event_dedup"), devDataset)).rejects.toThrow(/Table not found/);
  await expect(analyzer.analyze("SELECT SUM(referer) FROM `my-project.pixel_dev.events_dedup`", devDataset)).rejects.toThrow(/No matching signature for aggregate function SUM/);
  await expect(analyzer.analyze("SELECT tenant, visits FROM `my-project.pixel_dev.daily_counts`", devDataset)).rejects.toThrow(/Unrecognized name: visits/);
});

test.each(blocks)("%s is GoogleSQL that Google's analyzer accepts against the dev stack", async (_, sql) => {
  const analysis = await analyzer.analyze(sql, devDataset);
  expect(analysis.tables.length).toBeGreaterThan(0);
});

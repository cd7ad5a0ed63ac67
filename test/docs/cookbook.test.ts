import { readFileSync } from "node:fs";
import * as path from "node:path";
import { queryCommand } from "../../cli/query";
import { LocalDatabase } from "../../local/database";
import { dataPaths } from "../../local/paths";
import { runQuery } from "../../local/queryClient";
import { DEV_SETTINGS } from "../../testkit/logEntries";
import { makeTempDir, removeDir } from "../../testkit/localPipeline";

// The cookbook is GoogleSQL (test/docs/sqlBlocks.test.ts); its last section says which of its
// queries need changes for the local database. Each block runs here as the query command runs it
// on a database of the dev stack, so that list stays exactly the sections whose queries fail as
// they are.
const cookbook = readFileSync(path.join(__dirname, "..", "..", "docs", "cookbook.md"), "utf8");
const LOCAL_SECTION = "## Running these locally";

/** Every SQL block, with its section's heading, as a user pastes it locally: without project, dataset and final `;`. */
const blocks = cookbook
  .slice(0, cookbook.indexOf(LOCAL_SECTION))
  .split(/^## /m)
  .slice(1)
  .flatMap((section) => {
    const heading = section.slice(0, section.indexOf("\n"));
    return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => ({
      heading,
      sql: match[1].replace(/`my-project\.pixel_dev\.([\w*]+)`/g, "$1").trim().replace(/;$/, ""),
    }));
  });

/** The sections the local section's table names, in its last column. */
const listed = new Set(
  cookbook
    .slice(cookbook.indexOf(LOCAL_SECTION))
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| In BigQuery"))
    .flatMap((row) => row.split("|").at(-2)?.split(";").map((name) => name.trim()) ?? []),
);

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir();
  (await LocalDatabase.open(dataPaths(dir).database, DEV_SETTINGS)).close();
});
afterAll(() => removeDir(dir));

test("the sections whose queries DuckDB refuses as they are are exactly those the local section lists", async () => {
  expect(blocks.length).toBeGreaterThan(10);
  const refused = new Set<string>();
  for (const { heading, sql } of blocks) {
    await runQuery(sql, dataPaths(dir)).catch(() => refused.add(heading));
  }
  expect([...listed].sort()).toEqual([...refused].sort());
  // Most of the cookbook runs as it is.
  expect(refused.size).toBeLessThan(blocks.length / 2);
});

test("npm run query's help says it speaks DuckDB's SQL and points at the local section", () => {
  expect(queryCommand.usage).toContain("The SQL is\nDuckDB's, not BigQuery's");
  expect(queryCommand.usage).toContain("docs/cookbook.md#running-these-locally");
  expect(cookbook).toContain(LOCAL_SECTION);
});

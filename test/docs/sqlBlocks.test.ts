import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseGoogleSql } from "../../testkit/sql";

// Every ```sql block of the analytics docs must be GoogleSQL that BigQuery's grammar accepts.
const DOCS = ["docs/cookbook.md", "docs/analytics.md"];
// Statements node-sql-parser's grammar does not know; they are checked by reading, not parsing.
const UNPARSED = [/^CREATE ROW ACCESS POLICY /];

const blocks = DOCS.flatMap((file) => {
  const text = readFileSync(path.join(__dirname, "..", "..", file), "utf8");
  return [...text.matchAll(/```sql\n([\s\S]*?)```/g)].map((match, index): [string, string] => [`${file} #${index + 1}`, match[1].trim()]);
});

test("the docs have SQL blocks to check, and the grammar refuses broken SQL", () => {
  expect(blocks.length).toBeGreaterThan(10);
  expect(() => parseGoogleSql("SELECT COUNT(* FROM `p.d.events` WHERE")).toThrow();
  expect(() => parseGoogleSql("SELECT * FROM `p.d.events` QUALIFY ROW_NUMBER() OVER () = 1")).toThrow();
});

test.each(blocks.filter(([, sql]) => !UNPARSED.some((pattern) => pattern.test(sql))))("%s parses as GoogleSQL", (_, sql) => {
  expect(() => parseGoogleSql(sql)).not.toThrow();
});

test.each(blocks.filter(([, sql]) => UNPARSED.some((pattern) => pattern.test(sql))))("%s is the row access DDL, filtering on the tenant column", (_, sql) => {
  expect(sql).toMatch(/^CREATE ROW ACCESS POLICY \w+\nON `[^`]+\.events_partitioned`\nGRANT TO \('[^']+'\)\nFILTER USING \(tenant = '[^']*'\);$/);
});

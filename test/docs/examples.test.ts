import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseLine } from "../../cli/parse";
import { DEV_SETTINGS } from "../../testkit/logEntries";

const ROOT = path.join(__dirname, "..", "..");
const EXAMPLE = "docs/examples/request-log-entries.ndjson";

test("the README's example log entries give what the README says npm run parse prints for them", () => {
  const lines = readFileSync(path.join(ROOT, EXAMPLE), "utf8").trim().split("\n");
  const results = lines.map((line) => JSON.parse(parseLine(line, DEV_SETTINGS)) as { ok: boolean; reason?: string; table?: string; row?: Record<string, unknown> });
  expect(results.map((result) => (result.ok ? result.table : result.reason))).toEqual([
    "pixel_acme_20261128",
    "pixel_acme_20261128",
    "pixel_globex_20261128",
    "pixel_acme_20261128",
    "pixel_acme_20261128",
    "other_path",
    "cdn_subrequest",
    "missing_tenant",
  ]);
  // A browser, an iPhone's revalidation, Gmail's image proxy, curl (a script, so a bot) and a dnt view.
  expect(results.slice(0, 5).map(({ row }) => [row?.status, row?.is_bot, row?.email_proxy, row?.dnt])).toEqual([
    [200, false, null, false],
    [304, false, null, false],
    [200, false, "gmail", false],
    [200, true, null, false],
    [200, false, null, true],
  ]);
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  expect(readme).toContain(`npm run --silent parse -- --stack dev < ${EXAMPLE}`);
});

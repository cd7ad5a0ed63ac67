import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ARCHIVE_FILE_EXTENSIONS } from "../../cli/archiveSource";
import { ASSUMED_SINK_FILES_PER_HOUR, batchLoadQuotaWarnings, LOAD_JOBS_PER_PROJECT_PER_DAY, LOAD_JOBS_PER_TABLE_PER_DAY, MAX_BATCH_TENANTS_PER_DAY } from "../../core/batchLimits";
import { alertSpecs } from "../../infra/operations/monitoringSpec";
import { OPERATIONS_CONFIG_KEYS } from "../../core/config/operations";

const operations = readFileSync(path.join(__dirname, "..", "..", "docs", "operations.md"), "utf8");

describe("docs/operations.md", () => {
  it.each([...OPERATIONS_CONFIG_KEYS])("documents the key %s", (key) => {
    expect(operations).toContain(`| \`${key}\` |`);
  });

  it.each(alertSpecs({ backlogAlertMinutes: 30 }).map((spec) => [spec.displayName, spec.key]))("has a runbook entry for %s (#%s)", (displayName, key) => {
    expect(operations).toContain(`<a id="${key}"></a>\n### ${displayName}\n`);
    expect(operations).toContain(`| ${displayName} |`);
  });

  it.each(ARCHIVE_FILE_EXTENSIONS)("says replay reads the %s files under a source", (extension) => {
    expect(operations).toContain(`\`*${extension}\` files`);
  });

  it("shows both commands", () => {
    expect(operations).toContain("npm run replay -- --stack");
    expect(operations).toContain("npm run redrive -- --stack");
    expect(operations).toContain("npm run erase -- --stack");
  });

  it("states the batch limits core/batchLimits.ts computes, under the heading the preview warning links to", () => {
    const [anchor] = /docs\/operations\.md#([a-z-]+)/.exec(batchLoadQuotaWarnings("batch", "per-tenant-day", undefined)[0])?.slice(1) ?? [];
    expect(anchor).toBe("batch-loading-limits");
    const section = operations.slice(operations.indexOf("## Batch loading: limits\n"), operations.indexOf("## Monitoring\n"));
    expect(section).toContain(`**${LOAD_JOBS_PER_TABLE_PER_DAY.toLocaleString("en-US")} per table per day** and **${LOAD_JOBS_PER_PROJECT_PER_DAY.toLocaleString("en-US")} per project per day**`);
    expect(section).toContain(`**${ASSUMED_SINK_FILES_PER_HOUR} files an hour**`);
    expect(section).toContain(`**${MAX_BATCH_TENANTS_PER_DAY} tenants active a day**`);
    expect(section).toContain(`one of more than ${MAX_BATCH_TENANTS_PER_DAY} tenants`);
  });
});

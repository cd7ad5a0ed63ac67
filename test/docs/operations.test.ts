import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ARCHIVE_FILE_EXTENSIONS } from "../../cli/archiveSource";
import { ASSUMED_SINK_FILES_PER_HOUR, batchLoadQuotaWarnings, LOAD_JOBS_PER_PROJECT_PER_DAY, LOAD_JOBS_PER_TABLE_PER_DAY, MAX_BATCH_TENANTS_PER_DAY } from "../../core/batchLimits";
import { alertSpecs, batchAlertSpecs } from "../../infra/operations/monitoringSpec";
import { DEFAULT_MAX_OBJECT_BYTES } from "../../core/archiveLoad";
import { LOAD_LEDGER_SCHEMA, LOAD_LEDGER_TABLE, SINK_OBJECT_PREFIX } from "../../core/batchLoad";
import { OPERATIONS_CONFIG_KEYS } from "../../core/config/operations";
import { DEATH_CAUSES, LOAD_FAILURE_REASONS, MAX_LOAD_ATTEMPTS, SWEEP_GRACE_MS, SWEEP_LOOKBACK_DAYS, SWEEP_MAX_OBJECTS, SWEEP_TIME_BUDGET_MS } from "../../core/loadLedger";

const operations = readFileSync(path.join(__dirname, "..", "..", "docs", "operations.md"), "utf8");

describe("docs/operations.md", () => {
  it.each([...OPERATIONS_CONFIG_KEYS])("documents the key %s", (key) => {
    expect(operations).toContain(`| \`${key}\` |`);
  });

  it.each([...alertSpecs({ backlogAlertMinutes: 30 }), ...batchAlertSpecs()].map((spec) => [spec.displayName, spec.key]))("has a runbook entry for %s (#%s)", (displayName, key) => {
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

describe("docs/operations.md, batch loading", () => {
  const start = operations.indexOf("## Batch loading: the ledger and dead objects\n");
  const section = operations.slice(start, operations.indexOf("\n## ", start + 1));

  it("has the section", () => {
    expect(section.length).toBeGreaterThan(1000);
  });

  it.each(LOAD_LEDGER_SCHEMA.map((field) => field.name))("describes the ledger's column %s", (column) => {
    expect(section).toMatch(new RegExp(`^\\| [^|]*\`${column}\``, "m"));
  });

  it.each(Object.keys(LOAD_FAILURE_REASONS))("names the reason %s", (reason) => {
    expect(section).toContain(`\`reason: "${reason}"\``);
  });

  it.each(DEATH_CAUSES)("says when an object dies of %s and what to do", (cause) => {
    expect(section).toContain(`| \`${cause}\` |`);
  });

  it("states the bounds the code applies", () => {
    expect(section).toContain(`\`${LOAD_LEDGER_TABLE}\``);
    expect(section).toContain(`the loader's size bound (${DEFAULT_MAX_OBJECT_BYTES / 1024 ** 3} GiB`);
    expect(section).toContain(`On the ${MAX_LOAD_ATTEMPTS}th failed attempt`);
    expect(section).toContain(`dead, with the alert, on its ${MAX_LOAD_ATTEMPTS}th`);
    expect(section).toContain(`Objects that failed ${MAX_LOAD_ATTEMPTS} times`);
    expect(section).toContain(`at least ${SWEEP_GRACE_MS / 3_600_000} hour old`);
    expect(section).toContain(`only the last ${SWEEP_LOOKBACK_DAYS} days (\`SWEEP_LOOKBACK_DAYS\``);
    expect(section).toContain(`from the day ${SWEEP_LOOKBACK_DAYS} days before the run to the run's own (UTC), ${SWEEP_LOOKBACK_DAYS + 1} folders`);
    expect(section).toContain(`a loader outage of up to ${SWEEP_LOOKBACK_DAYS - 1} days`);
    expect(section).toContain(`sweep: the ledger has no row from the last ${SWEEP_LOOKBACK_DAYS} days`);
    expect(section).toContain(`a file whose event was lost more than ${SWEEP_LOOKBACK_DAYS} days ago`);
    expect(section).toContain(`at most ${SWEEP_MAX_OBJECTS} objects and ${SWEEP_TIME_BUDGET_MS / 60_000} minutes per run`);
    expect(section).toContain(`names under \`${SINK_OBJECT_PREFIX}\` ending in \`.json\``);
  });
});

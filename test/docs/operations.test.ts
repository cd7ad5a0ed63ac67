import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ARCHIVE_FILE_EXTENSIONS } from "../../cli/archiveSource";
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
});

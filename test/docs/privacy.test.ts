import { readFileSync } from "node:fs";
import * as path from "node:path";
import { CONFIG_KEYS } from "../../core/config/keys";
import { DEFAULT_RETENTION_DAYS } from "../../core/config/retention";
import { DEAD_LETTER_RETENTION } from "../../infra/ingest/pushDelivery";
import { KEEP_LOADED_BYTES } from "../../local/spool";

const privacy = readFileSync(path.join(__dirname, "..", "..", "docs", "privacy.md"), "utf8");

describe("docs/privacy.md", () => {
  it("gives the retention's default, in days and in months", () => {
    expect(privacy).toContain(`**${DEFAULT_RETENTION_DAYS} days**, 25\nmonths`);
    expect(privacy).toContain(`\`retentionDays\` is ${DEFAULT_RETENTION_DAYS} days`);
  });

  it("gives the defaults of what outlives a deletion as the settings have them", () => {
    expect(privacy).toContain(`| ${CONFIG_KEYS.timeTravelHours.default} hours by default, up to 7 days | \`timeTravelHours\``);
    expect(privacy).toContain(`| ${CONFIG_KEYS.archiveSoftDeleteDays.default} days by default | \`archiveSoftDeleteDays\``);
  });

  it("gives the dead letters' and the spool's bounds as the code has them", () => {
    expect(privacy).toContain(`| ${Number.parseInt(DEAD_LETTER_RETENTION, 10) / 86_400} days (the subscription's retention)`);
    expect(privacy).toContain(`loaded segments beyond ${KEEP_LOADED_BYTES / 2 ** 20} MiB`);
  });

  it("points to the erase command's documentation, and cites the CNIL's page", () => {
    expect(privacy).toMatch(/\n## Erasing a tenant\n\n[^#]*\[operations\.md\]\(operations\.md#erasing-a-tenant\)/);
    expect(privacy).toContain("(https://www.cnil.fr/fr/node/167364)");
  });
});

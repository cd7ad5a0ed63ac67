import { readFileSync } from "node:fs";
import * as path from "node:path";
import { lookmlProject, MODEL_NAME } from "../../core/lookml";
import { parseProject } from "../../testkit/lookml";
import { settingsFrom, TEST_ATTRIBUTES } from "../../testkit/settings";

const doc = readFileSync(path.join(__dirname, "..", "..", "docs", "looker.md"), "utf8");

describe.each(["per-tenant-day", "partitioned"])("docs/looker.md, for a %s stack", (layout) => {
  const { files } = lookmlProject(settingsFrom({ attributes: TEST_ATTRIBUTES, layout }), { connection: "c", project: "p", dataset: "d", tenantUserAttribute: "pixel_tenant" }, "# generated");

  it("describes every explore the project has, each with its Looker Studio equivalent", async () => {
    const project = await parseProject(files);
    const explores = Object.entries((project.file[`${MODEL_NAME}.model`].explore ?? {}) as Record<string, { label: string }>);
    expect(explores.length).toBeGreaterThan(0);
    for (const [name, explore] of explores) expect(doc).toMatch(new RegExp(`^\\| ${explore.label} \\(\`${name}\`\\) \\|[^\\n]*\\|[^\\n]*\\|[^\\n]*\\S[^\\n]* \\|$`, "m"));
  });

  it("lists every file it writes", () => {
    for (const file of files) expect(doc).toContain(`\`${file.path.replace(/rollup_\w+\.view/, "rollup_*.view")}\``);
  });
});

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { DELIVERY_FAILURE_REASONS } from "../../core/delivery";
import { REFUSAL_REASONS } from "../../core/refusals";
import { STANDARD_COLUMNS } from "../../core/schema";

const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

describe("the README", () => {
  it.each([...Object.keys(REFUSAL_REASONS), ...Object.keys(DELIVERY_FAILURE_REASONS)])("documents the reason %s", (reason) => {
    expect(readme).toContain(`| \`${reason}\` |`);
  });

  it.each(STANDARD_COLUMNS.map((column) => [column.name, column.type]))("documents the column %s (%s)", (name, type) => {
    expect(readme).toContain(`| \`${name}\` | ${type} |`);
  });

  it("links the architecture, which names every folder of the layout", () => {
    expect(readme).toContain("(docs/architecture.md)");
    const architecture = readFileSync(path.join(__dirname, "..", "..", "docs", "architecture.md"), "utf8");
    for (const folder of ["core", "functions", "infra", "local", "cli", "testkit", "test"]) expect(architecture).toContain(`| \`${folder}/\` |`);
  });

  it("gives npm test as the test command and npm ci && npm start as the way to try it", () => {
    expect(readme).toContain("npm test");
    expect(readme).toContain("npm ci && npm start");
  });
});

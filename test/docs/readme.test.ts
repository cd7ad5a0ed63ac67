import { readFileSync } from "node:fs";
import * as path from "node:path";
import { REFUSAL_REASONS } from "../../core/refusals";
import { STANDARD_COLUMNS } from "../../core/schema";

const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

describe("the README", () => {
  it.each(Object.keys(REFUSAL_REASONS))("documents the refusal reason %s", (reason) => {
    expect(readme).toContain(`| \`${reason}\` |`);
  });

  it.each(STANDARD_COLUMNS.map((column) => [column.name, column.type]))("documents the column %s (%s)", (name, type) => {
    expect(readme).toContain(`| \`${name}\` | ${type} |`);
  });

  it("gives npm test as the test command and npm ci && npm start as the way to try it", () => {
    expect(readme).toContain("npm test");
    expect(readme).toContain("npm ci && npm start");
  });
});

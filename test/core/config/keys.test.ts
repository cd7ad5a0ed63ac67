import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { CONFIG_KEYS, KNOWN_CONFIG_KEYS, MIN_PULUMI_CLI_VERSION } from "../../../core/config/keys";
import { ConfigError } from "../../../core/config/fields";
import { validateStackConfig } from "../../../core/config/stackConfig";

const ROOT = path.join(__dirname, "..", "..", "..");
const CONTEXT = { stack: "dev", project: "my-project-1" };
const ATTRIBUTES = JSON.stringify({ user_id: "STRING", type: "STRING" });

/** Every declared default, as Pulumi hands merged defaults to the program: strings, structured values as JSON. */
function declaredDefaults(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(CONFIG_KEYS).flatMap(([key, spec]) =>
      "default" in spec ? [[key, typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default)]] : [],
    ),
  );
}

test("Pulumi.yaml declares exactly the settings core/config/keys.ts defines", () => {
  const declared = (parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config?: unknown }).config;
  const expected = JSON.parse(JSON.stringify(CONFIG_KEYS)) as unknown;
  if (JSON.stringify(declared) !== JSON.stringify(expected)) {
    // The block to paste into Pulumi.yaml, so a new key is one copy away from being declared.
    console.error(`Pulumi.yaml's config block should be:\n${stringify({ config: expected }, { lineWidth: 0, aliasDuplicateObjects: false })}`);
  }
  expect(declared).toEqual(expected);
});

test("a stack that gets every declared default is configured exactly as one that sets nothing", () => {
  for (const switches of [{}, { archive: "false", monitoring: "false" }]) {
    const merged = validateStackConfig({ ...declaredDefaults(), attributes: ATTRIBUTES, ...switches }, CONTEXT);
    expect(merged).toEqual(validateStackConfig({ attributes: ATTRIBUTES, ...switches }, CONTEXT));
  }
});

test("the keys declared without a default are the ones the program requires", () => {
  const required = Object.entries(CONFIG_KEYS).filter(([, spec]) => !("default" in spec)).map(([key]) => key);
  expect(required).toEqual(["attributes"]);
  expect(() => validateStackConfig({}, CONTEXT)).toThrow(ConfigError);
  expect(() => validateStackConfig({}, CONTEXT)).toThrow(/pixel-pipeline:attributes: is required/);
});

test("docs/deploy.md documents every setting", () => {
  const deployDoc = readFileSync(path.join(ROOT, "docs", "deploy.md"), "utf8");
  expect(KNOWN_CONFIG_KEYS.filter((key) => !deployDoc.includes(`| \`${key}\` |`))).toEqual([]);
});

describe("the Pulumi CLI version the declarations need", () => {
  // Each place names exactly one version: the one core/config/keys.ts gives, and no other.
  it.each(["Pulumi.yaml", "README.md", path.join("docs", "deploy.md")])("%s names it", (file) => {
    const text = readFileSync(path.join(ROOT, file), "utf8");
    const named = [...text.matchAll(/Pulumi CLI[^\n]*?\b(3\.[0-9]+(?:\.[0-9]+)?) or later/g)].map((match) => match[1]);
    expect(named).toEqual([MIN_PULUMI_CLI_VERSION]);
  });

  it("is 3.187 or later: `type: object` in config declarations arrived in 3.187.0 (pulumi/pulumi#20132)", () => {
    const [major, minor] = MIN_PULUMI_CLI_VERSION.split(".").map(Number);
    expect(major === 3 && minor >= 187).toBe(true);
  });
});

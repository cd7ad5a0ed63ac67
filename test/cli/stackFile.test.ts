import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseCommand } from "../../cli/parse";
import { redriveCommand } from "../../cli/redrive";
import { replayCommand } from "../../cli/replay";
import { EXIT, runCommand } from "../../cli/runner";
import type { RunnableCommand } from "../../cli/runner";
import { signCommand } from "../../cli/sign";
import { PROJECT_ROOT, readStack } from "../../cli/stackFile";
import { startCommand } from "../../cli/start";
import { validateStackConfig } from "../../core/config/stackConfig";
import { captureCommandOutput } from "../../testkit/console";
import { configProblems } from "../../testkit/settings";

// A stack file with a typo, in the project root where the commands look for stack files.
const STACK = `typo-${process.pid}`;
const FILE = path.join(PROJECT_ROOT, `Pulumi.${STACK}.yaml`);
const TYPO = "pixel-pipeline:tenantAlowlist";

beforeAll(() => {
  writeFileSync(FILE, `config:\n  pixel-pipeline:attributes:\n    user_id: STRING\n  ${TYPO}: acme\n`);
});
afterAll(() => rmSync(FILE, { force: true }));

const { stderr } = captureCommandOutput();

/** The Pulumi program's message for the same config. */
function programProblem(): string {
  return configProblems(() => validateStackConfig({ attributes: { user_id: "STRING" }, tenantAlowlist: "acme" }, { stack: STACK, project: "my-project-1" })).join("\n");
}

test.each([
  ["npm start", startCommand, ["--stack", STACK, "--port", "0"]],
  ["npm run parse", parseCommand, ["--stack", STACK]],
  ["npm run replay", replayCommand, ["--stack", STACK, "--dry-run", "nowhere.json"]],
  ["npm run redrive", redriveCommand, ["--stack", STACK, "--topic", "t", "--subscription", "s", "--project", "p-123456"]],
  ["npm run sign", signCommand, ["--stack", STACK, "key=0123456789abcdef", "user_id=acme"]],
] as [string, RunnableCommand, string[]][])("%s stops at a misspelled key with the program's message, exit 2", async (_name, command, argv) => {
  expect(await runCommand(command, argv)).toBe(EXIT.usage);
  expect(programProblem()).toMatch(/^pixel-pipeline:tenantAlowlist: is not a setting of this program; the settings are: attributes, /);
  expect(stderr.join("\n")).toContain(programProblem());
});

test("a stack file is validated whole, without a project, and its encrypted signing keys come from the environment", () => {
  const file = path.join(PROJECT_ROOT, `Pulumi.${STACK}-signed.yaml`);
  writeFileSync(file, "config:\n  pixel-pipeline:attributes:\n    user_id: STRING\n  pixel-pipeline:signedUrls: true\n  pixel-pipeline:signingKeys:\n    secure: v1:abc\n  pixel-pipeline:functionMemory: 1Ti\n");
  try {
    expect(() => readStack(`${STACK}-signed`, PROJECT_ROOT, {})).toThrow(/PIXEL_SIGNING_KEYS is empty[\s\S]*functionMemory: "1Ti" is not valid/);
    writeFileSync(file, "config:\n  pixel-pipeline:attributes:\n    user_id: STRING\n  pixel-pipeline:signedUrls: true\n  pixel-pipeline:signingKeys:\n    secure: v1:abc\n");
    const stack = readStack(`${STACK}-signed`, PROJECT_ROOT, { PIXEL_SIGNING_KEYS: "0123456789abcdef" });
    expect(stack.settings.signingKeys).toEqual(["0123456789abcdef"]);
    expect(stack.project).toBeUndefined();
  } finally {
    rmSync(file, { force: true });
  }
});

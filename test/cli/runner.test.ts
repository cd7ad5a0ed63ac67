import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { benchCommand } from "../../bench/run";
import { parseCommand } from "../../cli/parse";
import { queryCommand } from "../../cli/query";
import { redriveCommand } from "../../cli/redrive";
import { replayCommand } from "../../cli/replay";
import { eraseCommand } from "../../cli/erase";
import { EXIT, runCommand } from "../../cli/runner";
import type { RunnableCommand } from "../../cli/runner";
import { signCommand } from "../../cli/sign";
import { smokeCommand } from "../../cli/smoke";
import { startCommand } from "../../cli/start";
import { fuzzCommand } from "../../fuzz/run";
import { runScript } from "../../testkit/runScript";
import { captureCommandOutput } from "../../testkit/console";

const { stdout, stderr } = captureCommandOutput();

describe.each([
  ["npm start", startCommand],
  ["npm run query", queryCommand],
  ["npm run parse", parseCommand],
  ["npm run sign", signCommand],
  ["npm run replay", replayCommand],
  ["npm run redrive", redriveCommand],
  ["npm run erase", eraseCommand],
  ["npm run smoke", smokeCommand],
  ["npm run bench", benchCommand],
  ["npm run fuzz", fuzzCommand],
] as [string, RunnableCommand][])("%s", (_name, command) => {
  test("--help and -h print the usage on stdout and exit 0", async () => {
    for (const flag of ["--help", "-h"]) {
      expect(await runCommand(command, [flag])).toBe(EXIT.ok);
    }
    expect(stdout).toEqual([command.usage, command.usage]);
    expect(command.usage).toMatch(/^Usage: npm (start|run)/);
    expect(command.usage).toMatch(/-h, --help/);
    expect(stderr).toEqual([]);
  });

  test("an unknown flag prints what is wrong and the usage, never a stack trace, and exits 2", async () => {
    expect(await runCommand(command, ["--bogus"])).toBe(EXIT.usage);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toBe(`unknown option '--bogus'\n\n${command.usage}`);
    expect(stderr[0]).not.toMatch(/\n\s+at /);
    expect(process.exitCode).toBe(EXIT.usage);
  });

  test("a misspelled flag gets the same message from every command, naming the flag it misspells", async () => {
    const [longest] = Object.keys(command.args.options ?? {}).sort((a, b) => b.length - a.length);
    // Two neighbouring letters swapped, the commonest typo.
    const typo = `--${longest[0]}${longest[2]}${longest[1]}${longest.slice(3)}`;
    expect(await runCommand(command, [typo, "x"])).toBe(EXIT.usage);
    expect(stderr).toEqual([`unknown option '${typo}': did you mean --${longest}?\n\n${command.usage}`]);
  });
});

test.each([
  ["a dropped letter", "--dat-dir"],
  ["a swapped pair", "--dtaa-dir"],
  ["a wrong letter, written with its value", "--data-dur=.data"],
])("%s is a misspelling of the flag it is nearest: %s", async (_, typo) => {
  expect(await runCommand(queryCommand, [typo, "SELECT 1"])).toBe(EXIT.usage);
  expect(stderr[0]).toMatch(/: did you mean --data-dir\?\n/);
});

test("a stack configuration error exits 2 with the problems, without the usage", async () => {
  expect(await runCommand(parseCommand, ["--stack", "no-such-stack"])).toBe(EXIT.usage);
  expect(stderr.join("\n")).toMatch(/Pulumi\.no-such-stack\.yaml does not exist/);
  expect(stderr.join("\n")).not.toContain("Usage:");
});

test("a failure at run time exits 1 with its message", async () => {
  expect(await runCommand(queryCommand, ["--data-dir", "/nonexistent/pixel", "SELECT 1"])).toBe(EXIT.failure);
  expect(stderr.join("\n")).toMatch(/no database at \/nonexistent\/pixel/);
});

test("the process ends with the runner's exit code", async () => {
  const result = await runScript("cli/sign.ts", ["--bogus"]);
  expect(result.code).toBe(EXIT.usage);
  expect(result.stderr).toContain("Usage: npm run --silent sign");
});

test("a cloud command run without Google credentials says how to get them", async () => {
  const home = await mkdtemp(path.join(tmpdir(), "pixel-no-credentials-"));
  try {
    const result = await runScript("cli/redrive.ts", ["--stack", "dev", "--topic", "t", "--subscription", "s", "--project", "p-123456", "--dry-run"], {
      // No credentials anywhere, no emulator, and no metadata server to ask.
      env: { HOME: home, CLOUDSDK_CONFIG: home, GOOGLE_APPLICATION_CREDENTIALS: "", PUBSUB_EMULATOR_HOST: "", METADATA_SERVER_DETECTION: "none" },
    });
    expect(result.code).toBe(EXIT.failure);
    expect(result.stderr).toContain("gcloud auth application-default login");
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

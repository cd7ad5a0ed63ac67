import { spawn } from "node:child_process";
import * as path from "node:path";
import { pathsFrom } from "../../cli/dataOptions";
import { PROJECT_ROOT } from "../../cli/stackFile";
import { userPath } from "../../cli/userPath";
import { freshDirectoryEachTest } from "../../testkit/localPipeline";

jest.setTimeout(60_000);

const local = freshDirectoryEachTest();

/** `npm run` as a user types it in `cwd`, for the project wherever it is. */
function npmRun(cwd: string, args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["--prefix", PROJECT_ROOT, "run", "--silent", ...args], { cwd, env: { ...process.env, INIT_CWD: "" } });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

test("npm runs the script in the project's root, and --data-dir still means the directory the user is in", async () => {
  const result = await npmRun(local.dir, ["query", "--", "--data-dir", "mine", "SELECT 1"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`no database at ${path.join(local.dir, "mine", "pixel.duckdb")}`);
});

describe("with the directory npm ran from in INIT_CWD", () => {
  const before = process.env.INIT_CWD;
  beforeEach(() => (process.env.INIT_CWD = "/home/user/site"));
  afterEach(() => {
    if (before === undefined) delete process.env.INIT_CWD;
    else process.env.INIT_CWD = before;
  });

  test.each([
    [{ "data-dir": "data" }, { dataDir: "/home/user/site/data", database: "/home/user/site/data/pixel.duckdb" }],
    [{ "data-dir": "/srv/pixel", db: "../copy.duckdb" }, { dataDir: "/srv/pixel", database: "/home/user/copy.duckdb" }],
    [{}, { dataDir: path.join(PROJECT_ROOT, ".data"), database: path.join(PROJECT_ROOT, ".data", "pixel.duckdb") }],
  ])("%p resolves to %p: the default is the project's own", (values, expected) => {
    expect(pathsFrom(values)).toMatchObject(expected);
  });

  test("other files the user names resolve there too", () => {
    expect(userPath("outputs.json")).toBe("/home/user/site/outputs.json");
  });
});

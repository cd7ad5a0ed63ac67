import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GENERATED_MARK, generatedHeader, writeProject } from "../../cli/lookml";
import { EXIT } from "../../cli/runner";
import { parseProject } from "../../testkit/lookml";

const ROOT = path.join(__dirname, "..", "..");

function runLookml(args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(process.execPath, [path.join(ROOT, "node_modules/tsx/dist/cli.mjs"), path.join(ROOT, "cli/lookml.ts"), ...args], { encoding: "utf8", timeout: 60_000, cwd: ROOT, env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), "lookml-"));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

it("writes a project that parses, every file headed by how it was generated, and refuses a directory with other files unless --force", async () => {
  const out = path.join(directory, "project");
  const first = runLookml(["--stack", "dev", "--project", "my-project-1", "--out", out]);
  expect(first).toMatchObject({ status: EXIT.ok, stderr: "" });
  const files = ["manifest.lkml", "pixel_pipeline.model.lkml", "views/events_dedup.view.lkml", "views/rollup_totals.view.lkml"].map((file) => ({ path: file, content: readFileSync(path.join(out, file), "utf8") }));
  for (const file of files) expect(file.content.startsWith(`${generatedHeader("dev")}\n`)).toBe(true);
  expect((await parseProject(files)).errors ?? []).toEqual([]);
  expect(files[0].content).toContain('constant: gcp_project {\n  value: "my-project-1"');
  expect(files[0].content).toContain('constant: dataset {\n  value: "pixel_dev"');

  // Run again over its own files: replaced, no refusal.
  expect(runLookml(["--stack", "dev", "--project", "my-project-1", "--out", out]).status).toBe(EXIT.ok);

  writeFileSync(path.join(out, "views", "ours.view.lkml"), "view: ours {}\n");
  const refused = runLookml(["--stack", "dev", "--project", "my-project-1", "--out", out]);
  expect(refused.status).toBe(EXIT.usage);
  expect(refused.stderr).toContain("holds files npm run lookml did not write (views/ours.view.lkml)");
  expect(refused.stderr).toContain("--force");

  expect(runLookml(["--stack", "dev", "--project", "my-project-1", "--out", out, "--force"]).status).toBe(EXIT.ok);
  expect(readFileSync(path.join(out, "views", "ours.view.lkml"), "utf8")).toBe("view: ours {}\n");
});

it("writes a relative --out into the directory npm ran from (INIT_CWD), not the project's root where npm runs it", () => {
  const result = runLookml(["--stack", "dev", "--project", "my-project-1", "--out", "project"], { ...process.env, INIT_CWD: directory });
  expect(result).toMatchObject({ status: EXIT.ok, stderr: "" });
  expect(existsSync(path.join(directory, "project", "manifest.lkml"))).toBe(true);
  expect(existsSync(path.join(ROOT, "project"))).toBe(false);
});

it("asks for a project when the stack sets none", () => {
  const result = runLookml(["--stack", "dev", "--out", path.join(directory, "project")]);
  expect(result.status).toBe(EXIT.usage);
  expect(result.stderr).toContain("sets no gcp:project: set it, or pass --project ID");
});

it("removes the files an earlier run wrote and this one does not, and leaves a git clone's own files", () => {
  mkdirSync(path.join(directory, "views"));
  mkdirSync(path.join(directory, ".git"));
  writeFileSync(path.join(directory, ".git", "HEAD"), "ref: refs/heads/main\n");
  writeFileSync(path.join(directory, "views", "old.view.lkml"), `${GENERATED_MARK} -- --stack dev\nview: old {}\n`);
  const written = writeProject(directory, [{ path: "views/new.view.lkml", content: `${GENERATED_MARK}\nview: new {}\n` }], false);
  expect(written).toEqual(["views/new.view.lkml"]);
  expect(existsSync(path.join(directory, "views", "old.view.lkml"))).toBe(false);
  expect(existsSync(path.join(directory, ".git", "HEAD"))).toBe(true);
});

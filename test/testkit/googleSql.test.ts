import { spawn } from "node:child_process";
import * as path from "node:path";
import { GoogleSqlAnalyzer } from "../../testkit/googleSql";
import { waitForLine } from "../../testkit/waitForLine";

// The analyzer's server is a separate process: it must never outlive the test file that started it.

const ROOT = path.join(__dirname, "..", "..");

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`the analyzer's server ${pid} is still running`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("close() stops the server", async () => {
  const analyzer = await GoogleSqlAnalyzer.start();
  expect(isRunning(analyzer.serverPid)).toBe(true);
  await expect(analyzer.analyze("SELECT 1 AS one", () => undefined)).resolves.toEqual({ columns: [{ name: "one", type: "INT64" }], tables: [] });
  await analyzer.close();
  await waitUntilGone(analyzer.serverPid);
});

test("the server dies with the process that started it, even when that process is killed without a chance to clean up", async () => {
  const parent = spawn(process.execPath, ["--import", "tsx", "-e", 'require("./testkit/googleSql").GoogleSqlAnalyzer.start().then((analyzer) => console.log(`server ${analyzer.serverPid}`))'], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [, pid] = await waitForLine(parent, /server (\d+)/, 20_000);
  expect(isRunning(Number(pid))).toBe(true);
  parent.kill("SIGKILL");
  await waitUntilGone(Number(pid));
});

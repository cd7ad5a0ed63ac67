import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { createServer } from "node:net";
import type { Server } from "node:net";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../cli/stackFile";
import { checkSignature } from "../../core/signature";
import { dataPaths } from "../../local/paths";
import { readServerFile } from "../../local/serverFile";
import { freshDirectoryEachTest, httpRequest, query, waitFor } from "../../testkit/localPipeline";
import { runScript } from "../../testkit/runScript";
import { waitForLine } from "../../testkit/waitForLine";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm start behind a process manager", () => {
  let npm: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    // The whole process group npm started, should a case have left any of it.
    if (npm?.pid && alive(-npm.pid)) process.kill(-npm.pid, "SIGKILL");
    npm = undefined;
  });

  it.each<["npm" | "server", NodeJS.Signals]>([
    ["npm", "SIGTERM"],
    ["npm", "SIGINT"],
    ["server", "SIGTERM"],
    ["server", "SIGINT"],
  ])("stops cleanly on %s getting %s, releasing the port and the database", async (target, signal) => {
    // Its own process group, as a service manager starts it, so no signal reaches this test run.
    npm = spawn("npm", ["start", "--", "--port", "0", "--data-dir", local.dir], { cwd: PROJECT_ROOT, detached: true });
    const exited = new Promise<number | null>((resolve) => npm?.once("exit", (code) => resolve(code)));
    const [, url] = await waitForLine(npm, /listening on (http:\/\/\S+\/)/, 90_000);
    expect((await httpRequest(`${url}pixel.png?user_id=managed`)).status).toBe(200);
    const server = await readServerFile(dataPaths(local.dir).serverFile);
    process.kill(target === "npm" ? (npm.pid as number) : (server?.pid as number), signal);

    expect(await exited).toBe(0);
    // Nothing of it is left: no process, no listener, no lock on the database.
    const group = -(npm.pid as number);
    expect(await waitFor(async () => [alive(server?.pid as number), alive(group)], (left) => !left.includes(true), 10_000)).toEqual([false, false]);
    await expect(httpRequest(url)).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(dataPaths(local.dir).serverFile)).toBe(false);
    expect(await query(local.dir, `SELECT tenant FROM events`)).toEqual([{ tenant: "managed" }]);
  });
});

describe("the listen address", () => {
  it("ignores HOST, which some shells export by themselves", async () => {
    const server = await local.spawnServer({ env: { HOST: "0.0.0.0" } });
    expect(new URL(server.url).hostname).toBe("127.0.0.1");
    expect(server.output()).not.toContain("warning");
  });

  it.each([
    ["PIXEL_HOST", { env: { PIXEL_HOST: "0.0.0.0" } }],
    ["--host", { args: ["--host", "0.0.0.0"] }],
  ])("comes from %s, and a non-loopback one is printed as it is, warned about, and needs the token for the stats", async (_, options) => {
    const server = await local.spawnServer(options);
    expect(new URL(server.url).hostname).toBe("0.0.0.0");
    await server.waitForOutput(/warning: http:\/\/0\.0\.0\.0:\d+\/ is not a loopback address/);
    const { token, url } = (await readServerFile(dataPaths(local.dir).serverFile)) ?? { token: "", url: "" };
    expect(server.output()).toContain(`${url}#token=${token}`);
    expect((await httpRequest(`${url}api/stats`)).status).toBe(401);
    expect((await httpRequest(`${url}api/stats`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await httpRequest(`${url}pixel.png?user_id=acme`)).status).toBe(200);
  });
});

describe("on a stack with signed URLs", () => {
  // A stack file in the project root, where npm start looks for them.
  const STACK = `signed-${process.pid}`;
  const FILE = path.join(PROJECT_ROOT, `Pulumi.${STACK}.yaml`);
  beforeAll(() => {
    writeFileSync(
      FILE,
      "config:\n  pixel-pipeline:attributes:\n    user_id: STRING\n  pixel-pipeline:tenantAllowlist: [shop]\n" +
        "  pixel-pipeline:signedUrls: true\n  pixel-pipeline:signingKeys:\n    secure: v1:abc\n",
    );
  });
  afterAll(() => rmSync(FILE, { force: true }));

  it("the start-up line's example is signed with PIXEL_SIGNING_KEYS, for a tenant the stack accepts, and becomes a row", async () => {
    const server = await local.spawnServer({ args: ["--stack", STACK], env: { PIXEL_SIGNING_KEYS: "0123456789abcdef\nfedcba9876543210" } });
    const [, example] = await server.waitForOutput(/ — try (\S+);/);
    const url = new URL(example);
    expect(url.searchParams.get("user_id")).toBe("shop");
    expect(checkSignature(url.searchParams, ["0123456789abcdef"])).toBe("valid");
    expect((await httpRequest(example)).status).toBe(200);
    expect(await waitFor(() => query(local.dir, "SELECT tenant FROM events"), (rows) => rows.length > 0, 30_000)).toEqual([{ tenant: "shop" }]);
  });
});

describe("a failed start", () => {
  let holder: Server;
  let heldPort: number;
  beforeEach(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    heldPort = (holder.address() as { port: number }).port;
  });
  afterEach(() => new Promise((resolve) => holder.close(resolve)));

  it("names the fix for a busy port, and leaves no data directory behind", async () => {
    const dataDir = path.join(local.dir, "new");
    const result = await runScript("cli/start.ts", ["--port", String(heldPort), "--data-dir", dataDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^cannot start: port ${heldPort} is in use on 127\\.0\\.0\\.1, perhaps by another npm start: stop that one, or choose another port with --port`));
    expect(existsSync(dataDir)).toBe(false);
  });

  it("names the server that holds the data directory, and what to do instead", async () => {
    const running = await local.spawnServer();
    const server = await readServerFile(dataPaths(local.dir).serverFile);
    const result = await runScript("cli/start.ts", ["--port", "0", "--data-dir", local.dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `cannot start: the data directory ${local.dir} is in use by the npm start running as process ${server?.pid} at ${running.url}: ` +
        `DuckDB lets one process write ${path.join(local.dir, "pixel.duckdb")}. Stop that one (Ctrl-C where it runs), or start this one with another --data-dir. ` +
        `To read its data while it runs, use npm run query -- --data-dir ${local.dir} "SQL".\n`,
    );
    // The running one still answers, and keeps its server file.
    expect((await httpRequest(`${running.url}pixel.png?user_id=acme`)).status).toBe(200);
    expect(await readServerFile(dataPaths(local.dir).serverFile)).toEqual(server);
  });

  it("adds nothing to an existing data directory", async () => {
    const server = await local.spawnServer();
    server.child.kill("SIGTERM");
    await server.exited;
    const before = (await readdir(local.dir, { recursive: true })).sort();
    const result = await runScript("cli/start.ts", ["--port", String(heldPort), "--data-dir", local.dir]);
    expect(result.code).toBe(1);
    expect((await readdir(local.dir, { recursive: true })).sort()).toEqual(before);
  });
});

describe("--max-refusals", () => {
  it.each([" ", "-1", "many", "1.5"])("refuses %j, naming the option and its variable", async (value) => {
    const result = await runScript("cli/start.ts", ["--port", "0", "--data-dir", local.dir], { env: { PIXEL_MAX_REFUSALS: value } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--max-refusals (or PIXEL_MAX_REFUSALS) must be a whole number of refusals to keep");
  });

  it("reaches the database from PIXEL_MAX_REFUSALS", async () => {
    const server = await local.spawnServer({ env: { PIXEL_MAX_REFUSALS: "10" } });
    for (let index = 0; index < 12; index++) await httpRequest(`${server.url}pixel.png?refused=${index}`);
    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const [{ n }] = await query(local.dir, `SELECT count(*) AS n FROM refusals`);
    // Past 10, the newest nine tenths are kept; more refusals may have come in a later batch.
    expect(n).toBeGreaterThanOrEqual(9);
    expect(n).toBeLessThanOrEqual(10);
  });
});

import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as http from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../cli/stackFile";
import type { CoreSettings } from "../core/config/coreSettings";
import { settingsFor } from "./settings";
import type { LogLine } from "../core/delivery";
import type { JsonRow } from "../local/database";
import { buildLogEntry } from "../local/logEntry";
import { dataPaths } from "../local/paths";
import type { DataPaths } from "../local/paths";
import { startPipeline } from "../local/pipeline";
import type { PipelineOptions, RunningPipeline } from "../local/pipeline";
import { runQuery } from "../local/queryClient";
import { CliResult, runScript } from "./runScript";
import { captureOutput } from "./waitForLine";

/**
 * One answered pixel request as the front end spools it, a line of JSON, for tests that write a
 * spool segment themselves: `insertId`, the pixel's query string, and when it arrived.
 */
export function spooledPixelLine(insertId: string, query: string, atNs: bigint): string {
  return JSON.stringify(
    buildLogEntry({
      insertId,
      receivedAtNs: atNs,
      loggedAtNs: atNs,
      latencyNs: 1000n,
      method: "GET",
      requestUrl: `http://127.0.0.1:8080/pixel.png?${query}`,
      status: 200,
      protocol: "HTTP/1.1",
      responseSize: 68,
      fromCache: true,
    }),
  );
}

export async function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), "pixel-local-"));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** What `freshDirectoryEachTest` gives a test file: the current test's directory, and what a test starts there. */
export interface TestDirectory {
  /** The current test's own directory, new and empty when the test starts. */
  readonly dir: string;
  /**
   * The pipeline in this process (startTestPipeline) on the test's directory, or on `dataDir` below
   * it; closed after the test if the test did not close it.
   */
  startPipeline(settings?: CoreSettings, options?: TestPipelineOptions & { dataDir?: string }): Promise<TestPipeline>;
  /** Closes the pipeline the test started, as a shutdown does: its spool is loaded. Nothing is left to close after a failed close. */
  stopPipeline(): Promise<void>;
  /** npm start's server on the test's directory (spawnServer); killed after the test if it still runs. */
  spawnServer(options?: Parameters<typeof spawnServer>[1]): Promise<ServerProcess>;
}

/**
 * Gives every test of the file (or describe block) that calls it a new directory, and after each
 * test stops what the test started through it and removes the directory, whatever the test's outcome.
 */
export function freshDirectoryEachTest(): TestDirectory {
  let dir: string | undefined;
  let pipeline: TestPipeline | undefined;
  const servers: ServerProcess[] = [];
  const current = (): string => {
    if (dir === undefined) throw new Error("a test's directory exists only while the test runs");
    return dir;
  };
  const stopPipeline = async (): Promise<void> => {
    const running = pipeline;
    pipeline = undefined;
    await running?.close();
  };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    try {
      await stopPipeline();
    } finally {
      for (const server of servers.splice(0)) {
        if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
        await server.exited;
      }
      await removeDir(dir);
      dir = undefined;
    }
  });
  return {
    get dir() {
      return current();
    },
    async startPipeline(settings, { dataDir = current(), ...options } = {}) {
      // One at a time, so that none is left running unseen after the test.
      if (pipeline) throw new Error("the test's pipeline is running: stopPipeline() it before starting another");
      pipeline = await startTestPipeline(dataDir, settings, options);
      return pipeline;
    },
    stopPipeline,
    async spawnServer(options) {
      const server = await spawnServer(current(), options);
      servers.push(server);
      return server;
    },
  };
}

export interface TestPipeline extends RunningPipeline {
  readonly paths: DataPaths;
  readonly logLines: LogLine[];
  readonly warnings: string[];
}

type TestPipelineOptions = Partial<Pick<PipelineOptions, "host" | "port" | "spool" | "maxRefusals" | "retentionDays">>;

/** The pipeline in this process, on a free loopback port unless `options` say otherwise. */
export async function startTestPipeline(dataDir: string, settings: CoreSettings = settingsFor(), options: TestPipelineOptions = {}): Promise<TestPipeline> {
  const paths = dataPaths(dataDir);
  const logLines: LogLine[] = [];
  const warnings: string[] = [];
  const pipeline = await startPipeline({
    settings,
    host: "127.0.0.1",
    port: 0,
    paths,
    log: (line) => logLines.push(line),
    warn: (message) => warnings.push(message),
    ...options,
  });
  return { ...pipeline, paths, logLines, warnings };
}

export function query(dataDir: string, sql: string): Promise<JsonRow[]> {
  return runQuery(sql, dataPaths(dataDir));
}

/** Polls until `read` returns a value `done` accepts; loading is asynchronous, so tests wait for it. */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function countRows(dataDir: string, where = "true"): Promise<number> {
  const [row] = await query(dataDir, `SELECT count(*) AS n FROM events WHERE ${where}`);
  return Number(row.n);
}

export interface ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly output: () => string;
  /** Waits for `pattern` in everything the server printed, early lines included. */
  readonly waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
}

/**
 * npm start's command line from package.json ("exec node <options> cli/start.ts"), without `exec
 * node`: what runs the server, so that tests and the bench run it the same way, without npm.
 */
export function npmStartArgs(): string[] {
  const script = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  const [exec, node, ...args] = script.split(/\s+/);
  if (exec !== "exec" || node !== "node" || args.at(-1) !== "cli/start.ts") throw new Error(`npm start is not "exec node ... cli/start.ts" any more: ${script}`);
  return args;
}

/** Starts `npm start`'s server on a free port and resolves once it prints its URL; `nodeArgs` go to Node, `args` to the command. */
export async function spawnServer(dataDir: string, options: { nodeArgs?: readonly string[]; args?: readonly string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const { nodeArgs = [], args = [], env = {}, timeoutMs = 90_000 } = options;
  const child = spawn(process.execPath, [...nodeArgs, ...npmStartArgs(), "--port", "0", "--data-dir", dataDir, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
  });
  const output = captureOutput(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const [, url] = await output.waitFor(/listening on (http:\/\/\S+\/)/, timeoutMs);
  return { child, url, exited, output: output.text, waitForOutput: (pattern, waitMs = 10_000) => output.waitFor(pattern, waitMs) };
}

/** Runs the query command as a process: its stdout lines, stderr and exit code. */
export function runQueryCommand(args: readonly string[]): Promise<CliResult> {
  return runScript("cli/query.ts", args);
}

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A plain HTTP request, with full control of headers such as Referer and Host. */
export function httpRequest(url: string, options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: options.method ?? "GET", headers: options.headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(options.body);
  });
}

// Local pipeline under load: sustained pixel requests per second with zero loss, and latency,
// against nginx serving the same pixel file on the same machine. Only 127.0.0.1, bounded in time.
import { DuckDBInstance } from "@duckdb/node-api";
import autocannon from "autocannon";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { freePort } from "../testkit/freePort";
import { npmStartArgs } from "../testkit/localPipeline";
import { loaderPids, peakRss } from "../testkit/processes";
import { waitForLine } from "../testkit/waitForLine";

const ROOT = path.join(__dirname, "..");
const PIXEL = path.join(ROOT, "assets", "pixel.png");
const CONNECTIONS = 32;

export interface LoadRun {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly errors: number;
}

export interface LocalLoadResult {
  readonly seconds: number;
  readonly connections: number;
  readonly pipeline: LoadRun;
  readonly nginx: LoadRun;
  /** Node's own HTTP server answering the pixel and doing nothing else: what Node costs before the pipeline does anything. */
  readonly bareNode: LoadRun;
  readonly rows: number;
  /** Answered requests without a row. */
  readonly lost: number;
  /** Rows whose answer the load generator did not count: spooled while it stopped. */
  readonly extra: number;
  /** Entries spooled but not yet loaded when the load stopped: the loader catches up at a lower priority. */
  readonly backlog: number;
  /** From SIGTERM to exit: the backlog loaded and the database closed. */
  readonly stopSeconds: number;
  /** Peak resident set sizes, in bytes, over the load and the shutdown: the front end's process and the loader's. */
  readonly peakRss: { readonly frontEnd: number; readonly loader: number };
}


async function load(url: string, seconds: number): Promise<LoadRun> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result["2xx"],
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/** nginx from Debian's package, installed on first use, serving the pixel with one worker, like the single Node process. */
function ensureNginx(): string {
  if (!existsSync("/usr/sbin/nginx")) {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore" });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "nginx"], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", RUNLEVEL: "1" } });
  }
  return "/usr/sbin/nginx";
}

async function startNginx(directory: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const config = path.join(directory, "nginx.conf");
  writeFileSync(
    config,
    `worker_processes 1; daemon off; pid ${directory}/nginx.pid; error_log ${directory}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { image/png png; }
  client_body_temp_path ${directory}; proxy_temp_path ${directory}; fastcgi_temp_path ${directory}; uwsgi_temp_path ${directory}; scgi_temp_path ${directory};
  server {
    listen 127.0.0.1:${port};
    location = /pixel.png { alias ${PIXEL}; add_header Cache-Control "public, max-age=0"; }
  }
}
`,
  );
  const child = spawn(ensureNginx(), ["-c", config, "-p", directory], { stdio: "ignore" });
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`http://127.0.0.1:${port}/pixel.png`).catch(() => undefined);
    if (response?.ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}/pixel.png`,
    stop: async () => {
      child.kill("SIGQUIT");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/** A bare node:http server answering the pixel with the same headers, in its own process like the others. */
async function startBareNode(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const script = `const png = require("fs").readFileSync(${JSON.stringify(PIXEL)});
require("http").createServer((request, response) => { request.resume(); response.writeHead(200, { "content-type": "image/png", "cache-control": "public, max-age=0" }); response.end(png); }).listen(${port}, "127.0.0.1", () => console.log("ready"));`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  await waitForLine(child, /ready/, 10_000);
  return {
    url: `http://127.0.0.1:${port}/pixel.png`,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * `npm start`'s command in a child process with its own data directory; SIGTERM loads the spool
 * into DuckDB. The peak RSS of its two processes is sampled until it exits.
 */
async function startPipeline(dataDir: string) {
  const child = spawn(process.execPath, [...npmStartArgs(), "--port", "0", "--data-dir", dataDir], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PIXEL_PORT: "", PIXEL_HOST: "" },
  });
  const [, url] = await waitForLine(child, /listening on (http:\/\/[^\s]+)/, 60_000);
  const server = child.pid as number;
  const peak = { frontEnd: 0, loader: 0 };
  const sample = () => {
    peak.frontEnd = Math.max(peak.frontEnd, peakRss(server) ?? 0);
    for (const loader of loaderPids(server)) peak.loader = Math.max(peak.loader, peakRss(loader) ?? 0);
  };
  const sampling = setInterval(sample, 100);
  return {
    url: url.replace(/\/$/, ""),
    peak,
    /** Stops the server, resolving with the seconds it took. */
    stop: async () => {
      sample();
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const started = performance.now();
      child.kill("SIGTERM");
      await exited;
      clearInterval(sampling);
      return (performance.now() - started) / 1000;
    },
  };
}

/** Entries spooled that the database does not hold yet, as the dashboard's stats tell. */
async function backlog(url: string): Promise<number> {
  const stats = (await (await fetch(`${url}/api/stats`)).json()) as { totals: { events: number }; spool: { entries: number } };
  return stats.spool.entries - stats.totals.events;
}

async function countRows(database: string): Promise<number> {
  const instance = await DuckDBInstance.create(database, { access_mode: "READ_ONLY" });
  try {
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll("select count(*) as n from events");
    return Number(reader.getRowObjects()[0].n);
  } finally {
    instance.closeSync();
  }
}

export async function measureLocalLoad(seconds: number): Promise<LocalLoadResult> {
  // nginx hands the directory it runs in to its worker's user; the pipeline refuses data another user could replace.
  const directory = mkdtempSync(path.join(tmpdir(), "pixel-load-nginx-"));
  const pipelineDirectory = mkdtempSync(path.join(tmpdir(), "pixel-load-"));
  try {
    const nginxServer = await startNginx(directory);
    const nginx = await load(nginxServer.url, seconds).finally(nginxServer.stop);
    const bareNodeServer = await startBareNode();
    const bareNode = await load(bareNodeServer.url, seconds).finally(bareNodeServer.stop);
    const dataDir = path.join(pipelineDirectory, "data");
    const pipelineServer = await startPipeline(dataDir);
    let pipeline: LoadRun;
    let behind: number;
    let stopSeconds: number;
    try {
      pipeline = await load(`${pipelineServer.url}/pixel.png?user_id=bench&type=load`, seconds);
      behind = await backlog(pipelineServer.url);
    } finally {
      stopSeconds = await pipelineServer.stop();
    }
    const rows = await countRows(path.join(dataDir, "pixel.duckdb"));
    return {
      seconds,
      connections: CONNECTIONS,
      pipeline,
      nginx,
      bareNode,
      rows,
      lost: Math.max(0, pipeline.ok - rows),
      extra: Math.max(0, rows - pipeline.ok),
      backlog: behind,
      stopSeconds,
      peakRss: pipelineServer.peak,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
    rmSync(pipelineDirectory, { recursive: true, force: true });
  }
}

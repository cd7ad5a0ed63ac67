// npm run smoke -- --stack NAME (--outputs FILE | --local) [--count N] [--timeout SECONDS]
// Fires test pixels at a running pipeline, checks that the edge lets browsers revalidate the pixel,
// and waits until each is a row in the `events` view: the proof, after `pulumi up` or `npm start`,
// that a pixel becomes a row.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { BigQuery } from "@google-cloud/bigquery";
import type { CoreSettings } from "../core/config/coreSettings";
import { VIEWS } from "../core/layout";
import { pixelUrl } from "../core/signature";
import { bigQueryDialect } from "../core/views";
import type { SqlDialect } from "../core/views";
import { duckDbDialect } from "../local/duckdbSchema";
import { runQuery } from "../local/queryClient";
import { readServerFile } from "../local/serverFile";
import { DATA_OPTIONS, DATA_USAGE, pathsFrom } from "./dataOptions";
import { defineCommand, EXIT, runCommand, UsageError } from "./runner";
import { readStack } from "./stackFile";
import { userPath } from "./userPath";

const USAGE = `Usage: npm run smoke -- --stack NAME (--outputs FILE | --local) [options]
Fires test pixels at the stack's pixel URL, then the first one again with its ETag in
If-None-Match, as a browser revalidates it. Checks that the pixel says Cache-Control max-age=0 and
that the repeat is answered 304, waits until each request is a row in the events view, and reports
how many were sent, stored, lost and duplicated, with the latency from pixel to row. The pixels'
user agent is a bot's, so no report counts them as visitors. Exits 1 on any loss or edge failure.
  --stack NAME       settings from Pulumi.NAME.yaml (required)
  --outputs FILE     the stack's outputs as \`pulumi stack output --json\` prints them; - reads stdin
  --local            test the pipeline \`npm start\` runs on this machine instead
  --count N          pixels to fire, 1 to 1000, the repeat not counted (default ${20})
  --timeout SECONDS  how long to wait for the rows, 1 to 3600 (default 300; 30 with --local)
With --local:
${DATA_USAGE}
  -h, --help         this help`;

const DEFAULT_COUNT = 20;
/**
 * Marks the test pixels' rows: the user agent is `<prefix>/<run id>/<sequence>`, stored as it came.
 * Its "bot" makes the core's bot check (isbot) flag every row, so no report counts them as people.
 */
export const SMOKE_USER_AGENT = "pixel-pipeline-smoke-bot";
/** The tenant of the test pixels when the stack has no allowlist. */
const SMOKE_TENANT = "smoke";

/** Where the pixels go and where their rows are read. */
export interface SmokeTarget {
  readonly pixelUrl: string;
  readonly dialect: SqlDialect;
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** How often to look for the rows. */
  readonly pollMs: number;
}

export interface SmokeRun {
  readonly runId: string;
  readonly tenant: string;
  /** When each pixel was answered, by sequence number. */
  readonly sentAt: readonly number[];
  readonly failedRequests: number;
  /** What the edge answered wrong, one sentence each; empty when browsers can revalidate the pixel. */
  readonly edgeProblems: readonly string[];
}

export interface SmokeReport {
  readonly sent: number;
  readonly stored: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly failedRequests: number;
  /** Milliseconds from the answer to the row being found, at the poll interval's resolution. */
  readonly latencyMs: { readonly p50: number; readonly p99: number } | undefined;
}

/** The test pixels' tenant: one the stack accepts. */
export function smokeTenant(settings: CoreSettings): string {
  return settings.tenantAllowlist?.[0] ?? SMOKE_TENANT;
}

/** The URL of one test pixel: the tenant and a parameter that makes each URL new (a 200 from the CDN, not a 304), signed when the stack signs. */
export function smokePixelUrl(base: string, settings: CoreSettings, runId: string, sequence: number): string {
  const parameters = { [settings.tenantAttribute]: smokeTenant(settings), smoke: `${runId}-${sequence}` };
  const [key] = settings.signingKeys ?? [];
  if (settings.signedUrls && key) return pixelUrl(base, parameters, key);
  return `${base}?${new URLSearchParams(parameters).toString()}`;
}

/** One row per test pixel that arrived, with how many copies of it are stored. */
export function smokeRowsQuery(dialect: SqlDialect, tenant: string, runId: string, since: Date): string {
  const column = (name: string) => dialect.identifier(name);
  return [
    `SELECT ${column("user_agent")}, COUNT(*) AS ${column("copies")}`,
    `FROM ${dialect.table(VIEWS.events)}`,
    `WHERE ${column("tenant")} = ${dialect.string(tenant)}`,
    `  AND ${column("event_date")} >= DATE '${since.toISOString().slice(0, 10)}'`,
    `  AND ${column("user_agent")} LIKE ${dialect.string(`${SMOKE_USER_AGENT}/${runId}/%`)}`,
    `GROUP BY ${column("user_agent")}`,
  ].join("\n");
}

/** The user agent of one test request: the run and the request's sequence number, as a bot. */
export function smokeUserAgent(runId: string, sequence: number): string {
  return `${SMOKE_USER_AGENT}/${runId}/${sequence}`;
}

/**
 * Fires the pixels one after another, each with the run id and its sequence number in its user
 * agent, then repeats the first as a browser revalidates its copy: with the first answer's ETag in
 * If-None-Match. Every counted view after a page's first is such a revalidation, so the pixel must
 * say max-age=0 and the repeat must be a 304. The repeat is one more logged view, with the next
 * sequence number.
 */
export async function firePixels(target: SmokeTarget, settings: CoreSettings, count: number): Promise<SmokeRun> {
  const runId = randomBytes(6).toString("hex");
  const sentAt: number[] = [];
  let failedRequests = 0;
  const send = async (url: string, headers: Record<string, string> = {}): Promise<Response | undefined> => {
    const response = await fetch(url, { headers: { "user-agent": smokeUserAgent(runId, sentAt.length), ...headers } }).catch(() => undefined);
    await response?.arrayBuffer();
    if (response?.status !== 200 && response?.status !== 304) failedRequests++;
    sentAt.push(Date.now());
    return response;
  };
  const firstUrl = smokePixelUrl(target.pixelUrl, settings, runId, 0);
  const first = await send(firstUrl);
  for (let sequence = 1; sequence < count; sequence++) await send(smokePixelUrl(target.pixelUrl, settings, runId, sequence));
  const etag = first?.headers.get("etag") ?? undefined;
  const repeat = await send(firstUrl, etag ? { "if-none-match": etag } : {});
  const edgeProblems = first?.ok && repeat ? edgeProblemsOf(first, etag, repeat.status) : [];
  return { runId, tenant: smokeTenant(settings), sentAt, failedRequests, edgeProblems };
}

/** What keeps a browser from revalidating the pixel on every view, named with what the edge answered. */
function edgeProblemsOf(first: Response, etag: string | undefined, repeatStatus: number): string[] {
  const problems: string[] = [];
  const cacheControl = first.headers.get("cache-control");
  const directives = (cacheControl ?? "").split(",").map((directive) => directive.trim().toLowerCase());
  if (!directives.includes("max-age=0")) {
    problems.push(
      `edge check failed: the pixel's Cache-Control is ${cacheControl === null ? "missing" : JSON.stringify(cacheControl)}, not max-age=0: ` +
        "browsers would show their cached copy without asking, and those views would never be logged. The backend bucket's CDN policy must set clientTtl 0 (infra/edge/loadBalancer.ts).",
    );
  }
  if (!etag) {
    problems.push("edge check failed: the pixel's answer has no ETag, so a browser cannot revalidate it with If-None-Match.");
  } else if (repeatStatus !== 304) {
    problems.push(
      `edge check failed: a repeat request with If-None-Match: ${etag} was answered ${repeatStatus}, not 304 Not Modified: ` +
        "browsers revalidating their copy would not get the answer a counted view expects.",
    );
  }
  return problems;
}

/** Polls the events view until every pixel is a row or the time is up, and counts what arrived. */
export async function awaitRows(target: SmokeTarget, run: SmokeRun, timeoutMs: number): Promise<SmokeReport> {
  // The day before the first pixel, so a run across UTC midnight finds all its rows.
  const since = new Date(run.sentAt[0] - 86_400_000);
  const sql = smokeRowsQuery(target.dialect, run.tenant, run.runId, since);
  const foundAt = new Map<number, number>();
  const copies = new Map<number, number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const row of await target.query(sql)) {
      const sequence = Number(String(row.user_agent).split("/")[2]);
      if (!Number.isInteger(sequence) || sequence < 0 || sequence >= run.sentAt.length) continue;
      if (!foundAt.has(sequence)) foundAt.set(sequence, Date.now());
      copies.set(sequence, Number(row.copies));
    }
    if (foundAt.size === run.sentAt.length || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, target.pollMs));
  }
  const latencies = [...foundAt].map(([sequence, found]) => found - run.sentAt[sequence]).sort((a, b) => a - b);
  const percentile = (share: number) => latencies[Math.min(latencies.length - 1, Math.ceil(share * latencies.length) - 1)];
  return {
    sent: run.sentAt.length,
    stored: foundAt.size,
    lost: run.sentAt.length - foundAt.size,
    duplicated: [...copies.values()].reduce((sum, n) => sum + n - 1, 0),
    failedRequests: run.failedRequests,
    latencyMs: latencies.length > 0 ? { p50: percentile(0.5), p99: percentile(0.99) } : undefined,
  };
}

export function formatSmokeReport(report: SmokeReport, run: SmokeRun, destination: string): string {
  const latency = report.latencyMs ? `; pixel to row p50 ${(report.latencyMs.p50 / 1000).toFixed(1)} s, p99 ${(report.latencyMs.p99 / 1000).toFixed(1)} s` : "";
  const lines = [
    `smoke run ${run.runId}, tenant ${run.tenant}, ${destination}`,
    `sent ${report.sent}, stored ${report.stored}, lost ${report.lost}, duplicated ${report.duplicated}${latency}`,
  ];
  lines.push(...(run.edgeProblems.length > 0 ? run.edgeProblems : ["edge: the pixel says max-age=0, and a repeat with its ETag is answered 304"]));
  if (report.failedRequests > 0) lines.push(`${report.failedRequests} pixel requests were not answered 200 or 304`);
  if (report.lost > 0) lines.push("some pixels did not become rows: check the refusals (a tenant or signature the stack refuses?) and the function's write_failed lines");
  return lines.join("\n");
}

/** The stack's outputs that smoke needs, from `pulumi stack output --json`. */
export function smokeOutputs(json: string): { pixelUrl: string; project: string; dataset: string } {
  let outputs: Record<string, unknown>;
  try {
    outputs = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new UsageError("--outputs is not JSON: pass the file `pulumi stack output --json` writes, or - to read it from stdin");
  }
  const [project, dataset] = typeof outputs.eventsViewId === "string" ? outputs.eventsViewId.split(".") : [];
  if (typeof outputs.pixelUrl !== "string" || !project || !dataset) {
    throw new UsageError("--outputs has no pixelUrl or eventsViewId: pass the outputs of a deployed stack");
  }
  return { pixelUrl: outputs.pixelUrl, project, dataset };
}

export const smokeCommand = defineCommand({
  usage: USAGE,
  args: {
    options: {
      ...DATA_OPTIONS,
      stack: { type: "string" },
      outputs: { type: "string" },
      local: { type: "boolean", default: false },
      count: { type: "string" },
      timeout: { type: "string" },
    },
  },
  async run({ values }) {
    if (!values.stack) throw new UsageError("pass --stack with the stack to test");
    if (values.local === (values.outputs !== undefined)) throw new UsageError("pass --outputs for a deployed stack, or --local for npm start");
    if (!values.local && (values["data-dir"] !== undefined || values.db !== undefined)) throw new UsageError("--data-dir and --db are for --local");
    const count = wholeNumber(values.count, DEFAULT_COUNT, 1, 1000, "--count");
    const timeoutSeconds = wholeNumber(values.timeout, values.local ? 30 : 300, 1, 3600, "--timeout");
    const { settings } = readStack(values.stack);
    const { target, destination } = values.local ? await localTarget(values, settings) : cloudTarget(values.outputs ?? "-");
    return runSmoke(target, settings, count, timeoutSeconds * 1000, destination);
  },
});

/** Fires, waits and prints the report; exits 1 on a loss or an edge that keeps browsers from revalidating. */
export async function runSmoke(target: SmokeTarget, settings: CoreSettings, count: number, timeoutMs: number, destination: string): Promise<number> {
  const run = await firePixels(target, settings, count);
  const report = await awaitRows(target, run, timeoutMs);
  console.log(formatSmokeReport(report, run, destination));
  return report.lost > 0 || run.edgeProblems.length > 0 ? EXIT.failure : EXIT.ok;
}

function wholeNumber(text: string | undefined, fallback: number, min: number, max: number, flag: string): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}

function cloudTarget(outputsFile: string): { target: SmokeTarget; destination: string } {
  const { pixelUrl: url, project, dataset } = smokeOutputs(readFileSync(outputsFile === "-" ? 0 : userPath(outputsFile), "utf8"));
  const bigQuery = new BigQuery({ projectId: project });
  return {
    target: {
      pixelUrl: url,
      dialect: bigQueryDialect(project, dataset),
      query: async (sql) => (await bigQuery.query({ query: sql }))[0] as Record<string, unknown>[],
      pollMs: 5000,
    },
    destination: `${url} → BigQuery ${project}.${dataset}.${VIEWS.events}`,
  };
}

async function localTarget(values: { "data-dir"?: string; db?: string }, settings: CoreSettings): Promise<{ target: SmokeTarget; destination: string }> {
  const paths = pathsFrom(values);
  const server = await readServerFile(paths.serverFile);
  if (!server) throw new Error(`no local pipeline is running with its data in ${paths.dataDir}: start it with npm start`);
  const url = new URL(settings.pixelPath, server.url).href;
  return {
    target: { pixelUrl: url, dialect: duckDbDialect, query: (sql) => runQuery(sql, paths), pollMs: 200 },
    destination: `${url} → ${paths.database}`,
  };
}

if (require.main === module) void runCommand(smokeCommand);

import { timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as path from "node:path";
import { REFUSAL_REASONS } from "../core/refusals";
import type { RefusalReason } from "../core/refusals";
import type { CoreSettings } from "../core/config/coreSettings";
import { ROLLUPS } from "../core/layout";
import { MAX_TENANT_BYTES } from "../core/tenant";
import { BREAKDOWNS, isUtcDay, rangeBreakdownQuery, rangeDaysQuery, rangeTotalsQuery } from "../core/views";
import { duckDbDialect } from "./duckdbSchema";
import { QueryError } from "./queryResult";
import type { InternalRead } from "./loaderProcess";
import type { JsonRow } from "./queryResult";
import type { SpoolWriter } from "./spool";

export const QUERY_PATH = "/api/query";
const STATS_PATH = "/api/stats";
const ANALYTICS_PATH = "/api/analytics";

/** The dashboard is the local console, not part of the simulated load balancer: its requests are not logged. */
export const DASHBOARD_PATHS: ReadonlySet<string> = new Set(["/", "/app.js", STATS_PATH, ANALYTICS_PATH, QUERY_PATH]);

const CHART_MINUTES = 30;
const LATEST_ROWS = 20;
const MAX_QUERY_BYTES = 1 << 20;
/** Rows of each breakdown, and tenants offered in the picker. */
const TOP = 10;
const TENANT_CHOICES = 100;
const MAX_RANGE_DAYS = 366;

/** The database, as the process that holds it answers (loaderProcess.ts). */
export interface DatabaseReads {
  /** Statements read at one moment of the database, so what one answer shows adds up. */
  read(reads: readonly InternalRead[]): Promise<JsonRow[][]>;
  query(sql: string): Promise<JsonRow[]>;
}

export interface DashboardOptions {
  readonly settings: CoreSettings;
  readonly database: DatabaseReads;
  readonly spool: SpoolWriter;
  readonly token: string;
  /** The server is reachable from other machines, so the stats, with their rows, need the token too. */
  readonly statsNeedToken: boolean;
  /** Host names the server is reached by; any other Host header is refused (DNS rebinding). */
  readonly hostNames: ReadonlySet<string>;
}

interface PageFile {
  readonly type: string;
  readonly body: Buffer;
}

// Self-contained: the page works offline and runs no script but its own.
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

export async function createDashboard(options: DashboardOptions) {
  const pageDir = path.join(__dirname, "page");
  const files = new Map<string, PageFile>([
    ["/", { type: "text/html; charset=utf-8", body: await readFile(path.join(pageDir, "index.html")) }],
    ["/app.js", { type: "text/javascript; charset=utf-8", body: await readFile(path.join(pageDir, "app.js")) }],
  ]);

  return async (request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> => {
    if (!options.hostNames.has(hostName(request.headers.host))) {
      return sendJson(response, 403, { error: "the dashboard answers only on the address the server listens on" });
    }
    const file = files.get(pathname);
    if (file) {
      if (request.method !== "GET" && request.method !== "HEAD") return sendJson(response, 405, { error: "use GET" });
      response.writeHead(200, { ...PAGE_HEADERS, "content-type": file.type }).end(file.body);
      return;
    }
    if (pathname === STATS_PATH || pathname === ANALYTICS_PATH) {
      if (request.method !== "GET") return sendJson(response, 405, { error: "use GET" });
      if (options.statsNeedToken && !hasToken(request, options.token)) {
        return sendJson(response, 401, { error: "this server can be reached from other machines, so its stats need the token: open the dashboard address it printed at start-up" });
      }
      if (pathname === STATS_PATH) return sendJson(response, 200, await stats(options));
      const range = analyticsRange(new URL(request.url ?? "/", "http://dashboard").searchParams);
      if ("error" in range) return sendJson(response, 400, range);
      return sendJson(response, 200, await analytics(options, range));
    }
    // The only path left is QUERY_PATH.
    if (request.method !== "POST") return sendJson(response, 405, { error: "use POST" });
    if (!hasToken(request, options.token)) {
      return sendJson(response, 401, { error: "a valid bearer token is required: the query command reads it from the server file" });
    }
    let sql: unknown;
    try {
      ({ sql } = JSON.parse(await readBody(request)) as { sql?: unknown });
    } catch (error) {
      return sendJson(response, 400, { error: `bad request: ${String(error)}` });
    }
    if (typeof sql !== "string") return sendJson(response, 400, { error: 'the body must be {"sql": "..."}' });
    try {
      return sendJson(response, 200, { rows: await options.database.query(sql) });
    } catch (error) {
      // Short of a statement that cannot run, the database's process is being replaced (loaderProcess.ts).
      if (error instanceof QueryError) return sendJson(response, 400, { error: error.message });
      return sendJson(response, 503, { error: `the database cannot answer right now, try again: ${String(error)}` });
    }
  };
}

/** Everything the page shows, in one poll. */
async function stats({ settings, database, spool }: DashboardOptions) {
  const since = new Date(Date.now() - CHART_MINUTES * 60_000).toISOString();
  const [totals, perMinute, latest, refusals] = await database.read([
    { sql: `SELECT count(*) AS events, count(DISTINCT tenant) AS tenants FROM events` },
    {
      sql: `SELECT date_trunc('minute', event_timestamp) AS minute, count(*) AS events FROM events WHERE event_timestamp >= CAST($1 AS TIMESTAMP) GROUP BY ALL ORDER BY minute`,
      values: [since],
    },
    { sql: `SELECT * FROM events ORDER BY event_timestamp DESC, insert_id LIMIT ${LATEST_ROWS}` },
    { sql: `SELECT reason, count(*) AS count FROM refusals GROUP BY ALL ORDER BY count DESC, reason` },
  ]);
  return {
    pixelPath: settings.pixelPath,
    tenantAttribute: settings.tenantAttribute,
    attributes: settings.attributes,
    chartMinutes: CHART_MINUTES,
    totals: totals[0],
    perMinute,
    latest,
    refusals: refusals.map((row) => ({ ...row, description: REFUSAL_REASONS[row.reason as RefusalReason] ?? "" })),
    spool: spool.stats,
  };
}

/** The dashboard's analytics request: `from` and `to` (UTC days) and, to see its answers, `tenant`. */
export function analyticsRange(query: URLSearchParams): { from: string; to: string; tenant?: string } | { error: string } {
  const from = query.get("from") ?? "";
  const to = query.get("to") ?? "";
  for (const [name, value] of [["from", from], ["to", to]]) {
    if (!isUtcDay(value)) {
      return { error: `${name} must be a UTC day as YYYY-MM-DD, got ${JSON.stringify(value)}` };
    }
  }
  const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
  if (days < 1 || days > MAX_RANGE_DAYS) return { error: `the range from ${from} to ${to} must run forwards and hold at most ${MAX_RANGE_DAYS} days` };
  const tenant = query.get("tenant") ?? "";
  if (Buffer.byteLength(tenant, "utf8") > MAX_TENANT_BYTES) return { error: `tenant is longer than any tenant can be (${MAX_TENANT_BYTES} bytes)` };
  return { from, to, ...(tenant ? { tenant } : {}) };
}

/**
 * The tenants of a range to choose from, with their events of people and of bots, those with the most
 * events of people first: the page shows the first until one is chosen, and the answers are about
 * people, so a tenant that only curl or scripts reached must not be it while another has people.
 * Read from the rollups, as the answers are.
 */
export function tenantChoicesQuery(range: { from: string; to: string }): string {
  const dialect = duckDbDialect;
  return [
    `SELECT tenant, sum(human_events) AS human_events, sum(bot_events) AS bot_events FROM ${dialect.table(ROLLUPS.totals)}`,
    `WHERE event_date BETWEEN DATE ${dialect.string(range.from)} AND DATE ${dialect.string(range.to)}`,
    `GROUP BY ALL ORDER BY human_events DESC, bot_events DESC, tenant LIMIT ${TENANT_CHOICES}`,
  ].join("\n");
}

/**
 * A range's answers for one tenant, from the rollups the loader keeps (core/rollups.ts), as the
 * cloud's reports read them, and the tenants of the range to choose from. Countries are IP
 * Geolocation by DB-IP.
 */
async function analytics({ database }: DashboardOptions, range: { from: string; to: string; tenant?: string }) {
  const dialect = duckDbDialect;
  const tenantsQuery = tenantChoicesQuery(range);
  if (range.tenant === undefined) {
    const [tenants] = await database.read([{ sql: tenantsQuery }]);
    return { ...range, tenants };
  }
  const tenantRange = { ...range, tenant: range.tenant };
  const [tenants, [totals], days, ...breakdowns] = await database.read(
    [
      tenantsQuery,
      rangeTotalsQuery(tenantRange, dialect),
      rangeDaysQuery(tenantRange, dialect),
      ...BREAKDOWNS.map((breakdown) => rangeBreakdownQuery(breakdown, tenantRange, dialect, TOP)),
    ].map((sql) => ({ sql })),
  );
  return {
    ...tenantRange,
    tenants,
    totals,
    days,
    breakdowns: BREAKDOWNS.map((breakdown, index) => ({ view: breakdown.name, dimensions: breakdown.dimensions, rows: breakdowns[index] })),
  };
}

/** The Host header without its port; IPv6 literals keep their brackets. */
export function hostName(host: string | undefined): string {
  return (host ?? "").replace(/:\d+$/, "").toLowerCase();
}

function hasToken(request: IncomingMessage, token: string): boolean {
  const given = Buffer.from(request.headers.authorization ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_QUERY_BYTES) throw new Error(`the body is over ${MAX_QUERY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }).end(JSON.stringify(body));
}

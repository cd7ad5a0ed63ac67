import { BigQuery } from "@google-cloud/bigquery";
import { OAuth2Client } from "google-auth-library";
import type { IncomingMessage, ServerResponse } from "node:http";
import { LoopbackStandIn } from "./loopbackStandIn";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

/** What the stand-in answers to the next insertAll: a status code and a JSON body. */
export interface ScriptedAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Faults beyond a scripted answer: no answer until the client gives up, a connection dropped before
 * the insert, or one dropped after the rows were stored (the client cannot know they were).
 */
export type ConnectionFault = "hang" | "drop" | "store_then_drop";

/** Chooses what happens to one insertAll, from the insertIds it carries. */
export type FaultPlan = (insertIds: readonly string[]) => ScriptedAnswer | ConnectionFault;

export const INSERT_OK: ScriptedAnswer = { status: 200, body: { kind: "bigquery#tableDataInsertAllResponse" } };

/** insertAll's answer when it stored nothing of the first row, for the reason given and any others. */
export function insertErrors(reason: string, message: string, ...others: readonly { reason: string; message: string }[]): ScriptedAnswer {
  return { status: 200, body: { kind: "bigquery#tableDataInsertAllResponse", insertErrors: [{ index: 0, errors: [{ reason, message }, ...others] }] } };
}

export function serverError(status = 500): ScriptedAnswer {
  return { status, body: { error: { code: status, message: "backend error", errors: [{ reason: "backendError", message: "backend error" }] } } };
}

interface StandInRow {
  readonly insertId: string;
  readonly json: unknown;
}

const INSERT_ALL = /^\/bigquery\/v2\/projects\/[^/]+\/datasets\/[^/]+\/tables\/[^/]+\/insertAll$/;
const JOBS = /^\/bigquery\/v2\/projects\/[^/]+\/jobs$/;
const QUERY_RESULTS = /^\/bigquery\/v2\/projects\/[^/]+\/queries\/([^/]+)$/;

/** A getQueryResults answer holding these rows, every column a STRING. */
function rowsResult(rows: readonly Record<string, string | null>[]): unknown {
  const names = Object.keys(rows[0] ?? {});
  return {
    kind: "bigquery#getQueryResultsResponse",
    jobComplete: true,
    schema: { fields: names.map((name) => ({ name, type: "STRING", mode: "NULLABLE" })) },
    rows: rows.map((row) => ({ f: names.map((name) => ({ v: row[name] })) })),
    totalRows: String(rows.length),
  };
}

const TABLES = /^\/bigquery\/v2\/projects\/[^/]+\/datasets\/[^/]+\/tables$/;
const TABLE = /^\/bigquery\/v2\/projects\/[^/]+\/datasets\/[^/]+\/tables\/([^/]+)$/;

/** A table as tables.get answers for it: the fields the retention command reads and sets. */
export interface StandInTable {
  readonly tableId: string;
  readonly type?: "TABLE" | "VIEW";
  /** Milliseconds since the epoch, as a decimal string, as BigQuery gives it; absent: never expires. */
  expirationTime?: string;
  readonly numRows?: string;
  readonly numBytes?: string;
}

/** How a query job ends: its one result row (`rows_written`), or BigQuery's error message. */
export type QueryOutcome = { readonly rowsWritten: number } | { readonly error: string };

/**
 * A loopback HTTP server that answers like BigQuery's tabledata.insertAll and, for query jobs,
 * jobs.insert and jobs.getQueryResults (scripted outcomes: it runs no SQL); it records every
 * request and answers 404 to anything else, so a test sees any other call.
 */
export class BigQueryStandIn extends LoopbackStandIn {
  readonly requests: RecordedRequest[] = [];
  /** Rows stored by successful inserts, by insertId: BigQuery's dedup, made exact. */
  readonly stored = new Map<string, unknown>();
  private answers: ScriptedAnswer[] = [];
  /** The SQL of every query job, in order. */
  readonly queries: string[] = [];
  private queryOutcomes: QueryOutcome[] = [];
  /** The result rows of the next query jobs that read rows (scriptQueryRows), before any scripted outcome. */
  private queryRows: Record<string, string | null>[][] = [];
  private queryAnswerer?: (sql: string) => QueryOutcome;
  private readonly jobQueries = new Map<string, string>();
  private faultPlan?: FaultPlan;
  /** The dataset's tables, by id, for tables.list, tables.get and tables.patch (expirationTime only). */
  readonly tables = new Map<string, StandInTable>();
  /** How many tables one tables.list page holds at most, whatever maxResults asks: small, to test paging. */
  tablesPageSize = 50;
  /** The insertAll calls a "hang" left without an answer, until answerHung or reset ends them. */
  private hung: { rows: StandInRow[]; request: IncomingMessage; response: ServerResponse }[] = [];

  /** The answers to the next insertAll calls, in order; afterwards every call succeeds. */
  script(...answers: ScriptedAnswer[]): void {
    this.answers = answers;
  }

  /** How the next query jobs end, in order; afterwards each writes no rows. The stand-in runs no SQL. */
  scriptQueries(...outcomes: QueryOutcome[]): void {
    this.queryOutcomes = outcomes;
  }

  /** Answers every later query job from its SQL (a test's model of the tables) instead of scriptQueries' outcomes. */
  answerQueriesWith(answer: (sql: string) => QueryOutcome): void {
    this.queryAnswerer = answer;
  }

  /**
   * The rows the next query jobs return, one list per job, as text (BigQuery's JSON gives every
   * value as a string): for reads such as INFORMATION_SCHEMA. Taken before scriptQueries' outcomes.
   */
  scriptQueryRows(...results: Record<string, string | null>[][]): void {
    this.queryRows = results;
  }

  /** Decides every later insertAll with `plan` instead of the script. */
  injectFaults(plan: FaultPlan): void {
    this.faultPlan = plan;
  }

  /**
   * Ends every hung insertAll, long after its client gave up: with a late answer (stored if it says
   * so), or with its connection dropped, a late error.
   */
  answerHung(answer: ScriptedAnswer | "drop"): void {
    const hung = this.hung;
    this.hung = [];
    for (const { rows, request, response } of hung) this.settle(rows, request, response, answer);
  }

  reset(): void {
    this.answerHung("drop");
    this.requests.length = 0;
    this.answers = [];
    this.stored.clear();
    this.faultPlan = undefined;
    this.queries.length = 0;
    this.queryOutcomes = [];
    this.queryRows = [];
    this.tables.clear();
    this.queryAnswerer = undefined;
    this.jobQueries.clear();
  }

  /**
   * A real client pointed at the stand-in. A static token keeps google-auth-library from looking
   * for credentials on the network; automatic retries are off so each test sees one call per try.
   */
  client(): BigQuery {
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: "stand-in-token", expiry_date: Date.now() + 3_600_000 });
    return new BigQuery({ projectId: "test-project", apiEndpoint: this.endpoint, authClient: auth, autoRetry: false });
  }

  protected async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const path = (request.url ?? "").split("?")[0];
    const body = text ? (JSON.parse(text) as { rows?: StandInRow[] }) : undefined;
    this.requests.push({ method: request.method ?? "", path, body });
    if (request.method === "POST" && JOBS.test(path)) return this.startJob(response, body as { jobReference: unknown; configuration: { query: { query: string } } });
    if (request.method === "GET" && QUERY_RESULTS.test(path)) return this.queryResults(response, QUERY_RESULTS.exec(path)![1]);
    if (TABLES.test(path) || TABLE.test(path)) return this.answerTables(request, path, body, response);
    if (request.method !== "POST" || !INSERT_ALL.test(path)) {
      this.send(response, { status: 404, body: { error: { code: 404, message: `stand-in has no ${path}` } } });
      return;
    }
    const rows = body?.rows ?? [];
    const answer = this.faultPlan?.(rows.map((row) => row.insertId)) ?? this.answers.shift() ?? INSERT_OK;
    // The writer's deadline ends it for the client; answerHung, reset or stop ends the request.
    if (answer === "hang") this.hung.push({ rows, request, response });
    else this.settle(rows, request, response, answer);
  }

  /** jobs.insert of a query: recorded, and done at once. */
  private startJob(response: ServerResponse, job: { jobReference: unknown; configuration: { query: { query: string } } }): void {
    this.queries.push(job.configuration.query.query);
    const jobId = (job.jobReference as { jobId?: string } | undefined)?.jobId;
    if (jobId) this.jobQueries.set(jobId, job.configuration.query.query);
    this.send(response, { status: 200, body: { kind: "bigquery#job", jobReference: job.jobReference, configuration: job.configuration, status: { state: "DONE" } } });
  }

  /** jobs.getQueryResults: the next scripted outcome, as BigQuery answers a finished script or a failed one. */
  private queryResults(response: ServerResponse, jobId: string): void {
    const rows = this.queryRows.shift();
    if (rows) return this.send(response, { status: 200, body: rowsResult(rows) });
    const sql = this.jobQueries.get(jobId);
    const outcome = (this.queryAnswerer && sql !== undefined ? this.queryAnswerer(sql) : this.queryOutcomes.shift()) ?? { rowsWritten: 0 };
    if ("error" in outcome) {
      this.send(response, { status: 400, body: { error: { code: 400, message: outcome.error, errors: [{ reason: "invalidQuery", message: outcome.error }] } } });
      return;
    }
    this.send(response, {
      status: 200,
      body: {
        kind: "bigquery#getQueryResultsResponse",
        jobComplete: true,
        schema: { fields: [{ name: "rows_written", type: "INTEGER", mode: "NULLABLE" }] },
        rows: [{ f: [{ v: String(outcome.rowsWritten) }] }],
        totalRows: "1",
      },
    });
  }

  /**
   * tables.list, paged by a token that is the index of the page's first table (BigQuery lists in
   * table id order); tables.get; tables.delete; tables.patch of expirationTime, which BigQuery refuses in the past.
   */
  private answerTables(request: IncomingMessage, path: string, body: unknown, response: ServerResponse): void {
    const tableId = TABLE.exec(path)?.[1];
    const resource = (table: StandInTable) => ({ kind: "bigquery#table", id: table.tableId, tableReference: { tableId: table.tableId }, type: table.type ?? "TABLE", ...table });
    if (tableId === undefined && request.method === "GET") {
      const query = new URL(request.url ?? "", "http://stand-in").searchParams;
      const sorted = [...this.tables.values()].sort((a, b) => (a.tableId < b.tableId ? -1 : 1));
      const start = Number(query.get("pageToken") ?? 0);
      const end = start + Math.min(Number(query.get("maxResults") ?? this.tablesPageSize), this.tablesPageSize);
      // tables.list gives no sizes: those take a tables.get.
      const page = sorted.slice(start, end).map((table) => resource({ tableId: table.tableId, type: table.type, expirationTime: table.expirationTime }));
      this.send(response, { status: 200, body: { kind: "bigquery#tableList", tables: page, totalItems: sorted.length, ...(end < sorted.length ? { nextPageToken: String(end) } : {}) } });
      return;
    }
    const table = tableId === undefined ? undefined : this.tables.get(tableId);
    if (!table) return this.send(response, { status: 404, body: { error: { code: 404, message: `Not found: Table ${tableId}` } } });
    if (request.method === "GET") return this.send(response, { status: 200, body: resource(table) });
    if (request.method === "DELETE") {
      this.tables.delete(table.tableId);
      response.writeHead(204).end();
      return;
    }
    const expirationTime = (body as { expirationTime?: string | null } | undefined)?.expirationTime;
    if (request.method === "PATCH" && expirationTime !== undefined) {
      if (expirationTime !== null && Number(expirationTime) <= Date.now()) {
        return this.send(response, { status: 400, body: { error: { code: 400, message: "Expiration time must be at least 1 seconds in the future" } } });
      }
      if (expirationTime === null) delete table.expirationTime;
      else table.expirationTime = String(expirationTime);
      return this.send(response, { status: 200, body: resource(table) });
    }
    this.send(response, { status: 404, body: { error: { code: 404, message: `stand-in has no ${request.method} ${path}` } } });
  }

  private settle(rows: StandInRow[], request: IncomingMessage, response: ServerResponse, answer: ScriptedAnswer | "drop" | "store_then_drop"): void {
    if (answer === "drop") {
      request.socket.destroy();
      return;
    }
    const insertErrors = answer === "store_then_drop" ? undefined : (answer.body as { insertErrors?: unknown[] }).insertErrors;
    if (answer === "store_then_drop" || (answer.status === 200 && !insertErrors)) {
      for (const row of rows) if (!this.stored.has(row.insertId)) this.stored.set(row.insertId, row.json);
    }
    if (answer === "store_then_drop") request.socket.destroy();
    else this.send(response, answer);
  }

  private send(response: ServerResponse, answer: ScriptedAnswer): void {
    response.writeHead(answer.status, { "content-type": "application/json" });
    response.end(JSON.stringify(answer.body));
  }
}

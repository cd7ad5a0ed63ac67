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
const QUERY_RESULTS = /^\/bigquery\/v2\/projects\/[^/]+\/queries\/[^/]+$/;

/** How a query job ends: its one result row (`rows_written`), or BigQuery's error message. */
export type QueryOutcome = { readonly rowsWritten: number } | { readonly error: string };

/** A query's result as getQueryResults sends it: the columns, then each row's values as text (TIMESTAMP: microseconds). */
export interface QueryAnswer {
  readonly fields: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** Answers a query job from its SQL (an emulation the test chooses), or undefined for "no such query". */
export type QueryResponder = (sql: string) => QueryAnswer | undefined;

/**
 * A loopback HTTP server that answers like BigQuery's tabledata.insertAll and, for query jobs,
 * jobs.insert and jobs.getQueryResults (scripted outcomes, or a test's responder: it runs no SQL); it records every
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
  private faultPlan?: FaultPlan;
  private queryResponder?: QueryResponder;
  /** Each query job's SQL, by job id, for its getQueryResults. */
  private readonly jobQueries = new Map<string, string>();
  /** The table each stored row went to, by insertId. */
  private readonly storedTables = new Map<string, string>();
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

  /** Answers every later query job with `responder` instead of the scripted outcomes. */
  answerQueries(responder: QueryResponder): void {
    this.queryResponder = responder;
  }

  /** The rows insertAll stored into the table (any templateSuffix aside), in the order stored. */
  rowsIn(table: string): unknown[] {
    return [...this.stored].filter(([insertId]) => this.storedTables.get(insertId) === table).map(([, json]) => json);
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
    this.queryResponder = undefined;
    this.jobQueries.clear();
    this.storedTables.clear();
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
    if (request.method === "POST" && JOBS.test(path)) return this.startJob(response, body as { jobReference: { jobId?: string }; configuration: { query: { query: string } } });
    if (request.method === "GET" && QUERY_RESULTS.test(path)) return this.queryResults(response, decodeURIComponent(path.split("/").pop() ?? ""));
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
  private startJob(response: ServerResponse, job: { jobReference: { jobId?: string }; configuration: { query: { query: string } } }): void {
    this.queries.push(job.configuration.query.query);
    if (job.jobReference.jobId !== undefined) this.jobQueries.set(job.jobReference.jobId, job.configuration.query.query);
    this.send(response, { status: 200, body: { kind: "bigquery#job", jobReference: job.jobReference, configuration: job.configuration, status: { state: "DONE" } } });
  }

  /** jobs.getQueryResults: the responder's answer, or the next scripted outcome, as BigQuery answers a finished script or a failed one. */
  private queryResults(response: ServerResponse, jobId: string): void {
    if (this.queryResponder) return this.respondToQuery(response, this.queryResponder, this.jobQueries.get(jobId) ?? "");
    const outcome = this.queryOutcomes.shift() ?? { rowsWritten: 0 };
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

  private respondToQuery(response: ServerResponse, responder: QueryResponder, sql: string): void {
    const answer = responder(sql);
    if (answer === undefined) {
      this.send(response, { status: 400, body: { error: { code: 400, message: `stand-in cannot answer: ${sql}`, errors: [{ reason: "invalidQuery", message: "unknown query" }] } } });
      return;
    }
    this.send(response, {
      status: 200,
      body: {
        kind: "bigquery#getQueryResultsResponse",
        jobComplete: true,
        schema: { fields: answer.fields.map((field) => ({ ...field, mode: "NULLABLE" })) },
        rows: answer.rows.map((values) => ({ f: values.map((v) => ({ v })) })),
        totalRows: String(answer.rows.length),
      },
    });
  }

  private settle(rows: StandInRow[], request: IncomingMessage, response: ServerResponse, answer: ScriptedAnswer | "drop" | "store_then_drop"): void {
    if (answer === "drop") {
      request.socket.destroy();
      return;
    }
    const insertErrors = answer === "store_then_drop" ? undefined : (answer.body as { insertErrors?: unknown[] }).insertErrors;
    if (answer === "store_then_drop" || (answer.status === 200 && !insertErrors)) {
      const table = /\/tables\/([^/]+)\/insertAll/.exec(request.url ?? "")?.[1] ?? "";
      for (const row of rows) {
        if (this.stored.has(row.insertId)) continue;
        this.stored.set(row.insertId, row.json);
        this.storedTables.set(row.insertId, decodeURIComponent(table));
      }
    }
    if (answer === "store_then_drop") request.socket.destroy();
    else this.send(response, answer);
  }

  private send(response: ServerResponse, answer: ScriptedAnswer): void {
    response.writeHead(answer.status, { "content-type": "application/json" });
    response.end(JSON.stringify(answer.body));
  }
}

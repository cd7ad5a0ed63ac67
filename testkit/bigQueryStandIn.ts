import { BigQuery } from "@google-cloud/bigquery";
import { OAuth2Client } from "google-auth-library";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createInterface } from "node:readline";
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
const UPLOAD_JOBS = /^\/upload\/bigquery\/v2\/projects\/[^/]+\/jobs$/;
const JOB = /^\/bigquery\/v2\/projects\/[^/]+\/jobs\/([^/]+)$/;

/** An error as BigQuery gives it in a job's status. */
export interface JobError {
  readonly reason: string;
  readonly message: string;
  readonly location?: string;
}

/** How a load job goes: `runningLooks` jobs.get answers RUNNING before it is DONE, then with `errors` (it failed, loading nothing) or without. */
export interface LoadJobScript {
  readonly runningLooks?: number;
  readonly errors?: readonly JobError[];
}

/** A load job the stand-in holds: its upload's configuration and rows, and where it stands. */
export interface StandInLoadJob {
  readonly jobId: string;
  readonly configuration: { readonly load: LoadConfiguration };
  readonly table: string;
  /** Empty unless the stand-in keeps loaded rows (keepLoadedRows). */
  readonly rows: readonly Record<string, unknown>[];
  readonly rowCount: number;
  runningLooks: number;
  readonly errors: readonly JobError[];
}

interface LoadConfiguration {
  readonly destinationTable: { readonly projectId: string; readonly datasetId: string; readonly tableId: string };
  readonly sourceFormat?: string;
  readonly schema?: { readonly fields: readonly { readonly name: string }[] };
  readonly writeDisposition?: string;
  readonly createDisposition?: string;
  readonly schemaUpdateOptions?: readonly string[];
}

interface JobResource {
  readonly jobReference: { readonly projectId: string; readonly jobId: string; readonly location?: string };
  readonly configuration: { readonly load: LoadConfiguration };
}

/** A query's result holding these rows, every column a STRING. */
function textRows(rows: readonly Record<string, string | null>[]): QueryAnswer {
  const names = Object.keys(rows[0] ?? {});
  return { fields: names.map((name) => ({ name, type: "STRING" })), rows: rows.map((row) => names.map((name) => row[name])) };
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

/** A query's result as getQueryResults sends it: the columns, then each row's values as text (TIMESTAMP: microseconds). */
export interface QueryAnswer {
  readonly fields: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** Answers a query job from its SQL (an emulation the test chooses): its result, BigQuery's error message, or undefined for "no such query". */
export type QueryResponder = (sql: string) => QueryAnswer | { readonly error: string } | undefined;

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
  /** The result rows of the next query jobs that read rows (scriptQueryRows), before any scripted outcome. */
  private queryRows: Record<string, string | null>[][] = [];
  private faultPlan?: FaultPlan;
  /** The dataset's tables, by id, for tables.list, tables.get and tables.patch (expirationTime only). */
  readonly tables = new Map<string, StandInTable>();
  /** How many tables one tables.list page holds at most, whatever maxResults asks: small, to test paging. */
  tablesPageSize = 50;
  private queryResponder?: QueryResponder;
  /** Each query job's SQL, by job id, for its getQueryResults. */
  private readonly jobQueries = new Map<string, string>();
  /** The table each stored row went to, by insertId. */
  private readonly storedTables = new Map<string, string>();
  /** The insertAll calls a "hang" left without an answer, until answerHung or reset ends them. */
  private hung: { rows: StandInRow[]; request: IncomingMessage; response: ServerResponse }[] = [];
  /** Load jobs by id, as their uploads created them; also the ids of query jobs, which jobs.insert checks too. */
  readonly loadJobs = new Map<string, StandInLoadJob>();
  private queryJobIds = new Set<string>();
  /** Rows of the load jobs that ended without errors, by destination table (decorator included), in order. */
  readonly loaded = new Map<string, Record<string, unknown>[]>();
  /** Load jobs answered 409 because their id was taken. */
  readonly duplicateLoads: string[] = [];
  private loadScripts: LoadJobScript[] = [];
  /** Off, uploads are read and checked but only counted: for a benchmark's millions of rows. */
  keepLoadedRows = true;
  private uploadGate?: { remaining: number; waiting: (() => void)[] };

  /** The answers to the next insertAll calls, in order; afterwards every call succeeds. */
  script(...answers: ScriptedAnswer[]): void {
    this.answers = answers;
  }

  /** How the next query jobs end, in order; afterwards each writes no rows. The stand-in runs no SQL. */
  scriptQueries(...outcomes: QueryOutcome[]): void {
    this.queryOutcomes = outcomes;
  }

  /**
   * The rows the next query jobs return, one list per job, as text (BigQuery's JSON gives every
   * value as a string): for reads such as INFORMATION_SCHEMA. Taken before scriptQueries' outcomes.
   */
  scriptQueryRows(...results: Record<string, string | null>[][]): void {
    this.queryRows = results;
  }

  /** Answers every later query job with `responder` instead of the scripted outcomes. */
  answerQueries(responder: QueryResponder): void {
    this.queryResponder = responder;
  }

  /** The rows insertAll stored into the table (any templateSuffix aside), in the order stored. */
  rowsIn(table: string): unknown[] {
    return [...this.stored].filter(([insertId]) => this.storedTables.get(insertId) === table).map(([, json]) => json);
  }

  /** How the next load jobs go, in order; afterwards each is done at once without errors. */
  scriptLoads(...scripts: LoadJobScript[]): void {
    this.loadScripts = scripts;
  }

  /**
   * Holds the answers to uploads until `count` of them have arrived whole, then answers them in
   * the order they arrived: so concurrent loads of one object all look a job up before any creates it.
   */
  holdUploads(count: number): void {
    this.uploadGate = { remaining: count, waiting: [] };
  }

  /** The rows loaded into a table, in order (an empty list when none). */
  loadedRows(table: string): Record<string, unknown>[] {
    return this.loaded.get(table) ?? [];
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
    this.queryResponder = undefined;
    this.jobQueries.clear();
    this.storedTables.clear();
    this.loadJobs.clear();
    this.queryJobIds.clear();
    this.loaded.clear();
    this.duplicateLoads.length = 0;
    this.loadScripts = [];
    this.uploadGate = undefined;
  }

  /**
   * A real client pointed at the stand-in. A static token keeps google-auth-library from looking
   * for credentials on the network; automatic retries are off so each test sees one call per try.
   */
  client(): BigQuery {
    return standInClient(this.endpoint);
  }

  protected async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? "").split("?")[0];
    // An upload the client broke off (its rows could not be read) creates no job, as in BigQuery.
    if (request.method === "POST" && UPLOAD_JOBS.test(path)) return this.upload(request, response, path).catch(() => void request.socket.destroy());
    const job = JOB.exec(path);
    if (request.method === "GET" && job) return this.getJob(response, decodeURIComponent(job[1]), path);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const body = text ? (JSON.parse(text) as { rows?: StandInRow[] }) : undefined;
    this.requests.push({ method: request.method ?? "", path, body });
    if (request.method === "POST" && JOBS.test(path)) return this.startJob(response, body as { jobReference: { jobId?: string }; configuration: { query: { query: string } } });
    if (request.method === "GET" && QUERY_RESULTS.test(path)) return this.queryResults(response, decodeURIComponent(path.split("/").pop() ?? ""));
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

  /** jobs.insert of a query: recorded, and done at once; 409 when its id is taken. */
  private startJob(response: ServerResponse, job: { jobReference: { jobId?: string }; configuration: { query: { query: string } } }): void {
    const jobId = job.jobReference.jobId;
    if (jobId !== undefined && (this.queryJobIds.has(jobId) || this.loadJobs.has(jobId))) return this.send(response, alreadyExists(jobId));
    if (jobId !== undefined) {
      this.queryJobIds.add(jobId);
      this.jobQueries.set(jobId, job.configuration.query.query);
    }
    this.queries.push(job.configuration.query.query);
    this.send(response, { status: 200, body: { kind: "bigquery#job", jobReference: job.jobReference, configuration: job.configuration, status: { state: "DONE" } } });
  }

  /** jobs.getQueryResults: the responder's answer, the next scripted rows, or the next scripted outcome, as BigQuery answers a finished script or a failed one. */
  private queryResults(response: ServerResponse, jobId: string): void {
    if (this.queryResponder) {
      const sql = this.jobQueries.get(jobId) ?? "";
      return this.sendQueryAnswer(response, this.queryResponder(sql) ?? { error: `stand-in cannot answer: ${sql}` });
    }
    const rows = this.queryRows.shift();
    if (rows) return this.sendQueryAnswer(response, textRows(rows));
    const outcome = this.queryOutcomes.shift() ?? { rowsWritten: 0 };
    this.sendQueryAnswer(response, "error" in outcome ? outcome : { fields: [{ name: "rows_written", type: "INTEGER" }], rows: [[String(outcome.rowsWritten)]] });
  }

  /** A query's result as getQueryResults gives it, or its error as BigQuery fails an invalid query. */
  private sendQueryAnswer(response: ServerResponse, answer: QueryAnswer | { readonly error: string }): void {
    if ("error" in answer) {
      this.send(response, { status: 400, body: { error: { code: 400, message: answer.error, errors: [{ reason: "invalidQuery", message: answer.error }] } } });
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

  /**
   * jobs.insert as the client's load upload sends it (uploadType=multipart: the job resource as
   * JSON, then the newline-delimited rows), read line by line as it arrives. A row that is not
   * JSON, or names a column the load's schema lacks, fails the job as BigQuery fails it.
   */
  private async upload(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    let resource: JobResource | undefined;
    const rows: Record<string, unknown>[] = [];
    let rowCount = 0;
    let columns = new Set<string>();
    let badRow: string | undefined;
    let part = 0;
    let inHeaders = false;
    const boundary = /boundary=([^;]+)/.exec(request.headers["content-type"] ?? "")?.[1];
    for await (const line of createInterface({ input: request, crlfDelay: Infinity })) {
      if (line === `--${boundary}` || line === `--${boundary}--`) {
        part++;
        inHeaders = true;
      } else if (inHeaders) {
        inHeaders = line !== "";
      } else if (part === 1) {
        resource = JSON.parse(line) as JobResource;
        columns = new Set(resource.configuration.load.schema?.fields.map((field) => field.name));
      } else if (part === 2 && line !== "") {
        try {
          const row = JSON.parse(line) as Record<string, unknown>;
          const unknown = Object.keys(row).find((column) => !columns.has(column));
          if (unknown !== undefined) badRow ??= `JSON table encountered too many errors. Error while reading data: No such field: ${unknown}.`;
          rowCount++;
          if (this.keepLoadedRows) rows.push(row);
        } catch {
          badRow ??= `JSON parsing error in row starting at position ${rowCount}: not JSON`;
        }
      }
    }
    this.requests.push({ method: "POST", path, body: resource });
    if (!resource) return this.send(response, { status: 400, body: { error: { code: 400, message: "upload without a job resource" } } });
    await this.passUploadGate();
    const { jobId } = resource.jobReference;
    if (this.loadJobs.has(jobId) || this.queryJobIds.has(jobId)) {
      this.duplicateLoads.push(jobId);
      return this.send(response, alreadyExists(jobId));
    }
    const script = this.loadScripts.shift() ?? {};
    const errors = badRow === undefined ? (script.errors ?? []) : [{ reason: "invalid", message: badRow }];
    const job: StandInLoadJob = { jobId, configuration: resource.configuration, table: resource.configuration.load.destinationTable.tableId, rows, rowCount, runningLooks: script.runningLooks ?? 0, errors };
    this.loadJobs.set(jobId, job);
    if (job.runningLooks === 0) this.finish(job);
    this.send(response, { status: 200, body: jobResource(resource, job) });
  }

  private async passUploadGate(): Promise<void> {
    const gate = this.uploadGate;
    if (!gate) return;
    gate.remaining--;
    if (gate.remaining > 0) {
      await new Promise<void>((resolve) => gate.waiting.push(resolve));
      return;
    }
    this.uploadGate = undefined;
    // Let each held upload go in turn, in the order they arrived, this one last.
    for (const release of gate.waiting) {
      release();
      await new Promise(setImmediate);
    }
  }

  /** jobs.get: a load job as it stands (a RUNNING look brings it closer to DONE), or 404. */
  private getJob(response: ServerResponse, jobId: string, path: string): void {
    this.requests.push({ method: "GET", path, body: undefined });
    const job = this.loadJobs.get(jobId);
    if (!job) return this.send(response, { status: 404, body: { error: { code: 404, message: `Not found: Job test-project:${jobId}`, errors: [{ reason: "notFound", message: `Not found: Job ${jobId}` }] } } });
    const resource = jobResource({ jobReference: { projectId: job.configuration.load.destinationTable.projectId, jobId }, configuration: job.configuration }, job);
    if (job.runningLooks > 0 && --job.runningLooks === 0) this.finish(job);
    this.send(response, { status: 200, body: resource });
  }

  /** A load job ends: its rows are loaded unless it failed (a load writes all its rows or none). */
  private finish(job: StandInLoadJob): void {
    if (job.errors.length > 0) return;
    const rows = this.loaded.get(job.table) ?? [];
    rows.push(...job.rows);
    this.loaded.set(job.table, rows);
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

function alreadyExists(jobId: string): ScriptedAnswer {
  const message = `Already Exists: Job test-project:US.${jobId}`;
  return { status: 409, body: { error: { code: 409, message, errors: [{ reason: "duplicate", message }], status: "ALREADY_EXISTS" } } };
}

function jobResource(resource: JobResource, job: StandInLoadJob): unknown {
  const done = job.runningLooks === 0;
  const failed = done && job.errors.length > 0;
  return {
    kind: "bigquery#job",
    id: `${resource.jobReference.projectId}:US.${job.jobId}`,
    jobReference: { ...resource.jobReference, location: "US" },
    configuration: resource.configuration,
    status: done ? { state: "DONE", ...(failed ? { errorResult: job.errors[0], errors: job.errors } : {}) } : { state: "RUNNING" },
    statistics: done && !failed ? { load: { outputRows: String(job.rowCount) } } : {},
  };
}

/** A real client pointed at a stand-in's endpoint, from any process; see BigQueryStandIn.client. */
export function standInClient(endpoint: string): BigQuery {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: "stand-in-token", expiry_date: Date.now() + 3_600_000 });
  return new BigQuery({ projectId: "test-project", apiEndpoint: endpoint, authClient: auth, autoRetry: false });
}

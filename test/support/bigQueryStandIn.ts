import { BigQuery } from "@google-cloud/bigquery";
import { OAuth2Client } from "google-auth-library";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

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

export const INSERT_OK: ScriptedAnswer = { status: 200, body: { kind: "bigquery#tableDataInsertAllResponse" } };

export function insertErrors(reason: string, message: string): ScriptedAnswer {
  return { status: 200, body: { kind: "bigquery#tableDataInsertAllResponse", insertErrors: [{ index: 0, errors: [{ reason, message }] }] } };
}

export function serverError(status = 500): ScriptedAnswer {
  return { status, body: { error: { code: status, message: "backend error", errors: [{ reason: "backendError", message: "backend error" }] } } };
}

const INSERT_ALL = /^\/bigquery\/v2\/projects\/[^/]+\/datasets\/[^/]+\/tables\/[^/]+\/insertAll$/;

/**
 * A loopback HTTP server that answers like BigQuery's tabledata.insertAll, records every request,
 * and answers 404 to anything else, so a test sees any call besides insertAll.
 */
export class BigQueryStandIn {
  readonly requests: RecordedRequest[] = [];
  private answers: ScriptedAnswer[] = [];
  private readonly server: Server = createServer((request, response) => void this.answer(request, response));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The answers to the next insertAll calls, in order; afterwards every call succeeds. */
  script(...answers: ScriptedAnswer[]): void {
    this.answers = answers;
  }

  reset(): void {
    this.requests.length = 0;
    this.answers = [];
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

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const path = (request.url ?? "").split("?")[0];
    this.requests.push({ method: request.method ?? "", path, body: text ? JSON.parse(text) : undefined });
    const answer = request.method === "POST" && INSERT_ALL.test(path) ? (this.answers.shift() ?? INSERT_OK) : { status: 404, body: { error: { code: 404, message: `stand-in has no ${path}` } } };
    response.writeHead(answer.status, { "content-type": "application/json" });
    response.end(JSON.stringify(answer.body));
  }
}

import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { GoogleAuth } from "google-auth-library";

/**
 * A small client for the Google REST APIs the operations tools and the batch loader call (Cloud
 * Storage, Pub/Sub).
 * Plain HTTPS with an OAuth token rather than the gRPC client libraries: the same code then talks
 * to Google, to Google's emulators and to the loopback stand-ins in the tests.
 */
export interface GoogleApi {
  /** Sends a JSON request to `<root><path>` and returns the parsed JSON answer. */
  json<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T>;
  /** The body of a GET, as a stream: for downloads that may be gigabytes. */
  stream(path: string): Promise<Readable>;
  /**
   * POSTs a body as it comes, of exactly `contentLength` bytes (an upload, e.g. Cloud Storage's
   * multipart upload, which may be gigabytes), and returns the parsed JSON answer.
   */
  upload<T>(path: string, body: Readable, contentType: string, contentLength: number): Promise<T>;
}

/** Whatever adds credentials to a request: google-auth-library's GoogleAuth or any of its clients. */
export interface RequestAuthorizer {
  getRequestHeaders(url?: string): Promise<Headers>;
}

export class GoogleApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "GoogleApiError";
  }
}

/** `root` is e.g. "https://pubsub.googleapis.com"; without `auth` requests carry no credentials, as emulators expect. */
export function googleApi(root: string, auth?: RequestAuthorizer): GoogleApi {
  async function send(method: string, path: string, body?: { readonly content: string | Readable; readonly type: string; readonly length?: number }): Promise<Response> {
    const url = `${root}${path}`;
    const headers = new Headers(auth ? await auth.getRequestHeaders(url) : undefined);
    if (body !== undefined) headers.set("content-type", body.type);
    // A streamed body is sent with its length rather than chunked: uploads need Content-Length.
    if (body?.length !== undefined) headers.set("content-length", String(body.length));
    const response = await fetch(url, { method, headers, body: body?.content, ...(body?.content instanceof Readable ? { duplex: "half" } : {}) });
    if (!response.ok) {
      throw new GoogleApiError(response.status, `${method} ${url} answered ${response.status}: ${errorMessage(await response.text())}`);
    }
    return response;
  }
  return {
    async json<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
      return parseAnswer<T>(await send(method, path, body === undefined ? undefined : { content: JSON.stringify(body), type: "application/json" }));
    },
    async upload<T>(path: string, body: Readable, contentType: string, contentLength: number): Promise<T> {
      return parseAnswer<T>(await send("POST", path, { content: body, type: contentType, length: contentLength }));
    },
    async stream(path: string): Promise<Readable> {
      const response = await send("GET", path);
      return response.body ? Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) : Readable.from([]);
    },
  };
}

/** A JSON answer; an empty one (a DELETE's 204) as {}. */
async function parseAnswer<T>(response: Response): Promise<T> {
  const text = await response.text();
  return (text === "" ? {} : JSON.parse(text)) as T;
}

/** The variables Google's emulators (and the client libraries) use to redirect a service. */
export const EMULATOR_VARIABLES = { pubsub: "PUBSUB_EMULATOR_HOST", storage: "STORAGE_EMULATOR_HOST" } as const;

export type GoogleService = keyof typeof EMULATOR_VARIABLES;

/**
 * The API of one service: its emulator when the conventional variable names one (host:port or a
 * URL), otherwise Google itself with application default credentials (`gcloud auth
 * application-default login`).
 */
export function serviceApi(service: GoogleService, environment: NodeJS.ProcessEnv = process.env): GoogleApi {
  const emulator = environment[EMULATOR_VARIABLES[service]];
  if (emulator) return googleApi(emulator.includes("://") ? emulator.replace(/\/+$/, "") : `http://${emulator}`);
  return googleApi(`https://${service}.googleapis.com`, new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] }));
}

/** Google's error bodies are `{"error": {"message": ...}}`; anything else is shown as it came. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") return message;
  } catch {
    // not JSON: the text itself is the best description
  }
  return text.slice(0, 300);
}

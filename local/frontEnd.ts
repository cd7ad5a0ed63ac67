import { randomFillSync } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseUrl } from "../core/event";
import type { CoreSettings } from "../core/config/coreSettings";
import { absoluteRequestUrl, buildLogEntry, urlHost } from "./logEntry";
import type { ObservedRequest } from "./logEntry";
import { answerNotFound, answerPixel } from "./pixelResponse";
import type { Answer, PixelAsset } from "./pixelResponse";
import { MAX_LINE_BYTES, spoolLineBytes } from "./spool";
import type { SpoolWriter } from "./spool";

export interface FrontEndOptions {
  readonly settings: CoreSettings;
  readonly pixel: PixelAsset;
  readonly spool: SpoolWriter;
  readonly warn: (message: string) => void;
}

// hrtime is monotonic with nanosecond resolution; anchored once to the wall clock, it gives
// timestamps finer than Date's milliseconds, as Cloud Logging's are.
const EPOCH_NS_AT_HRTIME_ZERO = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

function nowNs(): bigint {
  return EPOCH_NS_AT_HRTIME_ZERO + process.hrtime.bigint();
}

/** Random bytes for insertIds, drawn a block at a time: a randomBytes call per request cost 1.7 µs, nearly all of it the call itself. */
const INSERT_ID_BYTES = 8;
const insertIdPool = Buffer.alloc(INSERT_ID_BYTES * 512);
let insertIdOffset = insertIdPool.length;

/** Unique per entry, as Cloud Logging's own insertId is: 64 random bits. */
function newInsertId(): string {
  if (insertIdOffset === insertIdPool.length) {
    randomFillSync(insertIdPool);
    insertIdOffset = 0;
  }
  insertIdOffset += INSERT_ID_BYTES;
  return insertIdPool.toString("hex", insertIdOffset - INSERT_ID_BYTES, insertIdOffset);
}

const NOT_LOGGED: Answer = textAnswer(503, "The request could not be logged, so it was not counted.", { "retry-after": "1" });

/** Characters of a field kept in the entry of a request too long to spool, and in a warning. */
const SHORTENED_CHARS = 200;

/**
 * The local load balancer, CDN and bucket in one: answers the pixel path with the pixel and every
 * other path with a 404, and logs each request as the load balancer would. The answer is sent
 * only after its log entry is synced to the spool, so an answered request is never lost.
 */
export function createFrontEnd({ settings, pixel, spool, warn }: FrontEndOptions) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const receivedAtNs = nowNs();
    // Any body is not part of a pixel view; draining it keeps the connection usable.
    request.resume();
    const method = request.method ?? "GET";
    const { localAddress, localPort } = request.socket;
    const requestUrl = absoluteRequestUrl(request.url ?? "/", request.headers.host, `${urlHost(localAddress ?? "")}:${localPort}`);
    // The same URL parsing the core applies, so what is served as the pixel is what is counted.
    const path = parseUrl(requestUrl)?.pathname;
    const fields: LoggedFields = { requestUrl, userAgent: request.headers["user-agent"], referer: request.headers.referer };
    let answer = path === settings.pixelPath ? answerPixel(pixel, method, request.headers) : answerNotFound();
    let line = JSON.stringify(buildLogEntry(observed(request, receivedAtNs, answer, fields)));
    if (spoolLineBytes(line) > MAX_LINE_BYTES) {
      // The spool's reader takes lines up to the same bound, so an answered request is always loadable:
      // a request too long to log whole is refused before it is answered, and logged shortened.
      answer = tooLong(fields);
      line = JSON.stringify(buildLogEntry(observed(request, receivedAtNs, answer, { requestUrl: shortened(requestUrl), userAgent: shortened(fields.userAgent), referer: shortened(fields.referer) })));
    }
    spool.append(line).then(
      () => send(request, response, answer),
      (error: unknown) => {
        warn(`could not spool the log entry for ${method} ${shortened(requestUrl)}: ${String(error)}`);
        send(request, response, NOT_LOGGED);
      },
    );
  };
}

type LoggedFields = Pick<ObservedRequest, "requestUrl" | "userAgent" | "referer">;

/**
 * What the load balancer saw of the request and its answer. Every field is named: an object
 * spread followed by more fields made V8 build a new hidden class for each request, which cost
 * 6 to 8 µs a request (bench/notes.md).
 */
function observed(request: IncomingMessage, receivedAtNs: bigint, answer: Answer, fields: LoggedFields): ObservedRequest {
  const loggedAtNs = nowNs();
  return {
    insertId: newInsertId(),
    receivedAtNs,
    loggedAtNs,
    latencyNs: loggedAtNs - receivedAtNs,
    method: request.method ?? "GET",
    requestUrl: fields.requestUrl,
    status: answer.status,
    protocol: `HTTP/${request.httpVersion}`,
    responseSize: answer.body.length,
    userAgent: fields.userAgent,
    referer: fields.referer,
    remoteIp: request.socket.remoteAddress,
    serverIp: request.socket.localAddress,
    fromCache: answer.fromCache,
  };
}

/** 414 when the URL is what made the request too long, 431 when its headers did. */
function tooLong(fields: { requestUrl: string; userAgent?: string; referer?: string }): Answer {
  const headerChars = (fields.userAgent?.length ?? 0) + (fields.referer?.length ?? 0);
  return fields.requestUrl.length >= headerChars
    ? textAnswer(414, "The URL is too long to be logged, so it was not counted.")
    : textAnswer(431, "The request's headers are too long to be logged, so it was not counted.");
}

function shortened<T extends string | undefined>(text: T): T {
  return (text !== undefined && text.length > SHORTENED_CHARS ? `${text.slice(0, SHORTENED_CHARS)}… (${text.length} characters)` : text) as T;
}

function textAnswer(status: number, text: string, headers: Record<string, string> = {}): Answer {
  return { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers }, body: Buffer.from(`${text}\n`), fromCache: false };
}

/**
 * Sends the answer. A body still arriving by then (a slow POST, say) would hold the connection
 * open for as long as its sender likes: `Connection: close` has Node close it after the answer.
 */
function send(request: IncomingMessage, response: ServerResponse, answer: Answer): void {
  const bodyPending = !request.complete;
  response.writeHead(answer.status, bodyPending ? { ...answer.headers, connection: "close" } : answer.headers).end(answer.body);
}

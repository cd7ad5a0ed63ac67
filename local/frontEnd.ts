import { randomBytes } from "node:crypto";
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
    const observed = (answer: Answer, fields: Pick<ObservedRequest, "requestUrl" | "userAgent" | "referer">): ObservedRequest => {
      const loggedAtNs = nowNs();
      return {
        ...fields,
        insertId: randomBytes(8).toString("hex"),
        receivedAtNs,
        loggedAtNs,
        latencyNs: loggedAtNs - receivedAtNs,
        method,
        status: answer.status,
        protocol: `HTTP/${request.httpVersion}`,
        responseSize: answer.body.length,
        remoteIp: request.socket.remoteAddress,
        serverIp: localAddress,
        fromCache: answer.fromCache,
      };
    };
    const fields = { requestUrl, userAgent: request.headers["user-agent"], referer: request.headers.referer };
    let answer = path === settings.pixelPath ? answerPixel(pixel, method, request.headers) : answerNotFound();
    let line = JSON.stringify(buildLogEntry(observed(answer, fields)));
    if (spoolLineBytes(line) > MAX_LINE_BYTES) {
      // The spool's reader takes lines up to the same bound, so an answered request is always loadable:
      // a request too long to log whole is refused before it is answered, and logged shortened.
      answer = tooLong(fields);
      line = JSON.stringify(buildLogEntry(observed(answer, { requestUrl: shortened(requestUrl), userAgent: shortened(fields.userAgent), referer: shortened(fields.referer) })));
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

import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseUrl } from "../core/event";
import type { CoreSettings } from "../core/config/coreSettings";
import { absoluteRequestUrl, buildLogEntry } from "./logEntry";
import { answerNotFound, answerPixel } from "./pixelResponse";
import type { Answer, PixelAsset } from "./pixelResponse";
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

const NOT_LOGGED: Answer = {
  status: 503,
  headers: { "content-type": "text/plain; charset=utf-8", "retry-after": "1" },
  body: Buffer.from("The request could not be logged, so it was not counted.\n"),
  fromCache: false,
};

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
    const host = request.headers.host ?? `${request.socket.localAddress}:${request.socket.localPort}`;
    const requestUrl = absoluteRequestUrl(request.url ?? "/", host);
    // The same URL parsing the core applies, so what is served as the pixel is what is counted.
    const path = parseUrl(requestUrl)?.pathname;
    const answer = path === settings.pixelPath ? answerPixel(pixel, method, request.headers) : answerNotFound();
    const loggedAtNs = nowNs();
    const entry = buildLogEntry({
      insertId: randomBytes(8).toString("hex"),
      receivedAtNs,
      loggedAtNs,
      latencyNs: loggedAtNs - receivedAtNs,
      method,
      requestUrl,
      status: answer.status,
      protocol: `HTTP/${request.httpVersion}`,
      responseSize: answer.body.length,
      userAgent: request.headers["user-agent"],
      referer: request.headers.referer,
      remoteIp: request.socket.remoteAddress,
      serverIp: request.socket.localAddress,
      fromCache: answer.fromCache,
    });
    spool.append(JSON.stringify(entry)).then(
      () => send(response, answer),
      (error: unknown) => {
        warn(`could not spool the log entry for ${method} ${requestUrl}: ${String(error)}`);
        send(response, NOT_LOGGED);
      },
    );
  };
}

function send(response: ServerResponse, answer: Answer): void {
  response.writeHead(answer.status, answer.headers).end(answer.body);
}

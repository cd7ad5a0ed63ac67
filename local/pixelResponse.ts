import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * The pixel object as the bucket serves it, with its answers: they are the same for every request,
 * so they are made once (building them per request cost about 1 µs of each: bench/notes.md).
 */
export interface PixelAsset {
  /** GCS's ETag is the quoted MD5 of the object. */
  readonly etag: string;
  /** An HTTP date, whole seconds. */
  readonly lastModified: string;
  readonly answers: { readonly get: Answer; readonly head: Answer; readonly notModified: Answer };
}

/** What the front end answers, decided before the request is logged. Shared between requests, so never changed. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The CDN answered from its cache: true for the pixel, whose object is always cached. */
  readonly fromCache: boolean;
}

/** Our CDN's client TTL is 0: browsers may keep the pixel but must revalidate on every view, and each revalidation is an event. */
const PIXEL_CACHE_CONTROL = "public, max-age=0";

const NO_BODY = Buffer.alloc(0);

export function pixelAsset(bytes: Buffer, modified: Date): PixelAsset {
  const etag = `"${createHash("md5").update(bytes).digest("hex")}"`;
  const lastModified = new Date(Math.floor(modified.getTime() / 1000) * 1000).toUTCString();
  const validators = { etag, "last-modified": lastModified, "cache-control": PIXEL_CACHE_CONTROL };
  const headers = { ...validators, "content-type": "image/png", "content-length": String(bytes.length) };
  return {
    etag,
    lastModified,
    answers: {
      get: { status: 200, headers, body: bytes, fromCache: true },
      head: { status: 200, headers, body: NO_BODY, fromCache: true },
      notModified: { status: 304, headers: validators, body: NO_BODY, fromCache: true },
    },
  };
}

const METHOD_NOT_ALLOWED: Answer = { status: 405, headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }, body: Buffer.from("Method Not Allowed\n"), fromCache: false };
const NOT_FOUND: Answer = { status: 404, headers: { "content-type": "text/plain; charset=utf-8" }, body: Buffer.from("Not Found\n"), fromCache: false };

/** The pixel for GET and HEAD, with a 304 when the browser's copy is current. */
export function answerPixel(asset: PixelAsset, method: string, headers: IncomingHttpHeaders): Answer {
  if (method !== "GET" && method !== "HEAD") return METHOD_NOT_ALLOWED;
  if (isNotModified(asset, headers)) return asset.answers.notModified;
  return method === "HEAD" ? asset.answers.head : asset.answers.get;
}

/** Any other path: the bucket has no such object. */
export function answerNotFound(): Answer {
  return NOT_FOUND;
}

/** RFC 9110 §13.2.2: If-None-Match, compared weakly, wins over If-Modified-Since. */
function isNotModified(asset: PixelAsset, headers: IncomingHttpHeaders): boolean {
  const ifNoneMatch = headers["if-none-match"];
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch
      .split(",")
      .map((tag) => tag.trim().replace(/^W\//, ""))
      .some((tag) => tag === "*" || tag === asset.etag);
  }
  const ifModifiedSince = Date.parse(headers["if-modified-since"] ?? "");
  return !Number.isNaN(ifModifiedSince) && Date.parse(asset.lastModified) <= ifModifiedSince;
}

import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** The pixel object as the bucket serves it. */
export interface PixelAsset {
  readonly bytes: Buffer;
  /** GCS's ETag is the quoted MD5 of the object. */
  readonly etag: string;
  /** An HTTP date, whole seconds. */
  readonly lastModified: string;
}

/** What the front end answers, decided before the request is logged. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The CDN answered from its cache: true for the pixel, whose object is always cached. */
  readonly fromCache: boolean;
}

/** Our CDN's client TTL is 0: browsers may keep the pixel but must revalidate on every view, and each revalidation is an event. */
const PIXEL_CACHE_CONTROL = "public, max-age=0";

export function pixelAsset(bytes: Buffer, modified: Date): PixelAsset {
  return {
    bytes,
    etag: `"${createHash("md5").update(bytes).digest("hex")}"`,
    lastModified: new Date(Math.floor(modified.getTime() / 1000) * 1000).toUTCString(),
  };
}

/** The pixel for GET and HEAD, with a 304 when the browser's copy is current. */
export function answerPixel(asset: PixelAsset, method: string, headers: IncomingHttpHeaders): Answer {
  if (method !== "GET" && method !== "HEAD") {
    return { status: 405, headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }, body: Buffer.from("Method Not Allowed\n"), fromCache: false };
  }
  const validators = { etag: asset.etag, "last-modified": asset.lastModified, "cache-control": PIXEL_CACHE_CONTROL };
  if (isNotModified(asset, headers)) return { status: 304, headers: validators, body: Buffer.alloc(0), fromCache: true };
  return {
    status: 200,
    headers: { ...validators, "content-type": "image/png", "content-length": String(asset.bytes.length) },
    body: method === "HEAD" ? Buffer.alloc(0) : asset.bytes,
    fromCache: true,
  };
}

/** Any other path: the bucket has no such object. */
export function answerNotFound(): Answer {
  return { status: 404, headers: { "content-type": "text/plain; charset=utf-8" }, body: Buffer.from("Not Found\n"), fromCache: false };
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

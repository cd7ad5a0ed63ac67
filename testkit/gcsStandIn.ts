import type { IncomingMessage, ServerResponse } from "node:http";
import { LoopbackStandIn } from "./loopbackStandIn";

/**
 * A loopback server that answers like the Cloud Storage JSON API for what replay calls: objects.list
 * (with prefix, pagination and each object's timeCreated) and objects.get with alt=media. It records the Authorization
 * header of each request, so a test can see the credentials were sent.
 */
export class GcsStandIn extends LoopbackStandIn {
  /** Objects by bucket, then by name. */
  readonly buckets = new Map<string, Map<string, Buffer>>();
  readonly authorizations: (string | undefined)[] = [];

  constructor(private readonly pageSize = 2) {
    super();
  }



  /** When each object was written, by `bucket/name`: objects.list's `timeCreated`. */
  private readonly createdAt = new Map<string, Date>();

  /** Object reads (alt=media) still to answer 503, as Cloud Storage does when it is unavailable. */
  failingReads = 0;

  put(bucket: string, name: string, content: Buffer | string, createdAt = new Date()): void {
    if (!this.buckets.has(bucket)) this.buckets.set(bucket, new Map());
    this.buckets.get(bucket)?.set(name, Buffer.from(content));
    this.createdAt.set(`${bucket}/${name}`, createdAt);
  }

  protected answer(request: IncomingMessage, response: ServerResponse): void {
    this.authorizations.push(request.headers.authorization);
    const url = new URL(request.url ?? "/", this.endpoint);
    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const get = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    if (request.method === "GET" && list) return this.list(decodeURIComponent(list[1]), url.searchParams, response);
    if (request.method === "GET" && get && url.searchParams.get("alt") === "media") {
      if (this.failingReads > 0) {
        this.failingReads--;
        return void response.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: 503, message: "stand-in told to fail reads" } }));
      }
      const content = this.buckets.get(decodeURIComponent(get[1]))?.get(decodeURIComponent(get[2]));
      if (content) return void response.writeHead(200, { "content-type": "application/octet-stream" }).end(content);
    }
    response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: 404, message: `stand-in has no ${url.pathname}` } }));
  }

  private list(bucket: string, query: URLSearchParams, response: ServerResponse): void {
    const prefix = query.get("prefix") ?? "";
    const names = [...(this.buckets.get(bucket)?.keys() ?? [])].filter((name) => name.startsWith(prefix)).sort();
    const start = Number(query.get("pageToken") ?? 0);
    const page = names.slice(start, start + this.pageSize);
    const body = {
      kind: "storage#objects",
      items: page.map((name) => ({ name, bucket, size: String(this.buckets.get(bucket)?.get(name)?.length), timeCreated: this.createdAt.get(`${bucket}/${name}`)?.toISOString() })),
      ...(start + this.pageSize < names.length ? { nextPageToken: String(start + this.pageSize) } : {}),
    };
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  }
}

import type { IncomingMessage, ServerResponse } from "node:http";
import { LoopbackStandIn } from "./loopbackStandIn";

/**
 * A loopback server that answers like the Cloud Storage JSON API for what replay calls: objects.list
 * (with prefix, pagination and each object's timeCreated) and objects.get with alt=media. It records the Authorization
 * header of each request, so a test can see the credentials were sent.
 * For the archive erasure it also keeps each object's generation (a counter over the whole
 * stand-in: every write makes a new one), contentType and customTime, and answers objects.get for
 * metadata, multipart uploads, deletes, and `ifGenerationMatch` on all of them (412 when
 * the object has another generation, as Cloud Storage answers).
 */
export class GcsStandIn extends LoopbackStandIn {
  /** Objects by bucket, then by name. */
  readonly buckets = new Map<string, Map<string, Buffer>>();
  readonly authorizations: (string | undefined)[] = [];
  /** The prefix of each objects.list request, a page each, in order. */
  readonly listedPrefixes: string[] = [];

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
    this.newGeneration(bucket, name);
  }

  protected async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.authorizations.push(request.headers.authorization);
    const url = new URL(request.url ?? "/", this.endpoint);
    if (request.method === "GET" && url.searchParams.get("alt") === "media" && this.failingReads > 0) {
      this.failingReads--;
      return void response.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: 503, message: "stand-in told to fail reads" } }));
    }
    if (await this.answerGenerations(request, url, response)) return;
    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const get = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    if (request.method === "GET" && list) return this.list(decodeURIComponent(list[1]), url.searchParams, response);
    if (request.method === "GET" && get && url.searchParams.get("alt") === "media") {
      const content = this.buckets.get(decodeURIComponent(get[1]))?.get(decodeURIComponent(get[2]));
      if (content) return void response.writeHead(200, { "content-type": "application/octet-stream" }).end(content);
    }
    response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: 404, message: `stand-in has no ${url.pathname}` } }));
  }

  private list(bucket: string, query: URLSearchParams, response: ServerResponse): void {
    const prefix = query.get("prefix") ?? "";
    this.listedPrefixes.push(prefix);
    const names = [...(this.buckets.get(bucket)?.keys() ?? [])].filter((name) => name.startsWith(prefix)).sort();
    const start = Number(query.get("pageToken") ?? 0);
    const page = names.slice(start, start + this.pageSize);
    const body = {
      kind: "storage#objects",
      items: page.map((name) => ({ name, bucket, size: String(this.buckets.get(bucket)?.get(name)?.length), timeCreated: this.createdAt.get(`${bucket}/${name}`)?.toISOString(), ...this.metadataOf(bucket, name) })),
      ...(start + this.pageSize < names.length ? { nextPageToken: String(start + this.pageSize) } : {}),
    };
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  }

  /** Each object's metadata, by `bucket/name`. */
  private readonly objectMetadata = new Map<string, ObjectMetadata>();
  private lastGeneration = 1_700_000_000_000_000;
  /** Writes (uploads and deletes) answered so far; past `failWritesAfter`, writes answer 503. */
  writes = 0;
  failWritesAfter = Infinity;
  /** Called after an object's content was sent, before the client can write it back: a concurrent writer. */
  afterMediaRead?: (bucket: string, name: string) => void;

  /** The object's generation, contentType and customTime (undefined when it does not exist). */
  metadataOf(bucket: string, name: string): ObjectMetadata | undefined {
    if (!this.buckets.get(bucket)?.has(name)) return undefined;
    return this.objectMetadata.get(`${bucket}/${name}`) ?? this.newGeneration(bucket, name);
  }

  private newGeneration(bucket: string, name: string, metadata: Partial<ObjectMetadata> = {}): ObjectMetadata {
    const stored = { contentType: "application/json", ...metadata, generation: String(++this.lastGeneration) };
    this.objectMetadata.set(`${bucket}/${name}`, stored);
    return stored;
  }

  /** The erasure's requests; false for any other, which the replay routes answer. */
  private async answerGenerations(request: IncomingMessage, url: URL, response: ServerResponse): Promise<boolean> {
    const object = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const bucket = decodeURIComponent((object ?? upload)?.[1] ?? "");
    const body = upload ? await readBody(request) : Buffer.alloc(0);
    const sent = upload ? uploadedObject(url.searchParams, request.headers["content-type"] ?? "", body) : undefined;
    if (upload && !sent) {
      sendJson(response, 400, { error: { code: 400, message: `stand-in takes multipart uploads, got ${url.search}` } });
      return true;
    }
    const name = object ? decodeURIComponent(object[2]) : sent?.name;
    if (name === undefined || !(upload ? request.method === "POST" : ["GET", "DELETE"].includes(request.method ?? ""))) return false;
    const current = this.metadataOf(bucket, name);
    // A missing object answers 404 to reads and deletes, whatever the precondition.
    if (!current && !upload) return false;
    const expected = url.searchParams.get("ifGenerationMatch");
    // Replay's plain reads keep their own route.
    if (request.method === "GET" && url.searchParams.get("alt") === "media" && expected === null) return false;
    if (expected !== null && expected !== (current?.generation ?? "0")) {
      sendJson(response, 412, { error: { code: 412, message: `gs://${bucket}/${name}: the precondition ifGenerationMatch=${expected} failed` } });
      return true;
    }
    if (request.method === "GET" && current) {
      if (url.searchParams.get("alt") === "media") {
        response.writeHead(200, { "content-type": current.contentType, "x-goog-generation": current.generation }).end(this.buckets.get(bucket)?.get(name));
        this.afterMediaRead?.(bucket, name);
      } else {
        sendJson(response, 200, { name, bucket, size: String(this.buckets.get(bucket)?.get(name)?.length), ...current });
      }
      return true;
    }
    if (this.writes >= this.failWritesAfter) {
      sendJson(response, 503, { error: { code: 503, message: "stand-in told to fail writes" } });
      return true;
    }
    this.writes++;
    if (request.method === "DELETE") {
      this.buckets.get(bucket)?.delete(name);
      this.objectMetadata.delete(`${bucket}/${name}`);
      response.writeHead(204).end();
      return true;
    }
    if (!this.buckets.has(bucket)) this.buckets.set(bucket, new Map());
    this.buckets.get(bucket)?.set(name, sent?.content ?? body);
    const stored = this.newGeneration(bucket, name, sent?.metadata);
    sendJson(response, 200, { name, bucket, size: String(sent?.content.length), ...stored });
    return true;
  }
}

export interface ObjectMetadata {
  readonly generation: string;
  readonly contentType: string;
  readonly customTime?: string;
  readonly storageClass?: string;
}

/** The object a multipart upload sends: its name, content and metadata; undefined for any other upload. */
function uploadedObject(query: URLSearchParams, contentType: string, body: Buffer): { name?: string; content: Buffer; metadata: Partial<ObjectMetadata> } | undefined {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  if (query.get("uploadType") !== "multipart" || !boundary) return undefined;
  // --b CRLF headers CRLF CRLF metadata CRLF --b CRLF headers CRLF CRLF content CRLF --b--
  const parts: Buffer[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  for (let at = body.indexOf(delimiter); at !== -1; ) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(at + delimiter.length + 2, next - 2);
    parts.push(part.subarray(part.indexOf("\r\n\r\n") + 4));
    at = next;
  }
  if (parts.length !== 2) return undefined;
  const [metadata, content] = parts;
  const fields = JSON.parse(metadata.toString("utf8")) as { name?: string } & Partial<ObjectMetadata>;
  const { name, ...rest } = fields;
  return { name, content, metadata: rest };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

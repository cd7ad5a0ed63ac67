import { randomUUID } from "node:crypto";
import { appendFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { Readable } from "node:stream";
import type { CoreSettings } from "../core/config/coreSettings";
import { TenantLineFilter } from "../core/tenantErasure";
import { GoogleApiError } from "../functions/googleApi";
import type { GoogleApi } from "../functions/googleApi";
import type { ReplayProgress } from "./progress";

/**
 * Erasing a tenant from the raw archive: every hourly object of the log sink that holds one of the
 * tenant's entries is written again without them, one object at a time, each write conditional on
 * the generation that was read (`ifGenerationMatch`), so an object that changed meanwhile is read
 * again, never overwritten.
 *
 * A rewritten object is not loaded again by the batch tier: its load jobs are named by bucket,
 * object name and table (core/batchLoad.ts loadJobId), not by generation, and BigQuery runs a job
 * id once (it answers for a job for six months; past that the load ledger's row for the object is
 * the record that it was loaded). The rewrite carries `customTime` = the object's hour, and the archive's lifecycle rule
 * deletes by `daysSinceCustomTime`, so a rewrite never restarts the object's age. An object that
 * held nothing but the tenant's entries is deleted (with the same precondition) rather than kept
 * empty: nothing is left to keep, and a deletion, unlike a new empty generation, is no new object
 * for the loader's trigger to look at.
 */
export interface ArchiveErasure {
  readonly api: GoogleApi;
  readonly bucket: string;
  /** Object name prefix, normally SINK_OBJECT_PREFIX (core/batchLoad.ts). */
  readonly prefix: string;
  readonly tenant: string;
  readonly settings: CoreSettings;
  /** YYYY-MM-DD: only objects of hours before that day. */
  readonly before?: string;
  /** Reads and counts; writes nothing, not even the state file. */
  readonly dryRun: boolean;
  /** Where the run records the objects it finished, so that a run stopped half way can resume. */
  readonly statePath: string;
  /** Bytes of the archive read, and the entries among them. */
  readonly progress?: ReplayProgress;
  /** Objects up to this size are read once, larger ones twice with less memory (default SINGLE_READ_BYTES). */
  readonly singleReadBytes?: number;
}

export interface ArchiveErasureReport {
  /** Sink objects in range, read now or by the run this one resumes. */
  readonly scanned: number;
  /** Log entries in them. */
  readonly entries: number;
  /** Objects that held the tenant's entries and were written again or deleted (in a dry run: would be). */
  readonly rewritten: number;
  /** Of those, the ones that held nothing else and were deleted. */
  readonly deleted: number;
  /** The tenant's entries taken out. */
  readonly removed: number;
  /** Of those, entries the core had refused (the rest were the tenant's rows). */
  readonly removedRefused: number;
  /** Objects a previous run had finished, not read again. */
  readonly resumed: number;
  /** Objects under the prefix whose names are not the sink's hourly files: left alone. */
  readonly skipped: number;
}

/** How often an object that keeps changing under the erasure is read again before the run gives up. */
export const MAX_OBJECT_ATTEMPTS = 5;

/** The sink's hourly object names: `…/YYYY/MM/DD/HH:00:00_HH:59:59_S<n>.json` (A<n> for late entries). */
const HOURLY_OBJECT = /(\d{4})\/(\d{2})\/(\d{2})\/(\d{2}):00:00_\d{2}:59:59_[SA]\d+\.json$/;

interface StoredObject {
  readonly name: string;
  readonly size: string;
  readonly generation: string;
  readonly contentType?: string;
  readonly storageClass?: string;
}

/** What became of one object; a line of the state file. */
interface ObjectOutcome {
  readonly object: string;
  /** The generation the object has after this run: the one read, the one written, or null when deleted or gone. */
  readonly generation: string | null;
  readonly entries: number;
  readonly removed: number;
  readonly removedRefused: number;
  readonly rewritten: boolean;
  readonly deleted: boolean;
}

/** The run's parameters, the state file's first line: a state is only resumed by the same erasure. */
interface ErasureParameters {
  readonly bucket: string;
  readonly prefix: string;
  readonly tenant: string;
  readonly tenantAttribute: string;
  readonly before: string | null;
}

export async function eraseTenantFromArchive(options: ArchiveErasure): Promise<ArchiveErasureReport> {
  const { api, bucket, tenant, settings, dryRun } = options;
  // The command checks what the user typed; these would otherwise erase the wrong entries quietly.
  if (tenant === "") throw new Error("the tenant to erase is empty: name one");
  if (options.before !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(options.before)) throw new Error(`before is ${JSON.stringify(options.before)}: give a day as YYYY-MM-DD`);
  const listed = await listObjects(api, bucket, options.prefix);
  const hourly = listed.filter((object) => hourOf(object.name) !== undefined);
  const inRange = hourly.filter((object) => options.before === undefined || (hourOf(object.name) as string) < `${options.before}T00:00:00Z`);
  const parameters: ErasureParameters = { bucket, prefix: options.prefix, tenant, tenantAttribute: settings.tenantAttribute, before: options.before ?? null };
  // A dry run says what would go now, whatever a stopped run has done already.
  const state = dryRun ? new Map<string, ObjectOutcome>() : await openState(options.statePath, parameters);
  const outcomes = new Map(state);
  const objects = objectApi(api, bucket);

  let bytesRead = 0;
  let entries = 0;
  options.progress?.start(inRange.reduce((total, object) => total + Number(object.size), 0));
  try {
    for (const [index, object] of inRange.entries()) {
      const done = state.get(object.name);
      if (done?.generation === object.generation) {
        entries += done.entries;
      } else {
        const outcome = await eraseFromObject(objects, object, () => new TenantLineFilter(tenant, settings), { dryRun, singleReadBytes: options.singleReadBytes ?? SINGLE_READ_BYTES }).catch((error: unknown) => {
          throw new Error(
            `the erasure of ${tenant} from the archive stopped at gs://${bucket}/${object.name} (${index} of ${inRange.length} objects done): ${(error as Error).message}. ` +
              "Running the same erasure again resumes where it stopped.",
            { cause: error },
          );
        });
        outcomes.set(object.name, outcome);
        entries += outcome.entries;
        if (!dryRun) await appendFile(options.statePath, `${JSON.stringify(outcome)}\n`);
      }
      bytesRead += Number(object.size);
      options.progress?.update(bytesRead, entries);
    }
  } finally {
    options.progress?.stop();
  }
  // Finished: the next run scans the whole archive again (and finds nothing left to remove).
  if (!dryRun) await rm(options.statePath, { force: true });

  const all = [...outcomes.values()];
  const sum = (count: (outcome: ObjectOutcome) => number) => all.reduce((total, outcome) => total + count(outcome), 0);
  return {
    scanned: all.length,
    entries: sum((outcome) => outcome.entries),
    rewritten: sum((outcome) => Number(outcome.rewritten)),
    deleted: sum((outcome) => Number(outcome.deleted)),
    removed: sum((outcome) => outcome.removed),
    removedRefused: sum((outcome) => outcome.removedRefused),
    // What the stopped run did and nothing changed since, deleted objects included.
    resumed: [...state].filter(([name, outcome]) => outcomes.get(name) === outcome).length,
    skipped: listed.length - hourly.length,
  };
}

/** The hour an object of the sink holds, as an RFC 3339 time (its customTime), from its name. */
export function hourOf(objectName: string): string | undefined {
  const match = HOURLY_OBJECT.exec(objectName);
  return match ? `${match[1]}-${match[2]}-${match[3]}T${match[4]}:00:00Z` : undefined;
}

/**
 * Objects up to this size are read once: the lines they keep wait in memory for the write. Larger
 * ones are read again to be written, as a stream, so memory holds a line rather than an object (the
 * sink's files reach 3.5 GiB). A second read of a Coldline object pays its retrieval fee again.
 */
export const SINGLE_READ_BYTES = 64 * 1024 * 1024;

/** What reading an object found: the counts, and the lines it keeps when they were held. */
interface Scan {
  readonly filter: TenantLineFilter;
  readonly kept?: readonly Buffer[];
}

/**
 * Reads the object at the generation it was listed with and writes it back without the tenant's
 * entries, on condition that it still has that generation. When it changed in between (412), it is
 * read again at its new generation; when it is gone, there is nothing left to erase.
 */
async function eraseFromObject(
  objects: ObjectApi,
  listed: StoredObject,
  newFilter: () => TenantLineFilter,
  { dryRun, singleReadBytes }: { readonly dryRun: boolean; readonly singleReadBytes: number },
): Promise<ObjectOutcome> {
  const gone: ObjectOutcome = { object: listed.name, generation: null, entries: 0, removed: 0, removedRefused: 0, rewritten: false, deleted: false };
  let current: StoredObject | undefined = listed;
  for (let attempt = 1; attempt <= MAX_OBJECT_ATTEMPTS && current; attempt++) {
    const object: StoredObject = current;
    const scan = await ifUnchanged(() => scanObject(objects, object, newFilter(), Number(object.size) <= singleReadBytes));
    if (scan === CHANGED) {
      current = await objects.metadata(listed.name);
      continue;
    }
    const { entries, removed, removedRefused, keptBytes } = scan.filter;
    const outcome = { object: listed.name, entries, removed, removedRefused, rewritten: removed > 0 };
    if (removed === 0 || dryRun) return { ...outcome, generation: object.generation, deleted: removed > 0 && keptBytes === 0 };
    const written = await ifUnchanged(async () => {
      if (keptBytes === 0) {
        await objects.delete(object);
        return { ...outcome, generation: null, deleted: true };
      }
      const content = scan.kept ?? filtered(await objects.read(object), newFilter());
      const generation = await objects.replace(object, content, keptBytes, hourOf(listed.name) as string);
      return { ...outcome, generation, deleted: false };
    });
    if (written !== CHANGED) return written;
    current = await objects.metadata(listed.name);
  }
  if (!current) return gone;
  throw new Error(`it changed ${MAX_OBJECT_ATTEMPTS} times while it was being rewritten, and nothing of it was overwritten`);
}

async function scanObject(objects: ObjectApi, object: StoredObject, filter: TenantLineFilter, holdLines: boolean): Promise<Scan> {
  const kept: Buffer[] | undefined = holdLines ? [] : undefined;
  for await (const line of filtered(await objects.read(object), filter)) kept?.push(line);
  return { filter, kept };
}

/** The object's lines, as they arrive, without the tenant's. */
async function* filtered(content: Readable, filter: TenantLineFilter): AsyncGenerator<Buffer> {
  for await (const chunk of content) yield* filter.push(chunk as Buffer);
  yield* filter.end();
}

type Lines = Iterable<Buffer> | AsyncIterable<Buffer>;

/** Sent in chunks of about this size: a write per line would make a rewrite crawl. */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;

async function* inChunks(lines: Lines): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for await (const line of lines) {
    pending.push(line);
    size += line.length;
    if (size < UPLOAD_CHUNK_BYTES) continue;
    yield Buffer.concat(pending);
    pending = [];
    size = 0;
  }
  if (pending.length > 0) yield Buffer.concat(pending);
}

const CHANGED = Symbol("changed");

/** The action's result, or CHANGED when a generation precondition failed (412) or the object is gone (404). */
async function ifUnchanged<T>(action: () => Promise<T>): Promise<T | typeof CHANGED> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof GoogleApiError && (error.status === 412 || error.status === 404)) return CHANGED;
    throw error;
  }
}

interface ObjectApi {
  /** The object's current metadata, or undefined when it no longer exists. */
  metadata(name: string): Promise<StoredObject | undefined>;
  /** The object's content at exactly this generation (412 otherwise). */
  read(object: StoredObject): Promise<Readable>;
  /** Writes the object's new content, of this length, if it still has this generation (412 otherwise); its new generation. */
  replace(object: StoredObject, lines: Lines, length: number, customTime: string): Promise<string>;
  /** Deletes the object if it still has this generation (412 otherwise). */
  delete(object: StoredObject): Promise<void>;
}

/** The Cloud Storage JSON API calls of an erasure, for one bucket. */
function objectApi(api: GoogleApi, bucket: string): ObjectApi {
  const objectPath = (name: string) => `/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`;
  const precondition = (object: StoredObject) => `ifGenerationMatch=${encodeURIComponent(object.generation)}`;
  return {
    async metadata(name) {
      try {
        return await api.json<StoredObject>("GET", `${objectPath(name)}?fields=${OBJECT_FIELDS}`);
      } catch (error) {
        if (error instanceof GoogleApiError && error.status === 404) return undefined;
        throw error;
      }
    },
    read(object) {
      return api.stream(`${objectPath(object.name)}?alt=media&${precondition(object)}`);
    },
    async replace(object, lines, length, customTime) {
      // A multipart upload sets the content and the metadata in one request, so the new generation
      // carries its customTime from its first moment.
      const contentType = object.contentType ?? "application/json";
      const metadata = { name: object.name, contentType, customTime, ...(object.storageClass ? { storageClass: object.storageClass } : {}) };
      const body = multipartBody(metadata, lines, length, contentType);
      const query = `uploadType=multipart&${precondition(object)}`;
      const written = await api.upload<{ generation: string }>(`/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?${query}`, body.content, body.type, body.length);
      return written.generation;
    },
    async delete(object) {
      await api.json("DELETE", `${objectPath(object.name)}?${precondition(object)}`);
    },
  };
}

const OBJECT_FIELDS = "name,size,generation,contentType,storageClass";

async function listObjects(api: GoogleApi, bucket: string, prefix: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  let pageToken: string | undefined;
  do {
    const query = new URLSearchParams({ prefix, fields: `items(${OBJECT_FIELDS}),nextPageToken`, ...(pageToken ? { pageToken } : {}) });
    const page = await api.json<{ items?: StoredObject[]; nextPageToken?: string }>("GET", `/storage/v1/b/${encodeURIComponent(bucket)}/o?${query}`);
    objects.push(...(page.items ?? []));
    pageToken = page.nextPageToken;
  } while (pageToken);
  // Name order is time order in the sink's layout: a stopped run has done the oldest hours.
  return objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Cloud Storage's multipart upload: the metadata as JSON, then the content, streamed. The boundary
 * is random (122 bits), so no archived line, whoever sent the request, can hold it.
 */
function multipartBody(metadata: object, lines: Lines, contentLength: number, contentType: string): { content: Readable; type: string; length: number } {
  const boundary = `erase-${randomUUID()}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(metadata)}\r\n--${boundary}\r\nContent-Type: ${contentType}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    yield* inChunks(lines);
    yield tail;
  }
  return { content: Readable.from(parts()), type: `multipart/related; boundary=${boundary}`, length: head.length + contentLength + tail.length };
}

/**
 * The outcomes a stopped run recorded, by object. A state written by an erasure with other
 * parameters is refused rather than mixed in: the user finishes that erasure or deletes the file.
 * A torn last line (the run stopped while writing it) is ignored: that object is simply done again.
 */
async function openState(statePath: string, parameters: ErasureParameters): Promise<Map<string, ObjectOutcome>> {
  const header = JSON.stringify({ erasure: parameters });
  const text = await readFile(statePath, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  const outcomes = new Map<string, ObjectOutcome>();
  // No state, or one that a run stopped before its first line was whole: a fresh start.
  if (text === undefined || !text.includes("\n")) {
    await mkdir(path.dirname(statePath), { recursive: true });
    await writeFile(statePath, `${header}\n`);
    return outcomes;
  }
  const [first, ...lines] = text.split("\n");
  if (first !== header) {
    throw new Error(
      `${statePath} holds a stopped erasure with other parameters (${first}); finish it by running it again with those, or delete the file to start this one.`,
    );
  }
  // Ends a torn last line, so that the next outcome appended starts a line of its own.
  if (!text.endsWith("\n")) await appendFile(statePath, "\n");
  for (const line of lines) {
    try {
      const outcome = JSON.parse(line) as ObjectOutcome;
      outcomes.set(outcome.object, outcome);
    } catch {
      // the torn last line, or the empty text after the last newline
    }
  }
  return outcomes;
}

import { EventEmitter } from "node:events";
import { writeSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import * as path from "node:path";

/**
 * The spool is the local Cloud Logging: an append-only directory of newline-delimited JSON log
 * entries. A request is answered only once its entry is synced here, so the spool, not DuckDB,
 * is what makes an answered request durable. Each server run appends to a new segment, so a line
 * torn by a crash stays at the end of a segment that nothing appends to again.
 */
export interface SpoolPosition {
  readonly segment: number;
  /** Byte offset within the segment. */
  readonly offset: number;
}

/** Before the first segment: loading from here reads everything. */
export const SPOOL_START: SpoolPosition = { segment: 0, offset: 0 };

export function comparePositions(a: SpoolPosition, b: SpoolPosition): number {
  return a.segment - b.segment || a.offset - b.offset;
}

const SEGMENT_FILE = /^(\d{8})\.ndjson$/;

export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(8, "0")}.ndjson`;
}

async function listSegments(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  return names
    .map((name) => SEGMENT_FILE.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
}

interface PendingLine {
  readonly bytes: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface SpoolStats {
  /** Lines synced since the server started. */
  entries: number;
  /** fsync calls since the server started; with group commit far fewer than entries under load. */
  fsyncs: number;
}

/**
 * The longest line the spool takes, its newline included: the writer refuses longer ones and the
 * reader reads in chunks of this size, so every line written can be read back.
 */
export const MAX_LINE_BYTES = 1 << 20;

/** A segment is finished, and the next one started, once it holds this much. */
export const SEGMENT_BYTES = 8 << 20;

/**
 * With batch ingest, a segment that holds lines is also finished this long after its first line,
 * however small: the local stand-in for the archive sink's hourly files, short enough that a row
 * appears within about a minute of its request (SpoolOptions segmentAgeMs).
 */
export const DEFAULT_SEGMENT_AGE_MS = 60_000;

/** Loaded segments kept beyond this total are deleted, oldest first: the spool's bound on disk. */
export const KEEP_LOADED_BYTES = 256 << 20;

/** What a line takes in the spool, its newline included. */
export function spoolLineBytes(line: string): number {
  return Buffer.byteLength(line, "utf8") + 1;
}

export class LineTooLongError extends Error {
  constructor(bytes: number) {
    super(`a spool line of ${bytes} bytes is over the ${MAX_LINE_BYTES}-byte bound`);
    this.name = "LineTooLongError";
  }
}

export interface SpoolOptions {
  /** The size at which a segment is finished; SEGMENT_BYTES unless a test wants small ones. */
  readonly segmentBytes?: number;
  /**
   * A segment that holds lines is also finished this long after its first line was synced, however
   * small it is: with batch ingest a segment is loaded once it is finished, so this bounds how long
   * an answered request waits for its row. Without it a segment is finished by size alone.
   */
  readonly segmentAgeMs?: number;
}

/** Emits "durable" with the new durable end after each synced group. */
export class SpoolWriter extends EventEmitter {
  readonly stats: SpoolStats = { entries: 0, fsyncs: 0 };
  private queue: PendingLine[] = [];
  private flushing: Promise<void> | undefined;
  /** A write or sync failed, so the file may hold bytes past `offset` that were never acknowledged. */
  private tailUnknown = false;
  private closed = false;
  private offset = 0;
  /** Runs from the first synced line of a segment until segmentAgeMs, when the segment is finished. */
  private ageClock: NodeJS.Timeout | undefined;
  /** The age clock ran out: the flush finishes the segment, after any lines queued before. */
  private finishDue = false;

  private constructor(
    private readonly dir: string,
    private file: FileHandle,
    private segment: number,
    private readonly segmentBytes: number,
    private readonly segmentAgeMs: number | undefined,
  ) {
    super();
  }

  /** Starts a new segment after the existing ones. */
  static async open(dir: string, options: SpoolOptions = {}): Promise<SpoolWriter> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const segment = ((await listSegments(dir)).at(-1) ?? 0) + 1;
    return new SpoolWriter(dir, await createSegment(dir, segment), segment, options.segmentBytes ?? SEGMENT_BYTES, options.segmentAgeMs);
  }

  /** Everything before this position is on disk. */
  get durableEnd(): SpoolPosition {
    return { segment: this.segment, offset: this.offset };
  }

  /**
   * The end of the finished segments, which nothing is appended to again: the start of the one
   * lines go to, or, once the spool is closed, past its last one.
   */
  get finishedEnd(): SpoolPosition {
    return { segment: this.closed ? this.segment + 1 : this.segment, offset: 0 };
  }

  /** Resolves once the line is synced to disk. `line` is one JSON document, which never contains a newline. */
  append(line: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the spool is closed"));
    const bytes = Buffer.from(`${line}\n`, "utf8");
    if (bytes.length > MAX_LINE_BYTES) return Promise.reject(new LineTooLongError(bytes.length));
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, resolve, reject });
      // From a microtask, not from here: a write that fails at once (a full disk) would end the
      // flush before it is recorded as running, and the lines after it would wait forever.
      this.flushing ??= Promise.resolve().then(() => this.flush());
    });
  }

  /** Waits for every appended line to be synced, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.ageClock);
    await this.flushing;
    await this.file.close();
  }

  /**
   * Group commit: lines appended while one write and fsync run wait and go to disk together in
   * the next one, so concurrent requests share an fsync instead of queueing for one each.
   * A failed write or sync (a full disk, say) fails its group, whose requests are answered 503;
   * the next group first cuts the file back to its durable end, so the spool recovers by itself
   * once the disk has room, and never holds a line whose request was not answered.
   */
  private async flush(): Promise<void> {
    while (this.queue.length > 0 || this.finishDue) {
      if (this.queue.length === 0) {
        this.finishDue = false;
        if (await this.startNextSegment()) this.emit("durable", this.durableEnd);
        continue;
      }
      const group = this.queue.splice(0);
      const bytes = Buffer.concat(group.map((line) => line.bytes));
      try {
        if (this.tailUnknown) {
          await this.file.truncate(this.offset);
          await this.file.datasync();
          this.tailUnknown = false;
        }
        writeFully(this.file, bytes);
        await this.file.datasync();
      } catch (error) {
        this.tailUnknown = true;
        for (const line of group) line.reject(error);
        continue;
      }
      this.offset += bytes.length;
      this.stats.entries += group.length;
      this.stats.fsyncs += 1;
      for (const line of group) line.resolve();
      if (this.offset >= this.segmentBytes) await this.startNextSegment();
      else this.startAgeClock();
      this.emit("durable", this.durableEnd);
    }
    this.flushing = undefined;
  }

  /** From the segment's first synced line: when it runs out, the flush finishes the segment. */
  private startAgeClock(): void {
    if (this.segmentAgeMs === undefined || this.ageClock || this.closed) return;
    this.ageClock = setTimeout(() => {
      this.ageClock = undefined;
      this.finishDue = true;
      this.flushing ??= Promise.resolve().then(() => this.flush());
    }, this.segmentAgeMs);
    // A finished segment matters only to a loader, which keeps the process running itself.
    this.ageClock.unref();
  }

  /**
   * Finishes a segment that holds lines and starts the next; if the next cannot be created yet,
   * this one takes more lines meanwhile, and the next line tries again. Resolves with whether it did.
   */
  private async startNextSegment(): Promise<boolean> {
    if (this.closed || this.offset === 0) return false;
    const next = await createSegment(this.dir, this.segment + 1).catch(() => undefined);
    if (!next) return false;
    clearTimeout(this.ageClock);
    this.ageClock = undefined;
    await this.file.close().catch(() => undefined);
    this.file = next;
    this.segment += 1;
    this.offset = 0;
    return true;
  }
}

/** A new segment file, 0600, whose directory entry is synced too, or its synced lines could be lost with it in a crash. */
async function createSegment(dir: string, segment: number): Promise<FileHandle> {
  // Entries hold full client IPs, as Cloud Logging does: only rows are anonymised.
  const file = await open(path.join(dir, segmentFileName(segment)), "ax", 0o600);
  try {
    await syncDirectory(dir);
    return file;
  } catch (error) {
    await file.close();
    throw error;
  }
}

/**
 * Appends a group with write(2) on the event loop, and only its fdatasync goes to libuv's thread
 * pool: copying a group into the page cache takes about 20 µs, while the pool's round trip for it
 * measured 340 to 410 µs on a busy machine, during which the whole group waited (bench/notes.md).
 */
function writeFully(file: FileHandle, bytes: Buffer): void {
  for (let written = 0; written < bytes.length; ) {
    written += writeSync(file.fd, bytes, written);
  }
}

/**
 * Deletes the oldest segments that are fully loaded (before the checkpoint's segment) beyond
 * `keepBytes` of them. Resolves with the names deleted.
 */
export async function pruneSpool(dir: string, checkpoint: SpoolPosition, keepBytes = KEEP_LOADED_BYTES): Promise<string[]> {
  const loaded = (await listSegments(dir)).filter((segment) => segment < checkpoint.segment).reverse();
  const deleted: string[] = [];
  let kept = 0;
  for (const segment of loaded) {
    const name = segmentFileName(segment);
    const { size } = await stat(path.join(dir, name));
    kept += size;
    if (kept <= keepBytes) continue;
    await rm(path.join(dir, name), { force: true });
    deleted.push(name);
  }
  return deleted;
}

/** The spool's bytes past the checkpoint: 0 once the loader has stored every line. */
export async function unloadedBytes(dir: string, checkpoint: SpoolPosition): Promise<number> {
  let bytes = 0;
  for (const segment of (await listSegments(dir)).filter((number) => number >= checkpoint.segment)) {
    const { size } = await stat(path.join(dir, segmentFileName(segment)));
    bytes += size - (segment === checkpoint.segment ? checkpoint.offset : 0);
  }
  return bytes;
}

/** What rewriting the loaded segments found: the segments read, those rewritten, the lines removed. */
export interface SpoolRewrite {
  readonly segments: number;
  readonly rewritten: number;
  readonly removed: number;
}

/**
 * Rewrites every loaded segment (before `loadedBefore`, the checkpoint's segment) without the
 * lines `drop` picks; `dryRun` only counts them. Each segment is written to a new file, synced and
 * renamed over the old one, so a crash leaves it whole, old or new. Lines are never moved between
 * segments, and nothing reads a loaded segment's offsets again: the database keeps its rows.
 */
export async function rewriteLoadedSegments(dir: string, loadedBefore: number, drop: (line: string) => boolean, dryRun: boolean): Promise<SpoolRewrite> {
  let segments = 0;
  let rewritten = 0;
  let removed = 0;
  for (const segment of (await listSegments(dir)).filter((number) => number < loadedBefore)) {
    segments++;
    const file = path.join(dir, segmentFileName(segment));
    const text = await readFile(file, "utf8");
    const lines = text.split("\n");
    // A finished segment ends with a newline, unless a crash tore its last line: that part is kept as it is.
    const tail = lines.pop() ?? "";
    const kept = lines.filter((line) => !drop(line));
    if (kept.length === lines.length) continue;
    removed += lines.length - kept.length;
    rewritten++;
    if (dryRun) continue;
    const temporary = `${file}.erasing`;
    const handle = await open(temporary, "w", 0o600);
    try {
      await handle.writeFile(kept.map((line) => `${line}\n`).join("") + tail);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
    await syncDirectory(dir);
  }
  return { segments, rewritten, removed };
}

/**
 * Deletes the loaded segments (before the checkpoint's segment) last written before `cutoffMs`:
 * every entry in them arrived before it. They hold full client IPs, and a replay of them would
 * bring back rows the retention removed. Resolves with the names deleted.
 */
export async function pruneSpoolBefore(dir: string, checkpoint: SpoolPosition, cutoffMs: number): Promise<string[]> {
  const deleted: string[] = [];
  for (const segment of await listSegments(dir)) {
    if (segment >= checkpoint.segment) break;
    const name = segmentFileName(segment);
    const { mtimeMs } = await stat(path.join(dir, name));
    if (mtimeMs >= cutoffMs) continue;
    await rm(path.join(dir, name), { force: true });
    deleted.push(name);
  }
  return deleted;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface SpoolLine {
  /** The line without its newline: one log entry as JSON. */
  readonly text: string;
  readonly start: SpoolPosition;
  readonly end: SpoolPosition;
}

export interface TornTail {
  readonly segment: number;
  readonly bytes: number;
}

export interface SpoolRead {
  readonly lines: SpoolLine[];
  /** Where the next read starts; past any torn tail that was skipped. */
  readonly end: SpoolPosition;
  readonly tornTails: TornTail[];
}

/** A chunk always holds a whole line: no line is longer (MAX_LINE_BYTES). */
const READ_CHUNK_BYTES = MAX_LINE_BYTES;

/** How much one read may return: its lines, and their bytes, newlines included. */
export interface ReadBound {
  readonly lines: number;
  /** The first line is read whatever its size (at most MAX_LINE_BYTES), so a read always moves on. */
  readonly bytes: number;
}

/**
 * Reads complete lines from `from`, within `bound`, never past `limit` (the writer's durable
 * end, which is always at a line boundary). Segments before the limit's segment are finished: if
 * one ends without a newline, a crash cut that line off before it was synced, so its request was
 * never answered, and it is skipped and reported.
 */
export async function readSpool(dir: string, from: SpoolPosition, limit: SpoolPosition, bound: ReadBound): Promise<SpoolRead> {
  const lines: SpoolLine[] = [];
  const tornTails: TornTail[] = [];
  let position = from;
  let bytes = 0;
  let full = false;
  while (!full && lines.length < bound.lines && comparePositions(position, limit) < 0) {
    const { segment, offset } = position;
    const finished = segment < limit.segment;
    const wanted = finished ? READ_CHUNK_BYTES : Math.min(READ_CHUNK_BYTES, limit.offset - offset);
    const chunk = await readChunk(path.join(dir, segmentFileName(segment)), offset, wanted);
    const lastNewline = chunk.lastIndexOf(0x0a);
    if (lastNewline < 0) {
      // Only the end of a finished segment can be torn: the durable end is always a line end.
      if (!finished || chunk.length === wanted) {
        throw new Error(`spool segment ${segmentFileName(segment)} has no line end in ${chunk.length} bytes from offset ${offset}: the file is damaged`);
      }
      if (chunk.length > 0) tornTails.push({ segment, bytes: chunk.length });
      position = { segment: await nextSegment(dir, segment, limit.segment), offset: 0 };
      continue;
    }
    let start = 0;
    while (start <= lastNewline && lines.length < bound.lines) {
      const newline = chunk.indexOf(0x0a, start);
      const lineBytes = newline + 1 - start;
      full = lines.length > 0 && bytes + lineBytes > bound.bytes;
      if (full) break;
      bytes += lineBytes;
      lines.push({
        text: chunk.toString("utf8", start, newline),
        start: { segment, offset: offset + start },
        end: { segment, offset: offset + newline + 1 },
      });
      start = newline + 1;
    }
    position = { segment, offset: offset + start };
  }
  return { lines, end: position, tornTails };
}

/** Up to `length` bytes from `offset`; empty past the end or when the segment does not exist. */
async function readChunk(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (!handle) return Buffer.alloc(0);
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export interface FinishedSegment {
  readonly segment: number;
  readonly bytes: number;
  /** Its bytes up to the end of its last line: past it, a line a crash cut off before it was synced, whose request was never answered. */
  readonly completeBytes: number;
}

/**
 * The segments from the position's on, before `before` (finished: nothing is appended to them
 * again), that hold lines past the position: the one it is inside of only if it goes on past it.
 */
export async function finishedSegments(dir: string, from: SpoolPosition, before: number): Promise<FinishedSegment[]> {
  const finished: FinishedSegment[] = [];
  for (const segment of await listSegments(dir)) {
    if (segment < from.segment || segment >= before) continue;
    const file = path.join(dir, segmentFileName(segment));
    const { size } = await stat(file);
    if (segment === from.segment && size <= from.offset) continue;
    const tail = await readChunk(file, Math.max(0, size - READ_CHUNK_BYTES), Math.min(size, READ_CHUNK_BYTES));
    finished.push({ segment, bytes: size, completeBytes: size - tail.length + tail.lastIndexOf(0x0a) + 1 });
  }
  return finished;
}

/** The next segment that exists before the active one; segments may have been deleted by hand. */
async function nextSegment(dir: string, after: number, activeSegment: number): Promise<number> {
  return (await listSegments(dir)).find((segment) => segment > after && segment < activeSegment) ?? activeSegment;
}

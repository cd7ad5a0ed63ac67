import { Buffer } from "node:buffer";
import { REFUSALS_NOT_LOGGED } from "./delivery";
import type { LogLine } from "./delivery";
import type { RefusalReason } from "./refusals";

/**
 * The largest archive object the batch loader reads, by default: 2 GiB, about two million log
 * entries of ~1 KB. The loader reads an object once to count its tables and once more per group of
 * tables it uploads, each read at the core's pace (about half a minute per million entries on one
 * core, bench/notes.md), so a larger object could not be loaded within the loader's timeout and
 * would be retried until it is dead anyway. The sink shards an hour's entries over several files,
 * so only a pixel far busier than docs/costs.md's busy one comes near it.
 */
export const DEFAULT_MAX_OBJECT_BYTES = 2 * 1024 ** 3;

/**
 * How many refusals of one object are logged one by one; past it they are only counted, and one
 * REFUSALS_NOT_LOGGED line gives the counts. A file of garbage then costs a hundred log lines,
 * not a million, and the first hundred are enough to see what is wrong.
 */
export const REFUSAL_LINES_PER_OBJECT = 100;

/**
 * The longest line read as a log entry. Cloud Logging refuses entries over 256 KiB, so a longer
 * line is not an entry it wrote: it is refused (invalid_message) without being held in memory.
 */
export const MAX_ENTRY_LINE_BYTES = 1024 * 1024;

/** Counts an object's refusals by reason, and says which of them to log one by one. */
export class RefusalTally {
  private readonly byReason: Record<string, number> = {};
  private total = 0;

  constructor(private readonly lineBound = REFUSAL_LINES_PER_OBJECT) {}

  /** Counts one refusal; true while it is still among the first `lineBound`, so it gets its own line. */
  count(reason: RefusalReason): boolean {
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    this.total++;
    return this.total <= this.lineBound;
  }

  get counts(): Readonly<Record<string, number>> {
    return { ...this.byReason };
  }

  /** Refusals counted but not logged one by one. */
  get notLogged(): number {
    return Math.max(0, this.total - this.lineBound);
  }

  /** The one line for the refusals past the bound, or undefined when every refusal had its own. */
  summaryLine(object: string): LogLine | undefined {
    if (this.notLogged === 0) return undefined;
    return {
      severity: "WARNING",
      message: `${this.total} entries of ${object} were refused; past the first ${this.lineBound}, ${this.notLogged} were counted, not logged`,
      reason: REFUSALS_NOT_LOGGED,
      detail: Object.entries(this.byReason)
        .map(([reason, count]) => `${reason}: ${count}`)
        .join(", "),
      object,
      refused: this.counts,
    };
  }
}

/** `items` in groups of at most `size`, in order. */
export function groupsOf<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a group holds at least one item, got ${size}`);
  const groups: T[][] = [];
  for (let start = 0; start < items.length; start += size) groups.push(items.slice(start, start + size));
  return groups;
}

/** A line over the bound: only its length is kept. */
export interface OverlongLine {
  readonly overlongBytes: number;
}

/**
 * The lines of newline-delimited text as UTF-8 strings (a trailing "\r" dropped, as readline
 * does), holding at most `maxLineBytes` of any one line: a longer line is yielded as its length
 * only, and its bytes are skipped as they arrive. Memory stays bounded by the bound and one chunk,
 * whatever the input, which readline (it holds a whole line, however long) cannot promise.
 */
export async function* boundedLines(chunks: AsyncIterable<Buffer | string>, maxLineBytes = MAX_ENTRY_LINE_BYTES): AsyncGenerator<string | OverlongLine> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  /** The length of the overlong line being skipped, or -1 while the current line is within the bound. */
  let skipped = -1;
  const take = (piece: Buffer): void => {
    if (skipped >= 0) {
      skipped += piece.length;
    } else if (heldBytes + piece.length > maxLineBytes) {
      skipped = heldBytes + piece.length;
      held = [];
      heldBytes = 0;
    } else if (piece.length > 0) {
      held.push(piece);
      heldBytes += piece.length;
    }
  };
  const end = (): string | OverlongLine => {
    const line = skipped >= 0 ? { overlongBytes: skipped } : text(held.length === 1 ? held[0] : Buffer.concat(held, heldBytes));
    held = [];
    heldBytes = 0;
    skipped = -1;
    return line;
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let newline = bytes.indexOf(10, start); newline !== -1; newline = bytes.indexOf(10, start)) {
      take(bytes.subarray(start, newline));
      yield end();
      start = newline + 1;
    }
    // A copy: the stream may reuse its chunk's memory once it is handed on.
    if (start < bytes.length) take(Buffer.from(bytes.subarray(start)));
  }
  if (heldBytes > 0 || skipped >= 0) yield end();
}

function text(line: Buffer): string {
  const end = line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
  return line.toString("utf8", 0, end);
}

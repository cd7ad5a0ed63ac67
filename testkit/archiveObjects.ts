import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import type { ArchiveObject } from "../functions/archiveLoader";
import { ARCHIVE_DIR } from "./archiveSample";

/** The archive bucket of the tests' objects. */
export const TEST_ARCHIVE_BUCKET = "pixel-archive-test";

/** An archive object held in memory, read in small chunks (so lines cross chunk boundaries), counting its reads. */
export interface TestArchiveObject extends ArchiveObject {
  /** How many times it was opened. */
  readonly opens: number;
}

export function archiveObject(name: string, content: string | Buffer, options: { readonly generation?: string; readonly bucket?: string; readonly chunkBytes?: number } = {}): TestArchiveObject {
  const bytes = Buffer.from(content);
  const chunkBytes = options.chunkBytes ?? 997;
  let opens = 0;
  return {
    bucket: options.bucket ?? TEST_ARCHIVE_BUCKET,
    name,
    generation: options.generation ?? "1",
    size: bytes.length,
    get opens() {
      return opens;
    },
    async open() {
      opens++;
      return Readable.from(
        (function* () {
          for (let start = 0; start < bytes.length; start += chunkBytes) yield bytes.subarray(start, start + chunkBytes);
        })(),
      );
    },
  };
}

/** One of the sample archive's files (testkit/archive) as its object. */
export function sampleArchiveObject(name: string): TestArchiveObject {
  return archiveObject(name, readFileSync(path.join(ARCHIVE_DIR, name)));
}

/** Newline-delimited JSON, as the sink writes entries. */
export function ndjson(entries: readonly unknown[]): string {
  return entries.map((entry) => `${JSON.stringify(entry)}\n`).join("");
}

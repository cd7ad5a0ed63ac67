import { createReadStream } from "node:fs";
import * as path from "node:path";
import type { CoreSettings } from "../core/config/coreSettings";
import { consecutiveDays } from "../core/rollups";
import type { Logger } from "../core/delivery";
import { loadArchiveObject, LOCAL_SPOOL_BUCKET, LoadJobFailedError, PoisonObjectError } from "../functions/archiveLoader";
import type { ArchiveObject } from "../functions/archiveLoader";
import type { LocalDatabase } from "./database";
import { duckDbLoadJobs } from "./duckdbLoads";
import { segmentFileName } from "./spool";
import type { FinishedSegment } from "./spool";

export interface SegmentLoadOptions {
  readonly spoolDir: string;
  readonly database: LocalDatabase;
  readonly settings: CoreSettings;
  /** One line per refused entry, sampled past the loader's bound per object, as the cloud's batch loader logs them. */
  readonly log: Logger;
  readonly warn: (message: string) => void;
}

/**
 * A finished segment as the archive object the batch loader reads: its complete lines only. The
 * bucket LOCAL_SPOOL_BUCKET and the segment's file name make its load job ids (core/batchLoad.ts
 * loadJobId), so a segment loads once however often it is offered.
 */
export function segmentObject(spoolDir: string, { segment, completeBytes }: FinishedSegment): ArchiveObject {
  const file = path.join(spoolDir, segmentFileName(segment));
  return { bucket: LOCAL_SPOOL_BUCKET, name: segmentFileName(segment), size: completeBytes, open: async () => createReadStream(file, { start: 0, end: completeBytes - 1 }) };
}

/**
 * Batch ingest, locally: a finished segment goes whole through the cloud's batch loader
 * (functions/archiveLoader.ts) into DuckDB load jobs, one per table, as an hourly file of the
 * archive sink does into BigQuery; then the rollups of the days of its rows are recomputed, as
 * `npm run rollup -- --local` does, and the checkpoint moves to the segment's end. A crash before
 * that loads nothing twice: the segment's jobs are done, the next try finds them so, and
 * recomputes the rollups of its days again. A
 * segment whose jobs fail, or that cannot be read, is reported and passed over, so that it cannot
 * hold back every segment after it; it stays in the spool until pruned, for a replay. Resolves
 * with the log entries read.
 */
export async function loadSegment(segment: FinishedSegment, { spoolDir, database, settings, log, warn }: SegmentLoadOptions): Promise<number> {
  const name = segmentFileName(segment.segment);
  if (segment.completeBytes < segment.bytes) {
    warn(`spool ${name} ends with ${segment.bytes - segment.completeBytes} bytes of a line cut off by a crash before it was synced; its request was never answered, so it is skipped`);
  }
  let entries = 0;
  if (segment.completeBytes > 0) {
    try {
      const report = await loadArchiveObject(segmentObject(spoolDir, segment), { settings, jobs: duckDbLoadJobs(database, settings.templateTable), log });
      for (const days of consecutiveDays(report.days)) await database.rollup(days);
      entries = report.entries;
    } catch (error) {
      if (!(error instanceof LoadJobFailedError || error instanceof PoisonObjectError)) throw error;
      warn(`spool ${name} cannot be loaded, and loading goes on after it: ${error.message}`);
    }
  }
  await database.commit({ events: [], refusals: [] }, { segment: segment.segment, offset: segment.bytes });
  return entries;
}

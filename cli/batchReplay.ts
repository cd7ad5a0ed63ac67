import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { loadJobId } from "../core/batchLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import { PARTITIONED_TABLE } from "../core/layout";
import { loadArchiveObject, LOCAL_SPOOL_BUCKET } from "../functions/archiveLoader";
import type { ArchiveObject, LoadJobs } from "../functions/archiveLoader";
import type { ArchiveFile } from "./archiveSource";
import { parseGcsUrl } from "./archiveSource";
import type { ReplayProgress } from "./progress";
import { UsageError } from "./runner";

/**
 * Replay for a stack with `ingest: batch`: each archive file goes through the deployed batch loader's
 * own engine (functions/archiveLoader.ts) as the object it is in the archive bucket, so its load
 * jobs have the ids the deployed loader gives them, and a file that is loaded already, by the
 * loader or by an earlier replay, loads nothing again. A rebuild loads under new ids instead,
 * replacing the days it names.
 */

/** The spool's segment files: the local pipeline's batch ingest loads them as LOCAL_SPOOL_BUCKET objects. */
const SPOOL_SEGMENT = /^\d{8}\.ndjson$/;

/** Where the archive sink's objects start in a bucket, and so in a local copy of one. */
const SINK_FOLDER = "requests";

/**
 * The archive object a listed file is: a gs:// object as it is named, so the job ids are exactly
 * the deployed loader's. A local copy is named from its `requests/` folder on, in `archiveBucket`
 * (the stack's archiveBucket output), which it needs for the same ids; a local spool segment is
 * the LOCAL_SPOOL_BUCKET object the local pipeline's batch ingest loads it as.
 */
export function archiveObject(file: ArchiveFile, archiveBucket: string | undefined): ArchiveObject {
  const gcs = parseGcsUrl(file.name);
  if (gcs) return { bucket: gcs.bucket, name: gcs.prefix, size: file.size, open: file.open };
  const parts = path.resolve(file.name).split(path.sep);
  const sinkFolder = parts.lastIndexOf(SINK_FOLDER);
  if (sinkFolder >= 0 && sinkFolder < parts.length - 1) {
    if (archiveBucket === undefined) {
      throw new UsageError(
        `${file.name} is a local copy of the archive: pass --archive-bucket with the bucket it was copied from (pulumi stack output archiveBucket), so its load jobs get the ids the deployed loader gives them and nothing is loaded twice`,
      );
    }
    return { bucket: archiveBucket, name: parts.slice(sinkFolder).join("/"), size: file.size, open: file.open };
  }
  if (SPOOL_SEGMENT.test(path.basename(file.name))) return { bucket: LOCAL_SPOOL_BUCKET, name: path.basename(file.name), size: file.size, open: file.open };
  throw new UsageError(
    `${file.name} is neither under a ${SINK_FOLDER}/ folder, as the archive sink names its files, nor a spool segment: a batch stack's loads are named by the archive object, so copy the archive with its folders (gcloud storage cp -r gs://BUCKET/${SINK_FOLDER}/...)`,
  );
}

/** The bucket name of --archive-bucket, given as `gs://bucket` (the stack output) or as the name. */
export function archiveBucketName(text: string): string {
  const gcs = parseGcsUrl(text.includes("://") ? text : `gs://${text}`);
  if (!gcs || gcs.prefix.replace(/\/$/, "") !== "") throw new UsageError(`--archive-bucket takes a bucket, gs://BUCKET or BUCKET, got ${JSON.stringify(text)}`);
  return gcs.bucket;
}

/** A new token for a rebuild's job ids: each rebuild loads under ids of its own. */
export function newRebuildToken(now = new Date()): string {
  return `${now.toISOString().replace(/[-:.]/g, "")}_${randomBytes(4).toString("hex")}`;
}

export interface Rebuild {
  readonly token: string;
  /** The UTC days (YYYY-MM-DD) whose rows are replaced. */
  readonly days: readonly string[];
  /** The tables holding rows of the day now: a day table whose tenant the files no longer have rows of is emptied too. */
  readonly tablesOfDay: (day: string) => Promise<readonly string[]>;
}

export interface LoaderReplayOptions {
  readonly objects: readonly ArchiveObject[];
  readonly settings: CoreSettings;
  readonly jobs: LoadJobs;
  readonly rebuild?: Rebuild;
  readonly progress?: ReplayProgress;
}

export interface LoaderReplaySummary {
  files: number;
  entries: number;
  readonly refused: Map<string, number>;
  /** Rows by table: loaded now, or loaded before under the same job id. */
  readonly loaded: Map<string, number>;
  readonly alreadyLoaded: Map<string, number>;
  /** Tables a rebuild emptied because no file has rows for them any more. */
  readonly emptied: string[];
  /** The days of the rows loaded or found loaded: the days whose rollups to bring up to date. */
  readonly days: Set<string>;
}

/**
 * Loads each object through the batch loader's engine, as the deployed loader does. A rebuild runs
 * a day at a time, each object read for that day's rows only: the first job into each of the day's
 * tables replaces it (the day table, or the day's partition of events_partitioned), the later ones
 * append, all under the rebuild's token; then every table of the day no object had rows for is
 * replaced by nothing. A rebuild that stops part-way leaves its days part-loaded: run it again,
 * under a new token, and it replaces them again.
 */
export async function replayThroughLoader(options: LoaderReplayOptions): Promise<LoaderReplaySummary> {
  const { objects, settings, jobs, rebuild, progress } = options;
  const summary: LoaderReplaySummary = { files: 0, entries: 0, refused: new Map(), loaded: new Map(), alreadyLoaded: new Map(), emptied: [], days: new Set() };
  // The engine logs each refused entry for Cloud Logging; here they are counted by reason in the summary instead.
  const log = () => undefined;
  const passes = rebuild ? rebuild.days.map((day) => ({ day })) : [{ day: undefined }];
  const totalBytes = objects.reduce((total, object) => total + object.size, 0) * passes.length;
  let bytesDone = 0;
  progress?.start(totalBytes);
  try {
    for (const { day } of passes) {
      const replacing = day === undefined ? undefined : replacingFirstJobs(jobs, day);
      for (const object of objects) {
        const report = await loadArchiveObject(object, {
          settings,
          jobs: replacing?.jobs ?? jobs,
          log,
          ...(rebuild && day !== undefined ? { rebuildToken: rebuild.token, onlyDays: new Set([day]) } : {}),
        });
        // A rebuild reads every object once per day: its entries and refusals count once.
        if (day === undefined || day === rebuild?.days[0]) {
          summary.files++;
          summary.entries += report.entries;
          for (const [reason, count] of Object.entries(report.refused)) increment(summary.refused, reason, count);
        }
        for (const table of report.tables) increment(table.status === "loaded" ? summary.loaded : summary.alreadyLoaded, table.table, table.rows);
        for (const reportDay of report.days) summary.days.add(reportDay);
        bytesDone += object.size;
        progress?.update(bytesDone, summary.entries);
      }
      if (rebuild && replacing && day !== undefined) {
        for (const table of await rebuild.tablesOfDay(day)) {
          const target = replacing.target(table);
          if (replacing.replaced.has(target)) continue;
          await emptyTable(jobs, loadJobId(REBUILD_BUCKET, day, target, rebuild.token), target);
          summary.emptied.push(target);
        }
        summary.days.add(day);
      }
    }
  } finally {
    progress?.stop();
  }
  return summary;
}

/** The bucket part of the ids of the jobs that empty a rebuilt day's tables: no archive object is in it. */
const REBUILD_BUCKET = "rebuild";

async function* noRows(): AsyncIterable<string> {}

async function emptyTable(jobs: LoadJobs, id: string, table: string): Promise<void> {
  const state = await jobs.insert({ id, table, rows: noRows(), replace: true });
  const done = state.done ? state : await jobs.wait(id);
  if (done.errors.length > 0) throw new Error(`emptying ${table} for the rebuild failed: ${done.errors.map((error) => error.message).join("; ")}`);
}

/**
 * The jobs of one rebuilt day: the first into each of its tables replaces the table (the
 * partitioned table's rows go to the day's partition, `events_partitioned$YYYYMMDD`), the others
 * append. `replaced` holds the tables replaced so far.
 */
function replacingFirstJobs(jobs: LoadJobs, day: string) {
  const replaced = new Set<string>();
  const target = (table: string) => (table === PARTITIONED_TABLE ? `${PARTITIONED_TABLE}$${day.replace(/-/g, "")}` : table);
  const replacing: LoadJobs = {
    ...jobs,
    insert: (job) => {
      const table = target(job.table);
      const replace = !replaced.has(table);
      replaced.add(table);
      return jobs.insert({ ...job, table, replace });
    },
  };
  return { jobs: replacing, replaced, target };
}

function increment(counts: Map<string, number>, key: string, by: number): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

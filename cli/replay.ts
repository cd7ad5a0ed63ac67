// npm run replay -- --stack <name> [--dry-run | --local] [--rebuild DAY] <archive file | directory | gs://bucket/prefix> ...
// Runs archived load balancer log entries through the function's core again and writes the rows to
// the stack's BigQuery dataset, or to the local DuckDB file: streamed as the collector does, or, for
// a stack with ingest batch, loaded by the batch loader's engine under its job ids.
// docs/operations.md explains when.
import { createInterface } from "node:readline";
import { BigQuery } from "@google-cloud/bigquery";
import type { CoreSettings } from "../core/config/coreSettings";
import { parseEntryLine } from "../core/event";
import type { AcceptedEvent } from "../core/event";
import { VISITOR_KEY_VARIABLE } from "../core/functionContract";
import { insertTableName, parseTableSuffix, storedTableName } from "../core/layout";
import { isUtcDay } from "../core/views";
import type { DataPaths } from "../local/paths";
import { withLocalVisitorKey } from "../local/visitorKey";
import { ARCHIVE_FILE_EXTENSIONS, ArchiveFile, listArchive, parseGcsUrl } from "./archiveSource";
import { archiveBucketName, archiveObject, newRebuildToken, replayThroughLoader } from "./batchReplay";
import type { LoaderReplaySummary } from "./batchReplay";
import { DATA_OPTIONS, DATA_USAGE, explainDatabaseInUse, pathsFrom } from "./dataOptions";
import { serviceApi } from "../functions/googleApi";
import { ReplayProgress, terminalProgress } from "./progress";
import { bigQueryLoaderTarget, bigQueryTarget, DEFAULT_BIGQUERY_TARGET_OPTIONS, localLoaderTarget, localTarget, RejectedRow, ReplayTarget } from "./replayTargets";
import type { LoaderTarget } from "./replayTargets";
import { rollupHint } from "./rollup";
import { defineCommand, EXIT, parseCommandLine, runCommand, UsageError } from "./runner";
import type { ParsedArgs } from "./runner";
import { readStack } from "./stackFile";
import type { LocalStack } from "./stackFile";
import { userPath } from "./userPath";

export const REPLAY_USAGE = `Usage: npm run replay -- --stack NAME [options] SOURCE...
Replays archived request logs through the function's core. SOURCE is a file the archive sink
wrote, a directory of them, or gs://BUCKET/PREFIX (e.g. gs://BUCKET/requests/2026/01/05/).
  --stack NAME         settings from Pulumi.NAME.yaml (required)
  --dry-run            write nothing; print the events per table and the refusals per reason
  --local              write to the local DuckDB file instead of BigQuery (stop npm start first)
  --project ID         BigQuery project (default gcp:project of the stack)
  --dataset ID         BigQuery dataset (default the stack's datasetId, else pixel_NAME)
  --concurrency N      insertAll calls in flight, 1 to 100 (default ${DEFAULT_BIGQUERY_TARGET_OPTIONS.concurrency})
For a stack with ingest batch, each file is loaded by the batch loader with the job ids the
deployed loader gives it (bucket, object name, table), so a file loaded already loads nothing:
  --archive-bucket B   the bucket a local copy was copied from (pulumi stack output archiveBucket);
                       a copy keeps the sink's folders, requests/YYYY/MM/DD/..., which name it
  --rebuild DAY        replace the rows of the UTC day DAY (YYYY-MM-DD; repeat for more days):
                       its day tables, or its partition, hold only the rows loaded now, under
                       new job ids. Pass the files of DAY and of the day after: an entry that
                       reaches Logging late may be filed with a later batch, in the next day's files
After loading, the rollups of the days loaded are recomputed.
With --local:
${DATA_USAGE}
  -h, --help           this help`;

export type ReplayMode = "dry-run" | "bigquery" | "local";

export interface ReplayCommand {
  readonly stack: string;
  readonly sources: readonly string[];
  readonly mode: ReplayMode;
  readonly project?: string;
  readonly dataset?: string;
  readonly concurrency: number;
  readonly paths: DataPaths;
  /** UTC days to rebuild (batch stacks); empty for a replay that loads each file once. */
  readonly rebuildDays: readonly string[];
  readonly archiveBucket?: string;
}

const REPLAY_ARGS = {
  options: {
    ...DATA_OPTIONS,
    stack: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    local: { type: "boolean", default: false },
    project: { type: "string" },
    dataset: { type: "string" },
    concurrency: { type: "string" },
    "archive-bucket": { type: "string" },
    rebuild: { type: "string", multiple: true },
  },
  allowPositionals: true,
} as const;

/** The parsed command line as options; throws UsageError for anything it cannot run. */
export function replayCommandFrom({ values, positionals }: ParsedArgs<typeof REPLAY_ARGS>): ReplayCommand {
  if (!values.stack) throw new UsageError("pass --stack with the stack whose settings and dataset to use");
  if (positionals.length === 0) throw new UsageError("name at least one archive file, directory or gs:// prefix");
  if (values["dry-run"] && values.local) throw new UsageError("--dry-run and --local exclude each other: a dry run writes nowhere");
  const mode: ReplayMode = values["dry-run"] ? "dry-run" : values.local ? "local" : "bigquery";
  if (mode !== "bigquery" && (values.project || values.dataset || values.concurrency)) {
    throw new UsageError("--project, --dataset and --concurrency are for writing to BigQuery, not with --dry-run or --local");
  }
  if (mode !== "local" && (values.db !== undefined || values["data-dir"] !== undefined)) {
    throw new UsageError("--data-dir and --db are for --local");
  }
  const rebuildDays = [...new Set(values.rebuild ?? [])].sort();
  for (const day of rebuildDays) {
    if (!isUtcDay(day)) throw new UsageError(`--rebuild takes a UTC day as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  }
  if (mode === "dry-run" && rebuildDays.length > 0) throw new UsageError("--rebuild replaces rows, and a dry run writes nothing: leave one of them out");
  const concurrency = values.concurrency === undefined ? DEFAULT_BIGQUERY_TARGET_OPTIONS.concurrency : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 100, got ${JSON.stringify(values.concurrency)}`);
  }
  return {
    stack: values.stack,
    sources: positionals,
    mode,
    ...(values.project ? { project: values.project } : {}),
    ...(values.dataset ? { dataset: values.dataset } : {}),
    concurrency,
    paths: pathsFrom(values),
    rebuildDays,
    ...(values["archive-bucket"] === undefined ? {} : { archiveBucket: archiveBucketName(values["archive-bucket"]) }),
  };
}

export function parseReplayArgs(argv: readonly string[]): ReplayCommand {
  return replayCommandFrom(parseCommandLine(REPLAY_ARGS, argv));
}

/** The BigQuery dataset to write to: flags first, then the stack file, then the program's defaults. */
export function replayDestination(command: ReplayCommand, stack: Pick<LocalStack, "config" | "project">): { project: string; dataset: string } {
  const project = command.project ?? stack.project;
  if (!project) throw new UsageError(`Pulumi.${command.stack}.yaml sets no gcp:project: pass --project`);
  return { project, dataset: command.dataset ?? stack.config.datasetId };
}

export interface ReplaySummary {
  files: number;
  entries: number;
  /** Events by day table, as the function would write them (an entry the archive holds twice counts twice). */
  readonly accepted: Map<string, number>;
  /** Entries that are not events, by refusal reason. */
  readonly refused: Map<string, number>;
  /** The UTC days (YYYY-MM-DD) of the events: the days whose rollups a write changes. */
  readonly days: Set<string>;
  /** Events written (or already there: the stores drop a repeated insertId). */
  stored: number;
  readonly rejected: RejectedRow[];
}

export interface ReplayOptions {
  readonly files: readonly ArchiveFile[];
  readonly settings: CoreSettings;
  /** Without a target nothing is written: a dry run. */
  readonly target?: ReplayTarget;
  readonly progress?: ReplayProgress;
  /** Events handed to the target at once. */
  readonly batchSize?: number;
}

export class ReplayError extends Error {
  constructor(
    readonly summary: ReplaySummary,
    file: string,
    cause: unknown,
  ) {
    super(
      `replay stopped in ${file} after ${summary.entries} log entries (${summary.stored} events written): ${cause instanceof Error ? cause.message : String(cause)}\n` +
        "Running the same replay again is safe: every event keeps its insertId.",
    );
    this.name = "ReplayError";
  }
}

const DEFAULT_BATCH_SIZE = 500;

/** Reads every file line by line, runs each entry through the core, and writes the events in batches. */
export async function replayArchive(options: ReplayOptions): Promise<ReplaySummary> {
  const { files, settings, target, progress } = options;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const summary: ReplaySummary = { files: 0, entries: 0, accepted: new Map(), refused: new Map(), days: new Set(), stored: 0, rejected: [] };
  let batch: AcceptedEvent[] = [];
  const flush = async (): Promise<void> => {
    if (!target || batch.length === 0) return;
    const rejected = await target.store(batch);
    summary.stored += batch.length - rejected.length;
    summary.rejected.push(...rejected);
    batch = [];
  };

  progress?.start(files.reduce((total, file) => total + file.size, 0));
  let bytesBefore = 0;
  try {
    for (const file of files) {
      let bytesRead = bytesBefore;
      try {
        for await (const line of createInterface({ input: await file.open(), crlfDelay: Infinity })) {
          bytesRead += Buffer.byteLength(line) + 1;
          if (line.trim() === "") continue;
          summary.entries++;
          const result = parseEntryLine(line, settings);
          if (result.ok) {
            increment(summary.accepted, storedTableName(settings.layout, settings.templateTable, result.tableSuffix));
            summary.days.add(parseTableSuffix(result.tableSuffix)!.date);
            batch.push(result);
            if (batch.length >= batchSize) await flush();
          } else {
            increment(summary.refused, result.reason);
          }
          progress?.update(bytesRead, summary.entries);
        }
        await flush();
      } catch (error) {
        throw new ReplayError(summary, file.name, error);
      }
      summary.files++;
      bytesBefore += file.size;
      progress?.update(bytesBefore, summary.entries);
    }
  } finally {
    progress?.stop();
  }
  return summary;
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** What a batch stack's replay did, for a person: totals, rows loaded now and before by table, refusals, what a rebuild emptied. */
export function formatLoaderSummary(summary: LoaderReplaySummary, destination: string, rebuild?: { token: string; days: readonly string[] }): string {
  const count = (map: Map<string, number>) => [...map.values()].reduce((sum, value) => sum + value, 0);
  const lines = [
    `${summary.files} file(s), ${summary.entries} log entries, ${count(summary.refused)} refused; loaded through the batch loader into ${destination}`,
    ...section("rows loaded now, by table", summary.loaded),
    ...section("rows loaded before under the same job ids (nothing loaded again), by table", summary.alreadyLoaded),
    ...section("refusals by reason", summary.refused),
  ];
  if (rebuild) {
    lines.push(`rebuilt ${rebuild.days.join(", ")} under new job ids (token ${rebuild.token}): each day's tables hold only the rows loaded now`);
    if (summary.emptied.length > 0) lines.push(`emptied, as no file has rows for them any more: ${summary.emptied.join(", ")}`);
  }
  return lines.join("\n");
}

/** What the run did, for a person: totals, then one line per table and per refusal reason. */
export function formatSummary(summary: ReplaySummary, mode: ReplayMode, destination?: string): string {
  const count = (map: Map<string, number>) => [...map.values()].reduce((sum, value) => sum + value, 0);
  const lines = [
    `${summary.files} file(s), ${summary.entries} log entries: ${count(summary.accepted)} events, ${count(summary.refused)} refused`,
    ...section("events by table", summary.accepted),
    ...section("refusals by reason", summary.refused),
  ];
  if (mode === "dry-run") {
    lines.push("dry run: nothing was written");
  } else {
    lines.push(`wrote ${summary.stored} events to ${destination}; a repeated entry keeps its insertId, so it is one row`);
  }
  if (summary.rejected.length > 0) {
    lines.push(`${summary.rejected.length} events were rejected by the store and are not written:`);
    lines.push(...summary.rejected.slice(0, 5).map((row) => `  ${row.table} ${row.insertId}: ${row.detail}`));
  }
  return lines.join("\n");
}

function section(title: string, counts: Map<string, number>): string[] {
  if (counts.size === 0) return [];
  const keys = [...counts.keys()].sort();
  const width = Math.max(...keys.map((key) => key.length));
  return [`${title}:`, ...keys.map((key) => `  ${key.padEnd(width)}  ${counts.get(key)}`)];
}

export const replayCommand = defineCommand({
  usage: REPLAY_USAGE,
  args: REPLAY_ARGS,
  async run(parsed) {
    const command = replayCommandFrom(parsed);
    const stack = readStack(command.stack);
    const batch = stack.config.ingest === "batch" && command.mode !== "dry-run";
    if (!batch && (command.rebuildDays.length > 0 || command.archiveBucket !== undefined)) {
      throw new UsageError(`--rebuild and --archive-bucket are for stacks with ingest batch, whose loads have job ids; Pulumi.${command.stack}.yaml streams, and its replays keep each row's insertId`);
    }
    if (batch && command.concurrency !== DEFAULT_BIGQUERY_TARGET_OPTIONS.concurrency) throw new UsageError("--concurrency is for streaming stacks' insertAll calls: a batch stack's replay runs load jobs");
    // Replayed rows must get the visitor ids of the rows beside them: the stack's key, or the local pipeline's.
    const settings = command.mode === "local" ? await withLocalVisitorKey(stack.settings, command.paths.dataDir) : stack.settings;
    if (command.mode === "bigquery" && !settings.visitorKey) {
      throw new UsageError(
        `set ${VISITOR_KEY_VARIABLE} to the stack's visitor key, so replayed rows get the visitor ids the function gives: ${VISITOR_KEY_VARIABLE}="$(gcloud secrets versions access latest --secret=pixel-${command.stack}-visitor-key)"`,
      );
    }
    const files = await listArchive(
      command.sources.map((source) => (parseGcsUrl(source) ? source : userPath(source))),
      () => serviceApi("storage"),
    );
    if (files.length === 0) throw new UsageError(`no archive files (${ARCHIVE_FILE_EXTENSIONS.map((extension) => `*${extension}`).join(" or ")}) under ${command.sources.join(", ")}`);
    if (batch) return replayIntoBatchStack(command, stack, settings, files);

    let target: ReplayTarget | undefined;
    let destination: string | undefined;
    if (command.mode === "bigquery") {
      const { project, dataset } = replayDestination(command, stack);
      const table = new BigQuery({ projectId: project }).dataset(dataset).table(insertTableName(settings.layout, settings.templateTable));
      target = bigQueryTarget(table, settings, { ...DEFAULT_BIGQUERY_TARGET_OPTIONS, concurrency: command.concurrency });
      destination = `BigQuery ${project}.${dataset}`;
    } else if (command.mode === "local") {
      target = await localTarget(command.paths.database, settings).catch(async (error: unknown) => {
        throw await explainDatabaseInUse(error, command.paths, "replay --local writes the database itself: stop that server (Ctrl-C where it runs) and run the replay again, or replay into another --data-dir.");
      });
      destination = command.paths.database;
    }
    try {
      const summary = await replayArchive({ files, settings, target, progress: process.stderr.isTTY ? terminalProgress(process.stderr) : undefined });
      console.log(formatSummary(summary, command.mode, destination));
      console.log(rollupHint(summary.days, command.stack, command.mode === "dry-run" ? "dry-run" : command.mode === "local" ? "local" : "bigquery"));
      return summary.rejected.length > 0 ? EXIT.failure : EXIT.ok;
    } finally {
      await target?.close();
    }
  },
});

/** A batch stack's replay: every file through the batch loader, then the rollups of the days loaded. */
async function replayIntoBatchStack(command: ReplayCommand, stack: LocalStack, settings: CoreSettings, files: readonly ArchiveFile[]): Promise<number> {
  const objects = files.map((file) => archiveObject(file, command.archiveBucket));
  let target: LoaderTarget;
  let destination: string;
  if (command.mode === "local") {
    target = await localLoaderTarget(command.paths.database, settings).catch(async (error: unknown) => {
      throw await explainDatabaseInUse(error, command.paths, "replay --local writes the database itself: stop that server (Ctrl-C where it runs) and run the replay again, or replay into another --data-dir.");
    });
    destination = command.paths.database;
  } else {
    const { project, dataset } = replayDestination(command, stack);
    target = bigQueryLoaderTarget(new BigQuery({ projectId: project }), settings, project, dataset, (message) => console.error(message));
    destination = `BigQuery ${project}.${dataset}`;
  }
  try {
    const rebuild = command.rebuildDays.length > 0 ? { token: newRebuildToken(), days: command.rebuildDays, tablesOfDay: (day: string) => target.tablesOfDay(day) } : undefined;
    const summary = await replayThroughLoader({ objects, settings, jobs: target.jobs, rebuild, progress: process.stderr.isTTY ? terminalProgress(process.stderr) : undefined }).catch((error: unknown) => {
      throw new Error(
        `replay stopped: ${error instanceof Error ? error.message : String(error)}\nRunning it again is safe: files loaded already keep their job ids. A failed load job is never run again under its id; once its cause is fixed, rebuild its days with --rebuild DAY.`,
      );
    });
    console.log(formatLoaderSummary(summary, destination, rebuild));
    console.log(await target.rollUp(summary.days));
    return EXIT.ok;
  } finally {
    await target.close();
  }
}

if (require.main === module) void runCommand(replayCommand);

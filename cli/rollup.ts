// npm run rollup -- --stack <name> --from YYYY-MM-DD --to YYYY-MM-DD [--local] [--yes]
// Recomputes the rollup tables for older days, e.g. after a replay or a redrive of old events; the
// scheduled query keeps only the latest days. docs/analytics.md explains the rollups.
import { BigQuery } from "@google-cloud/bigquery";
import type { CoreSettings } from "../core/config/coreSettings";
import { bigQueryRollupScript } from "../core/rollups";
import type { DayRange } from "../core/rollups";
import { isUtcDay } from "../core/views";
import { LocalDatabase } from "../local/database";
import { DATA_OPTIONS, DATA_USAGE, explainDatabaseInUse, pathsFrom } from "./dataOptions";
import { dayProgress } from "./progress";
import type { DayProgress } from "./progress";
import { defineCommand, EXIT, runCommand, UsageError } from "./runner";
import type { ParsedArgs } from "./runner";
import { readStack } from "./stackFile";

/** More days than a quarter at once needs --yes: a long range in BigQuery reads that many days of events. */
export const MAX_DAYS_WITHOUT_YES = 92;

export const ROLLUP_USAGE = `Usage: npm run rollup -- --stack NAME --from YYYY-MM-DD --to YYYY-MM-DD [options]
Recomputes the rollup tables (rollup_*, read by the daily_* views and the reports) for the UTC
days FROM to TO, both included, one day per transaction: after a replay or a redrive of old
events. The scheduled query keeps today and the stack's rollupLateDays days before it.
  --stack NAME     settings from Pulumi.NAME.yaml (required)
  --from DAY       first day, YYYY-MM-DD (required)
  --to DAY         last day, YYYY-MM-DD, not after today (required)
  --yes            allow a range of more than ${MAX_DAYS_WITHOUT_YES} days
  --local          recompute the local DuckDB file's rollups instead (stop npm start first)
  --project ID     BigQuery project (default gcp:project of the stack)
  --dataset ID     BigQuery dataset (default the stack's datasetId, else pixel_NAME)
With --local:
${DATA_USAGE}
  -h, --help       this help`;

const ROLLUP_ARGS = {
  options: {
    ...DATA_OPTIONS,
    stack: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    yes: { type: "boolean", default: false },
    local: { type: "boolean", default: false },
    project: { type: "string" },
    dataset: { type: "string" },
  },
} as const;

const DAY_MS = 86_400_000;

/** The days of a range, checked: real days, forwards, none after `today`, and at most MAX_DAYS_WITHOUT_YES of them unless `yes`. */
export function rollupDays(from: string | undefined, to: string | undefined, today: string, yes: boolean): string[] {
  if (!from || !to) throw new UsageError("pass --from and --to, the first and last UTC day to recompute (YYYY-MM-DD)");
  for (const [flag, day] of [["--from", from], ["--to", to]]) {
    if (!isUtcDay(day)) throw new UsageError(`${flag} must be a UTC day as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  }
  if (from > to) throw new UsageError(`the range runs backwards: --from ${from} is after --to ${to}; swap them`);
  if (to > today) throw new UsageError(`--to ${to} is in the future (today is ${today} UTC): a day is recomputed once it has events`);
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  if (days > MAX_DAYS_WITHOUT_YES && !yes) {
    throw new UsageError(`${days} days is more than ${MAX_DAYS_WITHOUT_YES}: each day reads that day's events again. Pass --yes to recompute them all`);
  }
  return Array.from({ length: days }, (_, index) => new Date(Date.parse(from) + index * DAY_MS).toISOString().slice(0, 10));
}

/** BigQuery's words when it aborts one of two transactions that change the same table at once. */
const CONCURRENT_UPDATE = /concurrent update|aborted due to concurrent/i;

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly attempts: number;
  /** Before the n-th retry (from 0): the wait, doubled each time. */
  readonly firstDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, firstDelayMs: 2000, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/**
 * Runs `work`, again after a pause when BigQuery aborted it for a concurrent transaction on the
 * same table (a scheduled run over the same days): the day is replaced whole either way, so a
 * retry is safe. Any other error ends the run.
 */
export async function withConflictRetry<T>(work: () => Promise<T>, policy: RetryPolicy, warn: (message: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!CONCURRENT_UPDATE.test(message) || attempt >= policy.attempts) throw error;
      const delay = policy.firstDelayMs * 2 ** (attempt - 1);
      warn(`another transaction changed the same rollup table (${message.split("\n", 1)[0]}); trying again in ${delay / 1000} s`);
      await policy.sleep(delay);
    }
  }
}

/** Replaces one range of days in the store; resolves with the rows it holds for them now. */
export type RollupRunner = (days: DayRange) => Promise<number>;

/** Runs the BigQuery script for a range, as one query job, and reads the row count it ends with. */
export function bigQueryRunner(client: BigQuery, settings: CoreSettings, project: string, dataset: string): RollupRunner {
  return async (days) => {
    const query = bigQueryRollupScript(settings, project, dataset, { from: { date: days.from }, to: { date: days.to } }, { countRows: true });
    const [job] = await client.createQueryJob({ query, useLegacySql: false, jobPrefix: "rollup_" });
    const [rows] = await job.getQueryResults();
    return Number((rows[0] as { rows_written?: unknown } | undefined)?.rows_written ?? 0);
  };
}

export interface RollupSummary {
  readonly days: number;
  readonly rows: number;
}

/** Recomputes the days one at a time, each in its own transaction, so a failure keeps the days done before it. */
export async function recomputeDays(days: readonly string[], run: RollupRunner, progress?: DayProgress): Promise<RollupSummary> {
  let rows = 0;
  progress?.start(days.length);
  try {
    for (const [index, day] of days.entries()) {
      rows += await run({ from: day, to: day });
      progress?.update(index + 1, rows);
    }
  } finally {
    progress?.stop();
  }
  return { days: days.length, rows };
}

export function formatRollupSummary(summary: RollupSummary, destination: string): string {
  return `recomputed ${summary.days} day(s) of rollups in ${destination}: ${summary.rows} rollup rows written`;
}

export const rollupCommand = defineCommand({
  usage: ROLLUP_USAGE,
  args: ROLLUP_ARGS,
  async run({ values }: ParsedArgs<typeof ROLLUP_ARGS>) {
    if (!values.stack) throw new UsageError("pass --stack with the stack whose settings and dataset to use");
    const days = rollupDays(values.from, values.to, new Date().toISOString().slice(0, 10), values.yes);
    if (values.local && (values.project || values.dataset)) throw new UsageError("--project and --dataset are for BigQuery, not with --local");
    if (!values.local && (values.db !== undefined || values["data-dir"] !== undefined)) throw new UsageError("--data-dir and --db are for --local");
    const stack = readStack(values.stack);
    const progress = process.stderr.isTTY ? dayProgress(process.stderr) : undefined;
    if (values.local) {
      const paths = pathsFrom(values);
      const database = await LocalDatabase.open(paths.database, stack.settings).catch(async (error: unknown) => {
        throw await explainDatabaseInUse(error, paths, "rollup --local writes the database itself: stop that server (Ctrl-C where it runs) and run the rollup again; while it runs, its loader keeps the rollups of the days it loads up to date.");
      });
      try {
        console.log(formatRollupSummary(await recomputeDays(days, (range) => database.rollup(range), progress), paths.database));
      } finally {
        database.close();
      }
      return EXIT.ok;
    }
    const project = values.project ?? stack.project;
    if (!project) throw new UsageError(`Pulumi.${values.stack}.yaml sets no gcp:project: pass --project`);
    const dataset = values.dataset ?? stack.config.datasetId;
    const run = bigQueryRunner(new BigQuery({ projectId: project }), stack.settings, project, dataset);
    const retried: RollupRunner = (range) => withConflictRetry(() => run(range), DEFAULT_RETRY, (message) => console.error(message));
    console.log(formatRollupSummary(await recomputeDays(days, retried, progress), `BigQuery ${project}.${dataset}`));
    return EXIT.ok;
  },
});

/**
 * For replay and redrive: the days their events belong to, and how the rollups of those days come
 * up to date. The scheduled query recomputes only the latest days, so older ones need `npm run
 * rollup`; the local loader recomputes the days of every batch it stores itself.
 */
export function rollupHint(days: ReadonlySet<string>, stack: string, mode: "bigquery" | "local" | "dry-run"): string {
  if (days.size === 0) return "no events, so no rollups to bring up to date";
  const sorted = [...days].sort();
  const [first, last] = [sorted[0], sorted.at(-1)!];
  const touched = `the events are of ${days.size} UTC day(s), ${first === last ? first : `${first} to ${last}`}`;
  if (mode === "local") return `${touched}; the local rollups of those days were recomputed as the events were stored`;
  const span = (Date.parse(last) - Date.parse(first)) / DAY_MS + 1;
  const command = `npm run rollup -- --stack ${stack} --from ${first} --to ${last}${span > MAX_DAYS_WITHOUT_YES ? " --yes" : ""}`;
  if (mode === "dry-run") return `${touched}; after writing them, bring their rollups up to date with:\n  ${command}`;
  return `${touched}; the scheduled query recomputes only the latest days: once the events are in BigQuery, bring the rollups up to date with:\n  ${command}`;
}

if (require.main === module) void runCommand(rollupCommand);

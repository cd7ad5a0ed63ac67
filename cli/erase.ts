// npm run erase -- --stack <name> --tenant <tenant> [--before YYYY-MM-DD] [--dry-run] [--local] [--yes]
// Removes one tenant's data from the warehouse, the rollups, the dead letters and the archive, or
// from the local pipeline's files. docs/operations.md "Erasing a tenant" says what it covers.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline/promises";
import { BigQuery } from "@google-cloud/bigquery";
import type { CoreSettings } from "../core/config/coreSettings";
import { allTenantsCoverage, entryErased, erasureDays, foundAnything, isTenantDayTable, noErasure, tenantRowsStatements } from "../core/erasure";
import type { ErasureCounts } from "../core/erasure";
import type { DayRange } from "../core/rollups";
import { MAX_TENANT_BYTES } from "../core/tenant";
import { bigQueryDialect, isUtcDay } from "../core/views";
import { SINK_OBJECT_PREFIX } from "../core/batchLoad";
import { serviceApi } from "../functions/googleApi";
import type { GoogleApi } from "../functions/googleApi";
import { LocalDatabase } from "../local/database";
import type { DataPaths } from "../local/paths";
import { rewriteLoadedSegments, SPOOL_START, unloadedBytes } from "../local/spool";
import { eraseTenantFromArchive } from "./archiveErase";
import type { ArchiveErasureReport } from "./archiveErase";
import { DATA_OPTIONS, DATA_USAGE, explainDatabaseInUse, pathsFrom } from "./dataOptions";
import { terminalProgress } from "./progress";
import { pubsubResource, stackOutputNames } from "./redrive";
import { DEFAULT_RETRY, withConflictRetry } from "./rollup";
import type { RetryPolicy } from "./rollup";
import { defineCommand, EXIT, parseCommandLine, runCommand, UsageError } from "./runner";
import type { ParsedArgs } from "./runner";
import { readStack } from "./stackFile";
import { userPath } from "./userPath";

export const ERASE_USAGE = `Usage: npm run erase -- --stack NAME --tenant TENANT [options]
Removes one tenant's data: in BigQuery its day tables (per-tenant-day) or its rows of
events_partitioned (partitioned), its rows of every rollup table, its dead letters and its
entries in the raw archive; with --local, its rows, rollups and refusals in the DuckDB file and
its lines in the loaded spool.
Asks before it changes a stack's data, unless --yes. Every run adds a line to DIR/erase-audit.ndjson.
  --stack NAME      settings from Pulumi.NAME.yaml (required)
  --tenant TENANT   the tenant, exactly as in the pixel URL (required)
  --before DAY      only the data of UTC days before DAY (YYYY-MM-DD, not after today)
  --dry-run         change nothing: print what would go (tables, rows, messages, lines)
  --yes             do not ask for confirmation (required when stdin is not a terminal)
  --local           erase from the local pipeline's files instead (stop npm start first)
  --outputs FILE    the stack's outputs as \`pulumi stack output --json\` prints them (required
                    without --local): the dead-letter subscription and the archive bucket
  --project ID      BigQuery and Pub/Sub project (default gcp:project of the stack)
  --dataset ID      BigQuery dataset (default the stack's datasetId, else pixel_NAME)
${DATA_USAGE}
                    (DIR also holds the audit file, with or without --local)
  -h, --help        this help`;

const ERASE_ARGS = {
  options: {
    ...DATA_OPTIONS,
    stack: { type: "string" },
    tenant: { type: "string" },
    before: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    yes: { type: "boolean", default: false },
    local: { type: "boolean", default: false },
    outputs: { type: "string" },
    project: { type: "string" },
    dataset: { type: "string" },
  },
} as const;

export interface EraseRequest {
  readonly stack: string;
  readonly tenant: string;
  readonly before?: string;
  readonly days: DayRange;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly local: boolean;
  readonly outputs?: string;
  readonly project?: string;
  readonly dataset?: string;
  readonly paths: DataPaths;
}

export function parseEraseArgs(argv: readonly string[]): ParsedArgs<typeof ERASE_ARGS> {
  return parseCommandLine(ERASE_ARGS, argv);
}

/** The parsed command line, checked against `today` (YYYY-MM-DD, UTC); throws UsageError for anything it cannot run. */
export function eraseRequestFrom({ values }: ParsedArgs<typeof ERASE_ARGS>, today: string): EraseRequest {
  if (!values.stack) throw new UsageError("pass --stack with the stack whose data to erase");
  const tenant = values.tenant;
  if (tenant === undefined || tenant === "") throw new UsageError("pass --tenant with the tenant to erase, exactly as in the pixel URL");
  if (Buffer.byteLength(tenant, "utf8") > MAX_TENANT_BYTES || !tenant.isWellFormed()) {
    throw new UsageError(`--tenant ${JSON.stringify(tenant)} is no tenant the pipeline stores: a tenant is at most ${MAX_TENANT_BYTES} bytes of UTF-8`);
  }
  const before = values.before;
  if (before !== undefined) {
    if (!isUtcDay(before)) throw new UsageError(`--before must be a UTC day as YYYY-MM-DD, got ${JSON.stringify(before)}`);
    if (before > today) throw new UsageError(`--before ${before} is in the future (today is ${today} UTC): pass today or an earlier day, or leave --before out to erase every day`);
  }
  if (values.local && (values.project || values.dataset || values.outputs)) throw new UsageError("--project, --dataset and --outputs are for BigQuery, not with --local");
  if (!values.local && values.db !== undefined) throw new UsageError("--db is for --local");
  if (!values.local && !values.outputs) {
    throw new UsageError("pass --outputs with the stack's outputs (pulumi stack output --json > outputs.json), so the tenant's dead letters are erased too");
  }
  return {
    stack: values.stack,
    tenant,
    ...(before === undefined ? {} : { before }),
    days: erasureDays(before),
    dryRun: values["dry-run"],
    yes: values.yes,
    local: values.local,
    ...(values.outputs ? { outputs: values.outputs } : {}),
    ...(values.project ? { project: values.project } : {}),
    ...(values.dataset ? { dataset: values.dataset } : {}),
    paths: pathsFrom(values),
  };
}

// ---- BigQuery -------------------------------------------------------------------------------

/** BigQuery's words when a DML statement would touch rows streamed with insertAll a short while ago. */
const STREAMING_BUFFER = /streaming buffer/i;
/** Rows streamed in the last 30 minutes cannot be changed by DML; the error can last up to 90 (https://cloud.google.com/bigquery/docs/data-manipulation-language#limitations). */
export const STREAMING_BUFFER_MINUTES = { usual: 30, longest: 90 } as const;

export interface BigQueryPlan {
  /** The tenant's day tables, with the rows each holds. */
  readonly dayTables: readonly { readonly name: string; readonly rows: number }[];
  /** The tables whose rows carry the tenant, with the count of its rows and the DELETE. */
  readonly rows: readonly { readonly table: string; readonly rows: number; readonly delete: string }[];
}

/** Day-table lookups and drops in flight at once. */
const TABLE_CONCURRENCY = 8;

async function eachLimited<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(TABLE_CONCURRENCY, items.length) }, worker));
}

/** Runs one query job and reads the first column of its first row as a number. */
async function queryNumber(client: BigQuery, query: string): Promise<number> {
  const [job] = await client.createQueryJob({ query, useLegacySql: false, jobPrefix: "erase_" });
  const [rows] = await job.getQueryResults();
  const [first] = rows as Record<string, unknown>[];
  return first ? Number(Object.values(first)[0] ?? 0) : 0;
}

/**
 * What erasing the tenant would remove from the dataset: its day tables, listed page by page and
 * matched by their decoded name (never by a prefix), and its rows of the partitioned table and
 * the rollups, counted with the condition the DELETE uses. Reads only.
 */
export async function planBigQueryErasure(client: BigQuery, settings: CoreSettings, project: string, dataset: string, tenant: string, days: DayRange): Promise<BigQueryPlan> {
  const [tables] = await client.dataset(dataset).getTables({ autoPaginate: true });
  const names = tables.map((table) => table.id ?? "").filter((name) => isTenantDayTable(name, settings.templateTable, tenant, days)).sort();
  const dayTables: { name: string; rows: number }[] = [];
  await eachLimited(names, async (name) => {
    const [metadata] = await client.dataset(dataset).table(name).getMetadata();
    const streamed = Number((metadata as { streamingBuffer?: { estimatedRows?: string } }).streamingBuffer?.estimatedRows ?? 0);
    dayTables.push({ name, rows: Number((metadata as { numRows?: string }).numRows ?? 0) + streamed });
  });
  dayTables.sort((a, b) => a.name.localeCompare(b.name));
  const rows: { table: string; rows: number; delete: string }[] = [];
  for (const statements of tenantRowsStatements(settings, bigQueryDialect(project, dataset), tenant, days)) {
    rows.push({ table: statements.table, rows: await queryNumber(client, statements.count), delete: statements.delete });
  }
  return { dayTables, rows };
}

export interface BigQueryOutcome {
  /** Tables whose DELETE BigQuery refused because rows of them are in the streaming buffer. */
  readonly streamingBuffer: readonly string[];
}

/**
 * Drops the planned day tables and runs the DELETEs, adding what each removed to `counts`. A table
 * already gone is no error (a second run, or another eraser). A DELETE refused for the streaming
 * buffer is reported, not thrown, and the rest goes on: a later run deletes those rows.
 */
export async function applyBigQueryErasure(client: BigQuery, dataset: string, plan: BigQueryPlan, counts: ErasureCounts, retry: RetryPolicy = DEFAULT_RETRY): Promise<BigQueryOutcome> {
  await eachLimited(plan.dayTables, async (table) => {
    try {
      await client.dataset(dataset).table(table.name).delete();
    } catch (error) {
      if ((error as { code?: unknown }).code !== 404) throw error;
      return;
    }
    counts.dayTables++;
    counts.dayTableRows += table.rows;
  });
  const streamingBuffer: string[] = [];
  for (const table of plan.rows) {
    if (table.rows === 0) continue;
    try {
      // The scheduled rollup query replaces recent days in transactions of its own: a DELETE it aborts is run again.
      counts.rows[table.table] = await withConflictRetry(() => queryNumber(client, `${table.delete};\nSELECT @@row_count AS row_count;`), retry, (message) => console.error(message));
    } catch (error) {
      if (!STREAMING_BUFFER.test(error instanceof Error ? error.message : String(error))) throw error;
      streamingBuffer.push(table.table);
    }
  }
  return { streamingBuffer };
}

/** When to run the erase again after a refusal for the streaming buffer, from `now`. */
export function streamingBufferAdvice(tables: readonly string[], now: Date, command: string): string {
  const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString().slice(11, 16);
  return (
    `BigQuery refused to delete from ${tables.join(", ")}: some of the rows were streamed in the last ${STREAMING_BUFFER_MINUTES.usual} minutes ` +
    `and are still in the streaming buffer, which DML cannot change. Nothing else was held back. Make sure the tenant sends no more events ` +
    `(take the pixel off its pages, or leave it out of tenantAllowlist), then run the same command again after ${at(STREAMING_BUFFER_MINUTES.usual)} UTC ` +
    `(if BigQuery refuses again, at ${at(STREAMING_BUFFER_MINUTES.longest)} UTC at the latest):\n  ${command}`
  );
}

/** The command that runs the same erasure again, for a person to copy. */
export function eraseCommandLine(request: EraseRequest): string {
  const quoted = (value: string) => (/^[\w.@/:-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`);
  const options = [["--stack", request.stack], ["--tenant", request.tenant], ["--before", request.before], ["--outputs", request.outputs], ["--project", request.project], ["--dataset", request.dataset]];
  return ["npm run erase --", ...options.filter(([, value]) => value !== undefined).map(([flag, value]) => `${flag} ${quoted(value!)}`)].join(" ");
}

// ---- Dead letters ---------------------------------------------------------------------------

interface ReceivedMessage {
  readonly ackId: string;
  readonly message: { readonly data?: string; readonly messageId: string };
}

const PULL_SIZE = 100;
/** A pull that returns at once may come back empty while messages remain (as in redrive.ts). */
const EMPTY_PULLS_TO_STOP = 3;

/**
 * Removes the tenant's messages from the dead-letter subscription: every message is pulled and
 * kept leased, the tenant's are acknowledged (so Pub/Sub deletes them, and a later redrive cannot
 * write their rows back), and the others are handed back at once at the end, as redrive's dry run
 * does. A dry run acknowledges nothing. Resolves with the tenant's messages.
 */
export async function purgeDeadLetters(pubsub: GoogleApi, subscription: string, settings: CoreSettings, tenant: string, days: DayRange, dryRun: boolean): Promise<number> {
  const seen = new Set<string>();
  const others: string[] = [];
  let purged = 0;
  let emptyPulls = 0;
  try {
    while (emptyPulls < EMPTY_PULLS_TO_STOP) {
      const { receivedMessages = [] } = await pubsub.json<{ receivedMessages?: ReceivedMessage[] }>("POST", `/v1/${subscription}:pull`, { maxMessages: PULL_SIZE, returnImmediately: true });
      emptyPulls = receivedMessages.some((received) => !seen.has(received.message.messageId)) ? 0 : emptyPulls + 1;
      const tenants: string[] = [];
      for (const received of receivedMessages) {
        const text = Buffer.from(received.message.data ?? "", "base64").toString("utf8");
        if (!entryErased(text, settings, tenant, days)) {
          others.push(received.ackId);
          continue;
        }
        tenants.push(received.ackId);
        // A lease that ran out brings a message back: it is counted once.
        if (!seen.has(received.message.messageId)) purged++;
      }
      for (const received of receivedMessages) seen.add(received.message.messageId);
      if (dryRun) others.push(...tenants);
      else if (tenants.length > 0) await pubsub.json("POST", `/v1/${subscription}:acknowledge`, { ackIds: tenants });
    }
  } finally {
    for (let first = 0; first < others.length; first += 1000) {
      await pubsub.json("POST", `/v1/${subscription}:modifyAckDeadline`, { ackIds: others.slice(first, first + 1000), ackDeadlineSeconds: 0 });
    }
  }
  return purged;
}

// ---- The local pipeline ---------------------------------------------------------------------

/**
 * Erases the tenant from the DuckDB file (rows, rollups, refusals) and from the spool's loaded
 * segments, which hold every request with its full IP: left there, a rebuild of the database
 * would bring the rows back. Refuses while lines of the spool are not loaded yet: their rows
 * would come in after the erasure.
 */
export async function eraseLocal(paths: DataPaths, settings: CoreSettings, tenant: string, days: DayRange, dryRun: boolean, counts: ErasureCounts): Promise<void> {
  // No database and no spool: nothing to erase, and no empty database to leave behind.
  if (!existsSync(paths.database) && (await unloadedBytes(paths.spoolDir, SPOOL_START)) === 0) return;
  const database = await LocalDatabase.open(paths.database, settings).catch(async (error: unknown) => {
    throw await explainDatabaseInUse(error, paths, "erase --local changes the database and the spool: stop that server (Ctrl-C where it runs) and run the erase again.");
  });
  try {
    const checkpoint = await database.readCheckpoint();
    const unloaded = await unloadedBytes(paths.spoolDir, checkpoint);
    if (unloaded > 0) {
      throw new Error(
        `the spool in ${paths.spoolDir} holds ${unloaded} bytes of requests not loaded into ${paths.database} yet; the tenant's among them would come back after the erasure. ` +
          "Run npm start on this data directory until its loader has caught up (the dashboard's backlog is 0), stop it, and run the erase again.",
      );
    }
    const erased = await database.eraseTenant(tenant, days, dryRun);
    Object.assign(counts.rows, erased.rows);
    counts.refusals += erased.refusals;
    // Everything is loaded: the checkpoint moves past the last segment, so every segment counts as loaded.
    const loadedBefore = checkpoint.offset === 0 ? checkpoint.segment : checkpoint.segment + 1;
    if (!dryRun && loadedBefore !== checkpoint.segment) await database.moveCheckpoint({ segment: loadedBefore, offset: 0 });
    const rewrite = await rewriteLoadedSegments(paths.spoolDir, loadedBefore, (line) => entryErased(line, settings, tenant, days), dryRun);
    counts.spoolLines += rewrite.removed;
  } finally {
    database.close();
  }
}

// ---- Confirmation, report and audit ---------------------------------------------------------

export interface EraseTerminal {
  readonly isTTY: boolean;
  /** Asks on the terminal; resolves with the answer typed. */
  ask(question: string): Promise<string>;
}

function processTerminal(): EraseTerminal {
  return {
    isTTY: process.stdin.isTTY === true,
    async ask(question) {
      const prompt = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await prompt.question(question);
      } finally {
        prompt.close();
      }
    },
  };
}

/** Whether to go on: yes with --yes, else only a "y" typed on a terminal. */
export async function confirmed(request: Pick<EraseRequest, "yes" | "tenant" | "stack">, terminal: EraseTerminal): Promise<boolean> {
  if (request.yes) return true;
  if (!terminal.isTTY) throw new UsageError("stdin is not a terminal, so erase cannot ask for confirmation: check the list above with --dry-run, then pass --yes");
  const answer = await terminal.ask(`Erase all of the above of tenant ${JSON.stringify(request.tenant)} from stack ${request.stack}? This cannot be undone. [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

/** What goes, one line per table or place; the same text for a dry run and before the confirmation. */
export function formatFindings(counts: ErasureCounts, dayTables: readonly { name: string; rows: number }[], destination: string): string {
  const lines = [`in ${destination}:`];
  if (dayTables.length > 0) lines.push(`  ${dayTables.length} day table(s), ${dayTables.reduce((sum, table) => sum + table.rows, 0)} rows:`, ...dayTables.map((table) => `    ${table.name}  ${table.rows} rows`));
  for (const [table, rows] of Object.entries(counts.rows)) if (rows > 0) lines.push(`  ${table}: ${rows} rows`);
  if (counts.refusals > 0) lines.push(`  refusals: ${counts.refusals} stored entries`);
  if (counts.spoolLines > 0) lines.push(`  spool: ${counts.spoolLines} lines of loaded segments`);
  if (counts.deadLetters > 0) lines.push(`  dead letters: ${counts.deadLetters} messages`);
  if (counts.archiveEntries > 0) lines.push(`  archive: ${counts.archiveEntries} entries in ${counts.archiveRewritten} of ${counts.archiveObjects} objects`);
  return lines.join("\n");
}

export interface AuditLine {
  readonly time: string;
  readonly who: { readonly user: string; readonly account?: string };
  readonly stack: string;
  readonly target: string;
  readonly tenant: string;
  readonly before?: string;
  readonly dryRun: boolean;
  readonly outcome: "nothing-found" | "erased" | "incomplete" | "dry-run" | "declined";
  readonly counts: ErasureCounts;
}

/** Where a stopped archive erasure records its progress, so the same command resumes it. */
export function archiveStateFile(paths: DataPaths): string {
  return path.join(paths.dataDir, "erase-archive-state.ndjson");
}

function addArchiveReport(counts: ErasureCounts, report: ArchiveErasureReport): void {
  counts.archiveObjects = report.scanned;
  counts.archiveRewritten = report.rewritten;
  counts.archiveEntries = report.removed;
}

/** The audit file: in the data directory, private like everything there, and ignored by git. */
export function auditFile(paths: DataPaths): string {
  return path.join(paths.dataDir, "erase-audit.ndjson");
}

/** Appends the line to the audit file (0600) and prints it. It holds names and counts, never erased data. */
export async function writeAudit(file: string, line: AuditLine): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const text = JSON.stringify(line);
  await appendFile(file, `${text}\n`, { mode: 0o600 });
  console.log(`audit: ${text}`);
}

/** Who runs the command: the OS user, and gcloud's account when gcloud is installed and has one. */
export async function whoErases(): Promise<AuditLine["who"]> {
  const user = userInfo().username;
  const account = await new Promise<string | undefined>((resolve) => {
    execFile("gcloud", ["config", "get-value", "account"], { timeout: 10_000 }, (error, stdout) => resolve(error ? undefined : stdout.trim() || undefined));
  });
  return account ? { user, account } : { user };
}

// ---- The command ----------------------------------------------------------------------------

export interface EraseDependencies {
  readonly bigQuery: (project: string) => BigQuery;
  readonly pubsub: () => GoogleApi;
  readonly storage: () => GoogleApi;
  readonly terminal: EraseTerminal;
  readonly now: () => Date;
  readonly who: () => Promise<AuditLine["who"]>;
}

const PROCESS_DEPENDENCIES: EraseDependencies = {
  bigQuery: (project) => new BigQuery({ projectId: project }),
  pubsub: () => serviceApi("pubsub"),
  storage: () => serviceApi("storage"),
  terminal: processTerminal(),
  now: () => new Date(),
  who: whoErases,
};

export async function runErase(parsed: ParsedArgs<typeof ERASE_ARGS>, dependencies: EraseDependencies = PROCESS_DEPENDENCIES): Promise<number> {
  const now = dependencies.now();
  const request = eraseRequestFrom(parsed, now.toISOString().slice(0, 10));
  const stack = readStack(request.stack);
  const settings = stack.settings;
  const counts = noErasure();
  let asked: Promise<AuditLine["who"]> | undefined;
  const who = () => (asked ??= dependencies.who());
  const audit = async (outcome: AuditLine["outcome"], target: string): Promise<void> =>
    writeAudit(auditFile(request.paths), {
      time: now.toISOString(),
      who: await who(),
      stack: request.stack,
      target,
      tenant: request.tenant,
      ...(request.before ? { before: request.before } : {}),
      dryRun: request.dryRun,
      outcome,
      counts,
    });
  const scope = request.before ? `of the days before ${request.before}` : "of every day";
  if (request.local) {
    const target = request.paths.database;
    await eraseLocal(request.paths, settings, request.tenant, request.days, true, counts);
    if (!foundAnything(counts)) {
      console.log(`tenant ${JSON.stringify(request.tenant)} has no data ${scope} in ${target} or its spool: nothing to erase`);
      await audit("nothing-found", target);
      return EXIT.ok;
    }
    console.log(formatFindings(counts, [], target));
    if (request.dryRun) {
      console.log("dry run: nothing was changed");
      await audit("dry-run", target);
      return EXIT.ok;
    }
    // The local pipeline is data on this machine, erased by its own operator: no question, as with the other --local commands.
    const erased = noErasure();
    await eraseLocal(request.paths, settings, request.tenant, request.days, false, erased);
    Object.assign(counts, erased);
    console.log(`erased tenant ${JSON.stringify(request.tenant)} ${scope} from ${target}`);
    await audit("erased", target);
    return EXIT.ok;
  }

  const project = request.project ?? stack.project;
  if (!project) throw new UsageError(`Pulumi.${request.stack}.yaml sets no gcp:project: pass --project`);
  const readers = stack.config.tenantReaders;
  if (readers) {
    const { account } = await who();
    const coverage = allTenantsCoverage(readers.allTenants, account);
    const fix = `add "user:${account ?? "YOUR-ACCOUNT"}" (or a group you are in) to allTenantsReaders in Pulumi.${request.stack}.yaml and run pulumi up`;
    if (coverage === "not-listed") {
      throw new UsageError(
        `${account} is not in allTenantsReaders: with tenantReaders set, BigQuery lets only the all-tenants row access policy's grantees delete rows, and shows anyone else too few to count. ${fix}, then erase again.`,
      );
    }
    if (coverage === "maybe") console.error(`note: with tenantReaders set, the account that erases must be in allTenantsReaders (directly or through a group); if BigQuery refuses the DELETEs, ${fix}.`);
  }
  const dataset = request.dataset ?? stack.config.datasetId;
  const outputs = stackOutputNames(await readFile(request.outputs === "-" ? "/dev/stdin" : userPath(request.outputs!), "utf8"));
  if (!outputs.subscription) throw new UsageError("--outputs names no deadLetterSubscription: pass the outputs of this stack, `pulumi stack output --json`");
  const subscription = pubsubResource("subscriptions", outputs.subscription, project);
  const archive = outputs.archiveBucket;
  const target = `BigQuery ${project}.${dataset}, ${subscription}${archive ? ` and gs://${archive}/${SINK_OBJECT_PREFIX}` : ""}`;
  const client = dependencies.bigQuery(project);
  const pubsub = dependencies.pubsub();
  const eraseArchive = (dryRun: boolean) =>
    eraseTenantFromArchive({
      api: dependencies.storage(),
      bucket: archive!,
      prefix: SINK_OBJECT_PREFIX,
      tenant: request.tenant,
      settings,
      ...(request.before ? { before: request.before } : {}),
      dryRun,
      statePath: archiveStateFile(request.paths),
      ...(process.stderr.isTTY ? { progress: terminalProgress(process.stderr) } : {}),
    });

  const plan = await planBigQueryErasure(client, settings, project, dataset, request.tenant, request.days);
  for (const table of plan.rows) counts.rows[table.table] = table.rows;
  counts.dayTables = plan.dayTables.length;
  counts.dayTableRows = plan.dayTables.reduce((sum, table) => sum + table.rows, 0);
  counts.deadLetters = await purgeDeadLetters(pubsub, subscription, settings, request.tenant, request.days, true);
  if (!archive) console.log("the stack keeps no archive (its outputs name no archiveBucket): there is none to erase");
  // The archive is read once per run: in a dry run to count, otherwise after the confirmation, to rewrite.
  if (archive && request.dryRun) addArchiveReport(counts, await eraseArchive(true));
  if (!foundAnything(counts) && (!archive || request.dryRun)) {
    console.log(`tenant ${JSON.stringify(request.tenant)} has no data ${scope} in ${target}: nothing to erase`);
    await audit("nothing-found", target);
    return EXIT.ok;
  }
  console.log(formatFindings(counts, plan.dayTables, target));
  if (request.dryRun) {
    console.log("dry run: nothing was changed");
    await audit("dry-run", target);
    return EXIT.ok;
  }
  if (archive) console.log(`  archive: every object of gs://${archive}/${SINK_OBJECT_PREFIX} that holds the tenant's entries is rewritten without them`);
  if (!(await confirmed(request, dependencies.terminal))) {
    console.log("nothing was changed");
    Object.assign(counts, noErasure());
    await audit("declined", target);
    return EXIT.failure;
  }
  // From here the counts are what was removed, not what was found.
  Object.assign(counts, noErasure());
  const outcome = await applyBigQueryErasure(client, dataset, plan, counts);
  counts.deadLetters = await purgeDeadLetters(pubsub, subscription, settings, request.tenant, request.days, false);
  // Last: the longest part, and the one a run stopped half way resumes from its state file.
  if (archive) addArchiveReport(counts, await eraseArchive(false));
  if (!foundAnything(counts) && outcome.streamingBuffer.length === 0) {
    console.log(`tenant ${JSON.stringify(request.tenant)} has no data ${scope} in ${target}: nothing was erased`);
    await audit("nothing-found", target);
    return EXIT.ok;
  }
  const rows = Object.entries(counts.rows).map(([table, removed]) => `${removed} rows of ${table}`);
  console.log(
    `erased tenant ${JSON.stringify(request.tenant)} ${scope}: ${counts.dayTables} day table(s) dropped (${counts.dayTableRows} rows), ` +
      `${rows.length > 0 ? rows.join(", ") : "no rows deleted"}, ${counts.deadLetters} dead letter(s) removed` +
      (archive ? `; archive: ${counts.archiveObjects} object(s) scanned, ${counts.archiveRewritten} rewritten, ${counts.archiveEntries} entries removed` : ""),
  );
  if (outcome.streamingBuffer.length > 0) {
    console.error(streamingBufferAdvice(outcome.streamingBuffer, dependencies.now(), eraseCommandLine(request)));
    await audit("incomplete", target);
    return EXIT.failure;
  }
  await audit("erased", target);
  return EXIT.ok;
}

export const eraseCommand = defineCommand({
  usage: ERASE_USAGE,
  args: ERASE_ARGS,
  run: (parsed) => runErase(parsed),
});

if (require.main === module) void runCommand(eraseCommand);

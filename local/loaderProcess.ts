import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as path from "node:path";
import type { IngestMode } from "../core/batchLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import type { LogLine } from "../core/delivery";
import { QueryError } from "./queryResult";
import type { JsonRow } from "./queryResult";
import type { SpoolPosition } from "./spool";

export interface LoaderProcessOptions {
  readonly settings: CoreSettings;
  readonly database: string;
  readonly spoolDir: string;
  /** Line by line (the default), or each finished segment whole (loader.ts LoaderOptions). */
  readonly ingest?: IngestMode;
  /** Loaded spool segments kept beyond this total are deleted (spool.ts KEEP_LOADED_BYTES). */
  readonly keepLoadedBytes?: number;
  /** Refusals kept in the database; older ones are dropped (refusalBounds.ts DEFAULT_MAX_REFUSALS). */
  readonly maxRefusals?: number;
  /** The stack's retentionDays: older days are pruned on start and daily (loaderMain.ts). Undefined keeps everything. */
  readonly retentionDays?: number;
  /** Refusals and dead letters, after the batch that stored them commits. */
  readonly log: (line: LogLine) => void;
  /** Problems the loader recovers from itself. */
  readonly warn: (message: string) => void;
}

/** A parameter of an internal read: what survives the trip between the processes unchanged. */
export type ReadValue = string | number | boolean | null;

/** One statement of an internal read, with its parameters. */
export interface InternalRead {
  readonly sql: string;
  readonly values?: readonly ReadValue[];
}

/**
 * The options as they cross to the loader's process. The country table is a lookup of functions and
 * typed arrays that a message cannot carry, so the process loads its own copy of the same file.
 */
export interface OpenOptions extends Omit<LoaderProcessOptions, "log" | "warn" | "settings"> {
  readonly settings: Omit<CoreSettings, "countries">;
  readonly lookUpCountries: boolean;
}

/** What the front end asks of the loader's process; each call gets one reply. */
export type LoaderCall =
  | { readonly method: "open"; readonly options: OpenOptions }
  | { readonly method: "drain"; readonly end: SpoolPosition }
  | { readonly method: "read"; readonly reads: readonly InternalRead[] }
  | { readonly method: "query"; readonly sql: string }
  | { readonly method: "close" };

/** Messages to the loader's process: calls, and the spool's durable end after each synced group. */
export type ToLoader = { readonly id: number; readonly call: LoaderCall } | { readonly durable: SpoolPosition };

/** Messages from it: replies to calls, and the loader's log lines and warnings. */
export type FromLoader =
  | { readonly id: number; readonly value: unknown }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string } }
  | { readonly log: LogLine }
  | { readonly warn: string };

/** After a crash of the loader's process, the next one starts after this, and loads on from the checkpoint. */
const RESTART_DELAY_MS = 1000;

/**
 * After telling the loader a durable end, further ones gather this long and go in one message:
 * under load the spool syncs a thousand times a second, and the loader rests between loads anyway
 * (loader.ts REST_MS). A message per sync cost the front end about 1 µs a request.
 */
const NOTICE_GAP_MS = 50;

const LOADER_MAIN = path.join(__dirname, "loaderMain.ts");

/**
 * The lowest priority, for every thread of the loader's process: when requests and loading want
 * the same CPU, requests win, and rows catch up from the spool as soon as the CPU is free. It is
 * set with nice(1) before node starts: Node's own os.setPriority reaches only the calling thread
 * on Linux, and V8's, libuv's and DuckDB's threads (DuckDB's start from a libuv one) kept nice 0.
 */
const LOADER_NICENESS = 19;

/**
 * The memory the loader's process may map for data (RLIMIT_DATA, set with prlimit(1) before node
 * starts, as the niceness is): DuckDB's `memory_limit` does not hold while it plans a statement,
 * nor for every allocation, and a query once took the machine's 24 GB before the kernel's OOM
 * killer ended the process. Beyond the limit, an allocation fails: DuckDB answers the query with
 * "Out of Memory Error", and V8 ends the process, which is replaced like any crashed loader, the
 * spool holding what it had not committed. Not RLIMIT_AS: V8 reserves about 11 GB of address
 * space at start. No core file either: it would hold the rows and the spool's personal data.
 */
export const LOADER_DATA_LIMIT_BYTES = 3 * 2 ** 30;
const LOADER_NODE_OPTIONS = [
  // The loader is TypeScript like the rest: its process runs it through tsx's CommonJS hook, as
  // `npm start` runs the server. tsx's ESM hooks would add a thread with its own V8 heap, about 38 MB.
  "--require",
  require.resolve("tsx/cjs"),
  // V8's young generation in 2 MB semi-spaces instead of 16: each batch's garbage dies young anyway,
  // and the loader's peak RSS over a 300,000-line backlog drops by about 25 MB (bench/notes.md).
  "--max-semi-space-size=2",
];
// Two malloc arenas instead of one per thread (up to 8 a core): DuckDB's threads and libuv's
// fragmented them, about 30 MB of the loader's peak RSS over the same backlog.
const LOADER_ENV = { MALLOC_ARENA_MAX: "2" };

interface PendingCall {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The loader runs in a process of its own (`loaderMain.ts`), at a lower CPU priority than the
 * front end: under load, requests win the CPU, and rows catch up from the spool, which is the
 * durable hand-off between the two. That process is the one holder of the DuckDB file, so the
 * dashboard's and the query command's reads go to it too. This is the front end's handle on it.
 */
export class LoaderProcess {
  private child: ChildProcess | undefined;
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;
  private stopping = false;
  /** The last durable end the front end reported, for a restarted process to catch up to. */
  private durableEnd: SpoolPosition | undefined;
  /** The last durable end the loader was told, and the gap after telling it. */
  private told: SpoolPosition | undefined;
  private noticeGap: NodeJS.Timeout | undefined;

  private constructor(private readonly options: LoaderProcessOptions) {}

  /** Starts the process and opens the database; if that fails, the process is gone when this rejects. */
  static async start(options: LoaderProcessOptions): Promise<LoaderProcess> {
    const loader = new LoaderProcess(options);
    try {
      await loader.spawn();
    } catch (error) {
      loader.stopping = true;
      const child = loader.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      }
      throw error;
    }
    return loader;
  }

  /** The spool's new durable end: the loader loads up to it in the background. */
  durable(end: SpoolPosition): void {
    this.durableEnd = end;
    if (!this.noticeGap) this.tell();
  }

  /** Loads everything up to `end` in the foreground: for start-up and shutdown. Resolves with the lines loaded. */
  async drain(end: SpoolPosition): Promise<number> {
    this.durableEnd = end;
    return (await this.call({ method: "drain", end })) as number;
  }

  /** Internal reads for the dashboard, all at one moment of the database: one list of rows each. */
  async read(reads: readonly InternalRead[]): Promise<JsonRow[][]> {
    return (await this.call({ method: "read", reads })) as JsonRow[][];
  }

  /** A user's query, with the rules of readOnlyQuery.ts; rejects with QueryError for SQL that cannot run. */
  async query(sql: string): Promise<JsonRow[]> {
    return (await this.call({ method: "query", sql })) as JsonRow[];
  }

  /** Stops loading, closes the database, which checkpoints its WAL, and waits for the process to exit. */
  async close(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.noticeGap);
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await this.call({ method: "close" });
    await exited;
  }

  private async spawn(): Promise<void> {
    const limits = [`--data=${LOADER_DATA_LIMIT_BYTES}`, "--core=0"];
    const child = spawn("prlimit", [...limits, "--", "nice", "-n", String(LOADER_NICENESS), process.execPath, ...LOADER_NODE_OPTIONS, LOADER_MAIN], {
      env: { ...process.env, ...LOADER_ENV },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child = child;
    child.on("message", (message: FromLoader) => this.receive(message));
    // A message that could not be sent: its process is exiting, and the exit is handled below.
    child.on("error", () => undefined);
    child.once("exit", (code, signal) => this.exited(child, signal ?? `code ${code}`));
    const { settings, database, spoolDir, ingest, keepLoadedBytes, maxRefusals, retentionDays } = this.options;
    const { countries, ...portableSettings } = settings;
    await this.call({ method: "open", options: { settings: portableSettings, lookUpCountries: countries !== undefined, database, spoolDir, ingest, keepLoadedBytes, maxRefusals, retentionDays } });
  }

  /** Tells the loader the latest durable end, unless it knows it, then gathers the next ones for NOTICE_GAP_MS. */
  private tell(): void {
    this.noticeGap = undefined;
    if (!this.durableEnd || this.durableEnd === this.told || !this.child?.connected) return;
    this.told = this.durableEnd;
    this.child.send({ durable: this.told } satisfies ToLoader);
    this.noticeGap = setTimeout(() => this.tell(), NOTICE_GAP_MS);
  }

  private call(call: LoaderCall): Promise<unknown> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new Error("the loader's process is not running"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      child.send({ id, call } satisfies ToLoader);
    });
  }

  private receive(message: FromLoader): void {
    if ("log" in message) return this.options.log(message.log);
    if ("warn" in message) return this.options.warn(message.warn);
    const pending = this.calls.get(message.id);
    this.calls.delete(message.id);
    if ("error" in message) {
      const { name, message: text } = message.error;
      pending?.reject(name === "QueryError" ? new QueryError(text) : new Error(text));
    } else {
      pending?.resolve(message.value);
    }
  }

  /**
   * A crash of the loader's process loses nothing: the spool holds every entry it had not
   * committed, so a new process, started after a pause, loads on from the checkpoint.
   */
  private exited(child: ChildProcess, how: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    for (const pending of this.calls.values()) pending.reject(new Error(`the loader's process exited (${how})`));
    this.calls.clear();
    if (this.stopping) return;
    this.options.warn(`the loader's process exited (${how}); a new one starts in ${RESTART_DELAY_MS} ms and loads on from the checkpoint`);
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn().then(
        () => {
          clearTimeout(this.noticeGap);
          this.told = undefined;
          this.tell();
        },
        // The process that could not open the database exits, and that exit schedules the next try.
        (error: unknown) => this.options.warn(`the loader's process could not start: ${String(error)}`),
      );
    }, RESTART_DELAY_MS);
  }
}

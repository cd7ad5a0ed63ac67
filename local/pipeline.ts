import * as path from "node:path";
import { existsSync } from "node:fs";
import { chmod, lstat, readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { PIXEL_FILE } from "../assets/pixel";
import type { IngestMode } from "../core/batchLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import type { LogLine } from "../core/delivery";
import { shareConnections } from "./connectionSlots";
import { createDashboard, DASHBOARD_PATHS, hostName, QUERY_PATH } from "./dashboard";
import { createFrontEnd } from "./frontEnd";
import { LoaderProcess } from "./loaderProcess";
import { urlHost } from "./logEntry";
import { resolveDataPaths } from "./paths";
import type { DataPaths } from "./paths";
import { pixelAsset } from "./pixelResponse";
import { checkPrivateDirectory } from "./privateFiles";
import { newToken, removeServerFile, writeServerFile } from "./serverFile";
import { DEFAULT_SEGMENT_AGE_MS, SpoolWriter } from "./spool";
import type { SpoolOptions, SpoolPosition } from "./spool";
import { VISITOR_KEY_FILE, withLocalVisitorKey } from "./visitorKey";

/**
 * What one client may take of the server. A pixel request is one short GET: its headers arrive at
 * once, it has no body, and a browser opens a few connections. A client that sends slower, or
 * holds more, only ties the server up.
 */
export const SERVER_LIMITS = {
  /** The request line and headers must have arrived by then. */
  headersTimeoutMs: 10_000,
  /** The whole request, any body included. */
  requestTimeoutMs: 15_000,
  /** An idle keep-alive connection is closed after this (Node's default). */
  keepAliveTimeoutMs: 5_000,
  /**
   * Connections open at once. Beyond it a new one takes the place of the one that has waited
   * longest without a request in progress, so slow clients cannot keep pixels out (connectionSlots.ts).
   */
  maxConnections: 500,
  /**
   * On stop, how long requests already taken get to be answered. A client that does not read its
   * answers would hold them for ever; after this every connection is closed, with nothing lost:
   * an answer is sent only after its entry is in the spool.
   */
  drainTimeoutMs: 5_000,
} as const;

export interface PipelineOptions {
  readonly settings: CoreSettings;
  readonly host: string;
  readonly port: number;
  readonly paths: DataPaths;
  /** Refusals and dead letters, one line each. */
  readonly log: (line: LogLine) => void;
  /** Problems the pipeline recovers from itself. */
  readonly warn: (message: string) => void;
  /**
   * `streaming` (the default) loads each request within moments; `batch` loads each finished
   * spool segment whole, through the cloud's batch loader (loader.ts LoaderOptions).
   */
  readonly ingest?: IngestMode;
  /**
   * When a segment is finished (by size, and with batch ingest by age too) and how much loaded
   * spool is kept; the defaults unless set.
   */
  readonly spool?: SpoolOptions & { readonly keepLoadedBytes?: number };
  /** Refusals kept in the database (refusalBounds.ts DEFAULT_MAX_REFUSALS unless set). */
  readonly maxRefusals?: number;
  /** The stack's retentionDays: the loader prunes older days on start and daily. Undefined keeps everything. */
  readonly retentionDays?: number;
}

export interface RunningPipeline {
  /** The address the server listens on, e.g. http://127.0.0.1:8080/ or http://0.0.0.0:8080/ */
  readonly url: string;
  /** The dashboard from this machine, e.g. http://127.0.0.1:8080/; with `#token=…` when the server is reachable from others. */
  readonly dashboardUrl: string;
  readonly pixelUrl: string;
  /** Whether only this machine can reach the server; if not, /api/stats needs the token too. */
  readonly loopbackOnly: boolean;
  /** Entries the previous run spooled but had not loaded, loaded at start-up. */
  readonly recovered: number;
  /** Stops taking requests, loads everything spooled and closes the database. */
  close(): Promise<void>;
}

/**
 * Starts the whole local pipeline: it checks that no other user can reach its files, takes the
 * port, loads what a previous run spooled and did not load (after kill -9, say), then answers
 * requests. A start that fails removes the data directory if it made it. Visitor ids use the data
 * directory's own key.
 */
export async function startPipeline(options: PipelineOptions): Promise<RunningPipeline> {
  // Resolved once: every file is opened under these paths, never through a link that could be retargeted.
  const paths = await resolveDataPaths(options.paths);
  // The database checks its own files (database.ts) before it creates any.
  await checkPrivateDirectory(paths.spoolDir);
  const made = [paths.dataDir, paths.spoolDir, paths.database, `${paths.database}.wal`, path.join(paths.dataDir, VISITOR_KEY_FILE)].filter((file) => !existsSync(file));
  // Until the spool is recovered nothing can be logged, so nothing is answered but a 503.
  let handle: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => {
    response.writeHead(503, { "retry-after": "1" }).end("starting\n");
  };
  const server = createLimitedServer((request, response) => handle(request, response));
  shareConnections(server, SERVER_LIMITS.maxConnections);
  await listen(server, options.host, options.port);
  try {
    const started = await start({ ...options, paths, settings: await withLocalVisitorKey(options.settings, paths.dataDir) }, server);
    handle = started.handle;
    return started.pipeline;
  } catch (error) {
    await new Promise((resolve) => server.close(resolve));
    for (const file of made) await rm(file, { recursive: true, force: true });
    throw error;
  }
}

/** An HTTP server held to SERVER_LIMITS, whose every answer says nosniff. */
function createLimitedServer(handle: (request: IncomingMessage, response: ServerResponse) => void): Server {
  return createServer(
    {
      headersTimeout: SERVER_LIMITS.headersTimeoutMs,
      requestTimeout: SERVER_LIMITS.requestTimeoutMs,
      keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
      // How often the two timeouts above are enforced (Node's default is 30 s).
      connectionsCheckingInterval: 1_000,
    },
    (request, response) => {
      // Every answer, the pixel's included: no browser may take one for another type than it says.
      response.setHeader("x-content-type-options", "nosniff");
      handle(request, response);
    },
  );
}

async function start(options: PipelineOptions, server: Server) {
  const { settings, paths, warn } = options;
  const batch = options.ingest === "batch";
  const loader = await LoaderProcess.start({ settings, database: paths.database, spoolDir: paths.spoolDir, ingest: options.ingest, keepLoadedBytes: options.spool?.keepLoadedBytes, maxRefusals: options.maxRefusals, retentionDays: options.retentionDays, log: options.log, warn });
  // Streaming loads by line, so a segment's age does not matter to it.
  const spoolOptions = { segmentBytes: options.spool?.segmentBytes, segmentAgeMs: batch ? (options.spool?.segmentAgeMs ?? DEFAULT_SEGMENT_AGE_MS) : undefined };
  const spool = await SpoolWriter.open(paths.spoolDir, spoolOptions).catch(async (error: unknown) => {
    await loader.close();
    throw error;
  });
  let recovered: number;
  try {
    recovered = await loader.drain(spool.durableEnd);
    spool.on("durable", (end: SpoolPosition) => loader.durable(end));
  } catch (error) {
    await spool.close();
    await loader.close();
    throw error;
  }

  const address = server.address() as AddressInfo;
  const loopbackOnly = isLoopback(address.address);
  const url = `http://${urlHost(address.address)}:${address.port}/`;
  const localUrl = `http://${urlHost(loopbackOnly ? address.address : connectAddress(address))}:${address.port}/`;
  const token = newToken();
  const frontEnd = createFrontEnd({
    settings,
    pixel: pixelAsset(await readFile(PIXEL_FILE), (await stat(PIXEL_FILE)).mtime),
    spool,
    warn,
  });
  const dashboard = await createDashboard({
    settings,
    database: loader,
    spool,
    token,
    statsNeedToken: !loopbackOnly,
    hostNames: new Set(["localhost", "127.0.0.1", "[::1]", hostName(urlHost(options.host)), hostName(urlHost(address.address))]),
  });

  // Requests between arrival and answer: shutdown waits for them, as each has an entry on its way to the spool.
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const track = (response: ServerResponse): void => {
    inFlight += 1;
    response.once("close", () => {
      inFlight -= 1;
      if (inFlight === 0) onIdle?.();
    });
  };
  const serveDashboard = (request: IncomingMessage, response: ServerResponse, pathname: string): void => {
    dashboard(request, response, pathname).catch((error: unknown) => {
      warn(`dashboard ${pathname} failed: ${String(error)}`);
      if (!response.headersSent) response.writeHead(500).end();
    });
  };
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    track(response);
    const pathname = pathOf(request);
    if (pathname === settings.pixelPath || !DASHBOARD_PATHS.has(pathname)) return frontEnd(request, response);
    serveDashboard(request, response, pathname);
  };
  // The query command's way in: only this user can reach the socket, so no other program that
  // takes the port after a kill -9 ever sees its statements or its token.
  const querySocket = createLimitedServer((request, response) => {
    track(response);
    if (pathOf(request) !== QUERY_PATH) return void response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("only queries are taken here\n");
    serveDashboard(request, response, QUERY_PATH);
  });
  await listenForQueries(querySocket, paths.querySocket).catch(async (error: unknown) => {
    await spool.close();
    await loader.close();
    throw error;
  });
  const querySocketClosed = new Promise<void>((resolve) => querySocket.once("close", resolve));

  /** Whether every request in flight was answered within the drain bound. */
  const drained = async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      new Promise<boolean>((resolve) => {
        onIdle = () => resolve(true);
        if (inFlight === 0) resolve(true);
      }),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SERVER_LIMITS.drainTimeoutMs))),
    ]);
    clearTimeout(timer);
    return answered;
  };

  await writeServerFile(paths.serverFile, { url: localUrl, token, pid: process.pid, database: paths.database });
  const closed = new Promise<void>((resolve) => server.once("close", resolve));
  const pipeline: RunningPipeline = {
    url,
    dashboardUrl: loopbackOnly ? localUrl : `${localUrl}#token=${token}`,
    pixelUrl: new URL(settings.pixelPath, url).href,
    loopbackOnly,
    recovered,
    async close(): Promise<void> {
      for (const listening of [server, querySocket]) {
        listening.close();
        listening.closeIdleConnections();
      }
      if (!(await drained())) warn(`${inFlight} requests were not answered, or their answers not read, within ${SERVER_LIMITS.drainTimeoutMs / 1000} s of the stop: their connections are closed`);
      // Keep-alive connections stay open after their last answer, and a client that does not read its
      // answers holds its connection; whatever they still wait for is in the spool or never answered.
      server.closeAllConnections();
      querySocket.closeAllConnections();
      await closed;
      await querySocketClosed;
      // Requests whose entries are still on their way to the spool: their lines are synced here.
      await spool.close();
      try {
        // With batch ingest the last segment is finished now, and loaded whole.
        await loader.drain(batch ? spool.finishedEnd : spool.durableEnd);
      } finally {
        await loader.close();
        await removeServerFile(paths.serverFile, token);
      }
    },
  };
  return { pipeline, handle };
}

function pathOf(request: IncomingMessage): string {
  return (request.url ?? "").split("?", 1)[0];
}

/** A socket address holds 104 bytes on macOS and the BSDs (108 on Linux), its final NUL included; a longer path is cut silently. */
const MAX_SOCKET_PATH_BYTES = 103;

/**
 * Listens on the query socket, in the data directory, which no other user can write
 * (privateFiles.ts), mode 0600. A socket left by a server that was killed is replaced; one that
 * a running server answers on is not.
 */
async function listenForQueries(server: Server, socketPath: string): Promise<void> {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`the query socket's path ${socketPath} is ${bytes} bytes, more than a socket address holds (${MAX_SOCKET_PATH_BYTES}): choose a data directory with a shorter path (--data-dir)`);
  }
  const existing = await lstat(socketPath).catch(() => undefined);
  if (existing && !existing.isSocket()) throw new Error(`${socketPath} is not the query socket a server leaves: move it away and start again`);
  if (existing && (await answers(socketPath))) throw new Error(`another server answers queries on ${socketPath}: stop it first, or use another --data-dir`);
  if (existing) await rm(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  await chmod(socketPath, 0o600);
}

/** Whether something accepts connections on the socket. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Takes the port, or says what to do when it cannot. */
async function listen(server: Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const where = `${urlHost(host)}:${port}`;
      const fixes: Record<string, string> = {
        EADDRINUSE: `port ${port} is in use on ${host}, perhaps by another npm start: stop that one, or choose another port with --port (or PIXEL_PORT); --port 0 takes any free port`,
        EACCES: `listening on ${where} is not permitted: ports below 1024 need privileges, so choose another with --port (or PIXEL_PORT)`,
        EADDRNOTAVAIL: `no interface of this machine has the address ${host}: choose another with --host (or PIXEL_HOST), such as 127.0.0.1`,
      };
      reject(new Error(fixes[error.code ?? ""] ?? `cannot listen on ${where}: ${error.message}`));
    });
    server.listen(port, host, resolve);
  });
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(address: string): boolean {
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address) || address === "::1";
}

/** The loopback address a local client connects to when the server listens on every address, or the address itself. */
function connectAddress({ address, family }: AddressInfo): string {
  if (address === "0.0.0.0") return "127.0.0.1";
  if (address === "::") return family === "IPv6" ? "::1" : "127.0.0.1";
  return address;
}

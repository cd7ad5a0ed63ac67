import * as path from "node:path";
import { existsSync } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PIXEL_FILE } from "../assets/pixel";
import type { CoreSettings } from "../core/config/coreSettings";
import type { LogLine } from "../core/delivery";
import { createDashboard, DASHBOARD_PATHS, hostName } from "./dashboard";
import { createFrontEnd } from "./frontEnd";
import { LoaderProcess } from "./loaderProcess";
import { urlHost } from "./logEntry";
import type { DataPaths } from "./paths";
import { pixelAsset } from "./pixelResponse";
import { checkPrivateDirectory } from "./privateFiles";
import { newToken, removeServerFile, writeServerFile } from "./serverFile";
import { SpoolWriter } from "./spool";
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
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: 500,
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
  /** Spool segment size and how much loaded spool is kept; the defaults unless a test wants small ones. */
  readonly spool?: SpoolOptions & { readonly keepLoadedBytes?: number };
  /** Refusals kept in the database (database.ts DEFAULT_MAX_REFUSALS unless set). */
  readonly maxRefusals?: number;
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
  const { paths } = options;
  // The database checks its own files (database.ts) before it creates any.
  for (const dir of [paths.dataDir, paths.spoolDir]) await checkPrivateDirectory(dir);
  const made = [paths.dataDir, paths.spoolDir, paths.database, `${paths.database}.wal`, path.join(paths.dataDir, VISITOR_KEY_FILE)].filter((file) => !existsSync(file));
  // Until the spool is recovered nothing can be logged, so nothing is answered but a 503.
  let handle: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => {
    response.writeHead(503, { "retry-after": "1" }).end("starting\n");
  };
  const server = createServer(
    {
      headersTimeout: SERVER_LIMITS.headersTimeoutMs,
      requestTimeout: SERVER_LIMITS.requestTimeoutMs,
      keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
      // How often the two timeouts above are enforced (Node's default is 30 s).
      connectionsCheckingInterval: 1_000,
    },
    (request, response) => handle(request, response),
  );
  server.maxConnections = SERVER_LIMITS.maxConnections;
  await listen(server, options.host, options.port);
  try {
    const started = await start({ ...options, settings: await withLocalVisitorKey(options.settings, paths.dataDir) }, server);
    handle = started.handle;
    return started.pipeline;
  } catch (error) {
    await new Promise((resolve) => server.close(resolve));
    for (const file of made) await rm(file, { recursive: true, force: true });
    throw error;
  }
}

async function start(options: PipelineOptions, server: Server) {
  const { settings, paths, warn } = options;
  const loader = await LoaderProcess.start({ settings, database: paths.database, spoolDir: paths.spoolDir, keepLoadedBytes: options.spool?.keepLoadedBytes, maxRefusals: options.maxRefusals, log: options.log, warn });
  const spool = await SpoolWriter.open(paths.spoolDir, options.spool).catch(async (error: unknown) => {
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
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    inFlight += 1;
    response.once("close", () => {
      inFlight -= 1;
      if (inFlight === 0) onIdle?.();
    });
    const pathname = (request.url ?? "").split("?", 1)[0];
    if (pathname === settings.pixelPath || !DASHBOARD_PATHS.has(pathname)) return frontEnd(request, response);
    dashboard(request, response, pathname).catch((error: unknown) => {
      warn(`dashboard ${pathname} failed: ${String(error)}`);
      if (!response.headersSent) response.writeHead(500).end();
    });
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
      server.close();
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
      // Keep-alive connections stay open after their last answer; nothing on them is pending now.
      server.closeAllConnections();
      await closed;
      await spool.close();
      try {
        await loader.drain(spool.durableEnd);
      } finally {
        await loader.close();
        await removeServerFile(paths.serverFile, token);
      }
    },
  };
  return { pipeline, handle };
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

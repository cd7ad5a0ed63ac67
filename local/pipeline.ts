import { readFile, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PIXEL_FILE } from "../assets/pixel";
import type { CoreSettings } from "../core/config/coreSettings";
import type { LogLine } from "../core/delivery";
import { createDashboard, DASHBOARD_PATHS, hostName } from "./dashboard";
import { LocalDatabase } from "./database";
import { createFrontEnd } from "./frontEnd";
import { Loader } from "./loader";
import type { DataPaths } from "./paths";
import { pixelAsset } from "./pixelResponse";
import { newToken, removeServerFile, writeServerFile } from "./serverFile";
import { SpoolWriter } from "./spool";
import { withLocalVisitorKey } from "./visitorKey";


export interface PipelineOptions {
  readonly settings: CoreSettings;
  readonly host: string;
  readonly port: number;
  readonly paths: DataPaths;
  /** Refusals and dead letters, one line each. */
  readonly log: (line: LogLine) => void;
  /** Problems the pipeline recovers from itself. */
  readonly warn: (message: string) => void;
}

export interface RunningPipeline {
  /** The dashboard, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  readonly pixelUrl: string;
  /** Entries the previous run spooled but had not loaded, loaded at start-up. */
  readonly recovered: number;
  /** Stops taking requests, loads everything spooled and closes the database. */
  close(): Promise<void>;
}

/**
 * Starts the whole local pipeline: first it loads what a previous run spooled and did not load
 * (after kill -9, say), then it answers requests. Visitor ids use the data directory's own key.
 */
export async function startPipeline(given: PipelineOptions): Promise<RunningPipeline> {
  const options = { ...given, settings: await withLocalVisitorKey(given.settings, given.paths.dataDir) };
  const { settings, paths } = options;
  const database = await LocalDatabase.open(paths.database, settings);
  const spool = await SpoolWriter.open(paths.spoolDir).catch((error: unknown) => {
    database.close();
    throw error;
  });
  try {
    const loader = await Loader.create({ ...options, spoolDir: paths.spoolDir, database, durableEnd: () => spool.durableEnd });
    spool.on("durable", () => loader.wake());
    const recovered = await loader.drain();
    return { ...(await serve(options, database, spool, loader)), recovered };
  } catch (error) {
    await spool.close();
    database.close();
    throw error;
  }
}

async function serve(options: PipelineOptions, database: LocalDatabase, spool: SpoolWriter, loader: Loader) {
  const { settings, paths, warn } = options;
  const token = newToken();
  const frontEnd = createFrontEnd({
    settings,
    pixel: pixelAsset(await readFile(PIXEL_FILE), (await stat(PIXEL_FILE)).mtime),
    spool,
    warn,
  });
  const listenHost = urlHost(options.host);
  const dashboard = await createDashboard({
    settings,
    database,
    spool,
    token,
    hostNames: new Set(["localhost", "127.0.0.1", "[::1]", hostName(listenHost)]),
  });

  // Requests between arrival and answer: shutdown waits for them, as each has an entry on its way to the spool.
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const server = createServer((request, response) => {
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });

  const { port } = server.address() as AddressInfo;
  const url = `http://${connectHost(listenHost)}:${port}/`;
  await writeServerFile(paths.serverFile, { url, token, pid: process.pid, database: paths.database });

  const closed = new Promise<void>((resolve) => server.once("close", resolve));
  return {
    url,
    pixelUrl: new URL(settings.pixelPath, url).href,
    async close(): Promise<void> {
      server.close();
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
      // Keep-alive connections stay open after their last answer; nothing on them is pending now.
      server.closeAllConnections();
      await closed;
      await spool.close();
      try {
        await loader.drain();
      } finally {
        database.close();
        await removeServerFile(paths.serverFile, token);
      }
    },
  };
}

/** A host as it appears in a URL: IPv6 literals in brackets. */
function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The address a local client connects to: the loopback address when the server listens on all of them. */
function connectHost(listenHost: string): string {
  if (listenHost === "0.0.0.0" || listenHost === "") return "127.0.0.1";
  return listenHost === "[::]" ? "[::1]" : listenHost;
}

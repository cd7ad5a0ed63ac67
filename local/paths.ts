import * as path from "node:path";
import { resolvePrivateDirectory } from "./privateFiles";

/** Where the local pipeline keeps its state; everything lives under one data directory by default. */
export interface DataPaths {
  readonly dataDir: string;
  readonly database: string;
  /** Segments of spooled log entries: the durable record of every answered request. */
  readonly spoolDir: string;
  /** The running server's address and query token (mode 0600). */
  readonly serverFile: string;
  /** Where the running server takes the query command's statements: a socket only this user can reach. */
  readonly querySocket: string;
}

export const DEFAULT_DATA_DIR = ".data";

export function dataPaths(dataDir: string, database?: string): DataPaths {
  const dir = path.resolve(dataDir);
  return {
    dataDir: dir,
    database: path.resolve(database ?? path.join(dir, "pixel.duckdb")),
    spoolDir: path.join(dir, "spool"),
    serverFile: path.join(dir, "server.json"),
    querySocket: path.join(dir, "query.sock"),
  };
}

/**
 * The same paths through no link: the data directory and the database's directory resolved once
 * (realpath) and checked, every component, as private (privateFiles.ts). Whoever can retarget a
 * link on the way later (another user's, in /tmp) cannot move the files used from then on.
 */
export async function resolveDataPaths(paths: DataPaths): Promise<DataPaths> {
  const dataDir = await resolvePrivateDirectory(paths.dataDir);
  const databaseDir = await resolvePrivateDirectory(path.dirname(paths.database));
  return dataPaths(dataDir, path.join(databaseDir, path.basename(paths.database)));
}

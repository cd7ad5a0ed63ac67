import { randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { checkSecretFile, writePrivateFile } from "./privateFiles";

/**
 * How the query command finds a running server. DuckDB lets one process write a file, so while
 * the server runs, queries go through it. The token lives in a file only the user can read:
 * a web page the browser opens cannot learn it, so it cannot make the browser run SQL here.
 */
export interface ServerFile {
  /** The dashboard's base URL on a loopback address; queries go to the query socket instead (paths.ts), which only this user can reach. */
  readonly url: string;
  readonly token: string;
  readonly pid: number;
  /** The database file the server holds; queries for another file open it themselves. */
  readonly database: string;
}

export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Written whole and then renamed into place, so a reader never sees half a file; 0600 from the start. */
export async function writeServerFile(file: string, contents: ServerFile): Promise<void> {
  await writePrivateFile(file, JSON.stringify(contents));
}

/** The file's contents, or undefined when no server has written one; throws when the file is not one a server of ours wrote. */
export async function readServerFile(file: string): Promise<ServerFile | undefined> {
  await checkSecretFile(file, "the server file, which holds the query token,")
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  return text === undefined ? undefined : (JSON.parse(text) as ServerFile);
}

/** Removes the file if it is still this server's: another server may have replaced it. */
export async function removeServerFile(file: string, token: string): Promise<void> {
  if ((await readServerFile(file))?.token === token) await rm(file, { force: true });
}

import { existsSync } from "node:fs";
import { QueryError, queryDatabaseFile } from "./database";
import type { JsonRow } from "./database";
import { QUERY_PATH } from "./dashboard";
import { resolveDataPaths } from "./paths";
import type { DataPaths } from "./paths";
import { readServerFile } from "./serverFile";
import type { ServerFile } from "./serverFile";

/**
 * Runs one read-only statement on the local database. DuckDB lets one process write a file and
 * no other process open it meanwhile, so while the server runs it runs the query; otherwise the
 * file is opened read-only here. Both apply the same statement rules.
 */
export async function runQuery(sql: string, given: DataPaths): Promise<JsonRow[]> {
  const paths = await resolveDataPaths(given);
  const server = await readServerFile(paths.serverFile);
  const rows = server?.database === paths.database ? await askServer(server, sql) : undefined;
  if (rows) return rows;
  if (!existsSync(paths.database)) {
    throw new QueryError(`there is no database at ${paths.database} yet: start the local pipeline with npm start`);
  }
  return queryDatabaseFile(paths.database, sql);
}

/** The rows, or undefined when no server listens any more (its file outlives a kill -9). */
async function askServer(server: ServerFile, sql: string): Promise<JsonRow[] | undefined> {
  let response: Response;
  try {
    response = await fetch(new URL(QUERY_PATH, server.url), {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sql }),
    });
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED") return undefined;
    throw error;
  }
  const body = (await response.json()) as { rows?: JsonRow[]; error?: string };
  if (!response.ok || !body.rows) throw new QueryError(body.error ?? `the server at ${server.url} answered ${response.status}`);
  return body.rows;
}

import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import type { OutgoingHttpHeaders } from "node:http";
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
  if (server?.database === paths.database) return askServer(server, sql, paths);
  if (!existsSync(paths.database)) {
    throw new QueryError(`there is no database at ${paths.database} yet: start the local pipeline with npm start`);
  }
  return queryDatabaseFile(paths.database, sql);
}

/**
 * The rows, from the server over its query socket, which only this user can reach: never over
 * TCP, where after a kill -9 another program may hold the port and take the statement and the token.
 */
async function askServer(server: ServerFile, sql: string, paths: DataPaths): Promise<JsonRow[]> {
  let answer: { status: number; text: string };
  try {
    answer = await post(paths.querySocket, { authorization: `Bearer ${server.token}`, "content-type": "application/json" }, JSON.stringify({ sql }));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ECONNREFUSED" && code !== "ENOENT") throw error;
    throw new QueryError(
      `${paths.serverFile} is left by a server (pid ${server.pid}) that no longer answers on ${paths.querySocket}: it was stopped without cleaning up (kill -9, say). ` +
        `Start it again with npm start, which loads what it spooled, or delete ${paths.serverFile} to query the database file as it is.`,
    );
  }
  const body = JSON.parse(answer.text) as { rows?: JsonRow[]; error?: string };
  if (answer.status !== 200 || !body.rows) throw new QueryError(body.error ?? `the server on ${paths.querySocket} answered ${answer.status}`);
  return body.rows;
}

function post(socketPath: string, headers: OutgoingHttpHeaders, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ socketPath, path: QUERY_PATH, method: "POST", headers: { host: "localhost", ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(body);
  });
}

/**
 * What a query gives: rows as JSON, or a QueryError. In a module of its own, without DuckDB, so the
 * front end can pass on the answers of the loader's process, which holds the database, without
 * loading DuckDB itself.
 */

/** A value as a row holds it once converted to JSON (database.ts `toJsonRows`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type JsonRow = Record<string, Json>;

/** Thrown for SQL the query command cannot run; the message is for the user. */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryError";
  }
}

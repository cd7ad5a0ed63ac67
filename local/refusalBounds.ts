import { DELIVERY_FAILURE_REASONS } from "../core/delivery";

/**
 * What the database keeps of refused requests. Any web page open in the user's browser can make
 * it send refused requests to the local server, each up to the spool's MAX_LINE_BYTES: 20,000 with
 * 15 KB URLs, stored whole, took 634 MB of database. So each is stored cut, and only the newest
 * are kept. Here, apart from the loader and the database, so the front end and the commands can
 * name the bounds without loading DuckDB.
 */

/** The most a stored refusal's `log_entry` takes, in bytes of UTF-8 (loader.ts cuts it); dead letters keep theirs whole. */
export const REFUSAL_ENTRY_BYTES = 4096;

/**
 * Refusals kept by default, dead letters aside; older ones are deleted (database.ts). A refusal
 * with a 15 KB URL takes about 1.7 KB of file, so this keeps them near 85 MB.
 */
export const DEFAULT_MAX_REFUSALS = 50_000;

/**
 * The reasons of dead letters: rows the store refused, stored beside the refusals. They are
 * events to load again, not hostile input, so their entries are kept whole and never deleted to
 * make room.
 */
export const DEAD_LETTER_REASONS: readonly string[] = Object.keys(DELIVERY_FAILURE_REASONS);

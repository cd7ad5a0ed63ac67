import { PARTITIONED_TABLE } from "../core/layout";
import { LoadJobExistsError } from "../functions/archiveLoader";
import type { LoadJobs, LoadJobState } from "../functions/archiveLoader";
import type { LoadJobRecord, LoadTarget, LocalDatabase } from "./database";
import { parseDayTableName } from "./duckdbSchema";

/** `events_partitioned` or `events_partitioned$YYYYMMDD`: the partitioned table, or one day of it. */
const PARTITION = new RegExp(`^${PARTITIONED_TABLE}(?:\\$(\\d{4})(\\d{2})(\\d{2}))?$`);

/**
 * Where a load job's table is locally. The loader names the tables BigQuery stores into (a day
 * table `<template>_<tenant>_<YYYYMMDD>`, the partitioned table, or one partition of it for a
 * rebuild); the local database keeps every row in its one table, with the tenant and day.
 */
export function localLoadTarget(table: string, templateTable: string): LoadTarget {
  const partition = PARTITION.exec(table);
  if (partition) return partition[1] === undefined ? { kind: "partitioned" } : { kind: "partitioned", day: `${partition[1]}-${partition[2]}-${partition[3]}` };
  const dayTable = parseDayTableName(templateTable, table);
  if (dayTable) return { kind: "day-table", tenant: dayTable.tenant, day: dayTable.date };
  throw new Error(`${JSON.stringify(table)} is no table a load job writes: a day table ${templateTable}_<tenant>_<YYYYMMDD>, ${PARTITIONED_TABLE} or ${PARTITIONED_TABLE}$YYYYMMDD`);
}

function jobState(record: LoadJobRecord): LoadJobState {
  return { done: true, errors: record.errors.map((message) => ({ reason: "invalid", message })), outputRows: record.rows };
}

/**
 * Tables whose rows one read of an object feeds at once: every table of a spool segment. Each
 * insert gathers its rows in memory until the read ends (so at most the rows of one object), and
 * the jobs then run one after the other. Taking one table per read instead read a segment of 1,000
 * invented tenants 1,000 times: 194 s for 5,000 lines, against 1.5 s for the partitioned layout.
 */
const TABLES_PER_READ = 100_000;

/**
 * The loader's load jobs over the local DuckDB file, as BigQuery runs them: a job id runs at most
 * once, and a job's rows and its record commit in one transaction (LocalDatabase.loadJob), so a
 * crash leaves both or neither, and a job that did not commit runs again in full. Rows are stored
 * as the streaming loader stores them, keyed by insert_id. A job is done when insert resolves.
 * The file has one writing connection, so the jobs' transactions run one after the other.
 */
export function duckDbLoadJobs(database: LocalDatabase, templateTable: string): LoadJobs {
  let transactions: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const result = transactions.then(work, work);
    transactions = result.catch(() => undefined);
    return result;
  };
  return {
    maxConcurrentInserts: TABLES_PER_READ,
    async get(jobId) {
      const record = await database.readLoadJob(jobId);
      return record && jobState(record);
    },
    async insert({ id, table, rows, replace = false }) {
      const target = localLoadTarget(table, templateTable);
      const gathered: string[] = [];
      for await (const row of rows) gathered.push(row);
      const record = await oneAtATime(() => database.loadJob({ id, table, target, rows: gathered, replace }));
      if (!record) throw new LoadJobExistsError(id);
      return jobState(record);
    },
    async wait(jobId) {
      const record = await database.readLoadJob(jobId);
      if (!record) throw new Error(`no load job ${jobId}: a local job is done once its insert resolves`);
      return jobState(record);
    },
  };
}

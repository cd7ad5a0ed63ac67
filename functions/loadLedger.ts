import type { Dataset } from "@google-cloud/bigquery";
import { LOAD_LEDGER_TABLE } from "../core/batchLoad";
import type { LoadOutcome } from "../core/batchLoad";
import { ledgerHistoryQuery, ledgerInsertId } from "../core/loadLedger";
import type { LedgerCount, LedgerSelection } from "../core/loadLedger";

/** One attempt's row in the ledger (core/batchLoad.ts LOAD_LEDGER_SCHEMA). */
export interface LedgerEntry {
  /** gs://bucket/name */
  readonly object: string;
  readonly generation?: string;
  readonly outcome: LoadOutcome;
  /** The attempt this row records, counted from 1: with the outcome it keys the row's insertId. */
  readonly attempt: number;
  readonly entries?: number;
  readonly rows?: number;
  readonly refused?: number;
  /** JSON list of the object's load jobs. */
  readonly jobs?: string;
  readonly detail?: string;
  readonly recordedAt: Date;
}

/** Where the batch tier keeps what became of each archive object. */
export interface LoadLedger {
  /** Writes one attempt's row; writing the same attempt again adds nothing. */
  record(entry: LedgerEntry): Promise<void>;
  /** The ledger's rows counted by object and outcome. */
  counts(selection: LedgerSelection): Promise<LedgerCount[]>;
}

interface CountRow {
  object: string;
  outcome: string;
  attempts: number | string;
  first_recorded_at: { value: string } | string;
}

/**
 * The ledger as a BigQuery table: rows streamed with insertAll, whose insertId makes a retried
 * write of the same attempt a no-op, and read back with a query, which sees streamed rows at once.
 */
export function bigQueryLedger(dataset: Dataset): LoadLedger {
  const table = dataset.table(LOAD_LEDGER_TABLE);
  return {
    async record(entry) {
      const { attempt, recordedAt, ...columns } = entry;
      const row = { ...columns, recorded_at: recordedAt.toISOString() };
      await table.insert([{ insertId: ledgerInsertId(entry.object, entry.generation, entry.outcome, attempt), json: row }], { raw: true, partialRetries: 0 });
    },
    async counts(selection) {
      const [job] = await dataset.bigQuery.createQueryJob({ query: ledgerHistoryQuery(dataset.id ?? "", selection), useLegacySql: false, jobPrefix: "load_ledger_" });
      const [rows] = await job.getQueryResults();
      return (rows as CountRow[]).map((row) => ({
        object: row.object,
        outcome: row.outcome,
        attempts: Number(row.attempts),
        firstRecordedAt: new Date(typeof row.first_recorded_at === "string" ? row.first_recorded_at : row.first_recorded_at.value),
      }));
    },
  };
}

import type { Table } from "@google-cloud/bigquery";
import type { AcceptedEvent } from "./core/event";
import { RowRejectedError, RowWriter } from "./handler";

interface InsertError {
  errors?: { reason?: string; message?: string }[];
}

/** Well within the function's timeout, so a hung call ends as a Pub/Sub redelivery, not a stuck instance. */
export const DEFAULT_INSERT_DEADLINE_MS = 10_000;

export class InsertDeadlineError extends Error {
  constructor(deadlineMs: number) {
    super(`insertAll did not answer within ${deadlineMs} ms`);
    this.name = "InsertDeadlineError";
  }
}

/**
 * Streams each event with one insertAll call on the template table: BigQuery creates the day
 * table from the template on first use, so there is no dataset or table lookup per event.
 */
export function bigQueryWriter(templateTable: Table, deadlineMs = DEFAULT_INSERT_DEADLINE_MS): RowWriter {
  return {
    async insert(event: AcceptedEvent): Promise<void> {
      const insert = templateTable.insert([{ insertId: event.insertId, json: event.row }], {
        raw: true,
        templateSuffix: event.tableSuffix,
        // Pub/Sub redelivery is the retry: the client's own partial retries would add API calls.
        partialRetries: 0,
      });
      try {
        await withDeadline(insert, deadlineMs);
      } catch (error) {
        const rowErrors = (error as { name?: string; errors?: InsertError[] }).errors ?? [];
        const reasons = rowErrors.flatMap((rowError) => rowError.errors ?? []);
        if ((error as { name?: string }).name === "PartialFailureError" && reasons.some((reason) => reason.reason === "invalid")) {
          throw new RowRejectedError(reasons.map((reason) => `${reason.reason}: ${reason.message}`).join("; "));
        }
        throw error;
      }
    },
  };
}

/**
 * The client's own `timeout` option is passed to node-fetch 3, which ignores it
 * (googleapis/google-cloud-node#7998), so the deadline is kept here. The abandoned call may still
 * store its row; the redelivery carries the same insertId, so BigQuery drops the duplicate.
 */
async function withDeadline<T>(call: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InsertDeadlineError(deadlineMs)), deadlineMs);
  });
  call.catch(() => undefined); // its late failure is already reported as the deadline
  try {
    return await Promise.race([call, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

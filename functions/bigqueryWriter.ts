import type { Table } from "@google-cloud/bigquery";
import type { AcceptedEvent } from "./core/event";
import { RowRejectedError, RowWriter } from "./handler";

interface InsertError {
  errors?: { reason?: string; message?: string }[];
}

/**
 * Streams each event with one insertAll call on the template table: BigQuery creates the day
 * table from the template on first use, so there is no dataset or table lookup per event.
 */
export function bigQueryWriter(templateTable: Table): RowWriter {
  return {
    async insert(event: AcceptedEvent): Promise<void> {
      try {
        await templateTable.insert([{ insertId: event.insertId, json: event.row }], {
          raw: true,
          templateSuffix: event.tableSuffix,
          // Pub/Sub redelivery is the retry: the client's own partial retries would add API calls.
          partialRetries: 0,
        });
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

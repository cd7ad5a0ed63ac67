import { Readable } from "node:stream";
import { once } from "node:events";
import { pipeline } from "node:stream/promises";
import type { BigQuery, JobLoadMetadata } from "@google-cloud/bigquery";
import type { SchemaField } from "../core/schema";
import { LoadJobExistsError } from "./archiveLoader";
import type { LoadJobError, LoadJobs, LoadJobState } from "./archiveLoader";

export interface BigQueryLoadJobsOptions {
  /** The dataset's location, which its jobs share; BigQuery finds US and EU jobs without it. */
  readonly location?: string;
  /** The first pause between two looks at a running job; each next pause is half as long again. */
  readonly pollIntervalMs?: number;
  /** The longest pause between two looks. */
  readonly maxPollIntervalMs?: number;
}

export const DEFAULT_POLL_INTERVAL_MS = 1_000;
export const DEFAULT_MAX_POLL_INTERVAL_MS = 10_000;

/** Rows are written to the upload in pieces of about this many characters: one write per row would cost more than the row. */
const UPLOAD_PIECE_CHARACTERS = 64 * 1024;

/**
 * The batch loader's jobs in BigQuery: each a load job with the engine's own job id, whose rows go
 * out as the job's upload (newline-delimited JSON, in the table's schema, appended, the table
 * created if needed) while the object is read: never a file, since Cloud Run's disk is memory,
 * and never the whole upload in memory.
 *
 * `schemaFor` gives a table's columns (core/layout.ts storedSchema): a per-tenant-day day table is
 * created by its first load with the template's columns, as the templateSuffix insert creates it
 * when streaming; the partitioned table already exists. A day table created before the template
 * gained columns takes them with the load (ALLOW_FIELD_ADDITION).
 */
export function bigQueryLoadJobs(bigquery: BigQuery, datasetId: string, schemaFor: (table: string) => readonly SchemaField[], options: BigQueryLoadJobsOptions = {}): LoadJobs {
  const dataset = bigquery.dataset(datasetId, options.location === undefined ? {} : { location: options.location });
  const job = (jobId: string) => bigquery.job(jobId, options.location === undefined ? {} : { location: options.location });

  async function get(jobId: string): Promise<LoadJobState | undefined> {
    try {
      const [metadata] = await job(jobId).getMetadata();
      return jobState(metadata as BigQueryJob);
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw error;
    }
  }

  return {
    get,

    async insert({ id, table, rows, replace }) {
      const metadata: JobLoadMetadata = {
        jobId: id,
        sourceFormat: "NEWLINE_DELIMITED_JSON",
        schema: { fields: schemaFor(table.split("$")[0]).map((field) => ({ ...field })) },
        writeDisposition: replace ? "WRITE_TRUNCATE" : "WRITE_APPEND",
        createDisposition: "CREATE_IF_NEEDED",
        // BigQuery takes schema updates with an append, or with a replace of one partition only.
        ...(replace && !table.includes("$") ? {} : { schemaUpdateOptions: ["ALLOW_FIELD_ADDITION"] }),
      };
      // createWriteStream_ rather than createWriteStream: the public one also polls the job until
      // it ends, in the background; the engine decides when to look (wait).
      const upload = dataset.table(table).createWriteStream_(metadata);
      // The job's answer comes after the upload; when BigQuery refuses the job, the answer's error
      // (a 409, say) is the one that counts, not the upload it cut short.
      const [answer, sent] = await Promise.allSettled([once(upload, "job") as Promise<[{ metadata: BigQueryJob } | null]>, pipeline(Readable.from(uploadPieces(rows)), upload)]);
      if (answer.status === "rejected") {
        if ((answer.reason as { code?: unknown }).code === 409) throw new LoadJobExistsError(id);
        throw answer.reason;
      }
      if (sent.status === "rejected") throw sent.reason;
      const [created] = answer.value;
      if (!created) throw new Error(`BigQuery answered the load job ${id} without a job reference`);
      return jobState(created.metadata);
    },

    async wait(jobId) {
      let pause = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
      for (;;) {
        const state = await get(jobId);
        if (state === undefined) throw new Error(`load job ${jobId} is not there to wait for`);
        if (state.done) return state;
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 1.5, options.maxPollIntervalMs ?? DEFAULT_MAX_POLL_INTERVAL_MS);
      }
    },
  };
}

/** What the engine reads of a job resource. */
interface BigQueryJob {
  readonly status?: { readonly state?: string; readonly errorResult?: LoadJobError; readonly errors?: readonly LoadJobError[] };
  readonly statistics?: { readonly load?: { readonly outputRows?: string | number } };
}

/**
 * BigQuery says a job failed with status.errorResult; status.errors may also list errors of a job
 * that succeeded (rows skipped under maxBadRecords, which these loads never allow), so they count
 * only beside an errorResult.
 */
export function jobState(job: BigQueryJob): LoadJobState {
  const status = job.status ?? {};
  const errors = status.errorResult ? [status.errorResult, ...(status.errors ?? []).filter((error) => !sameError(error, status.errorResult!))] : [];
  const outputRows = job.statistics?.load?.outputRows;
  return {
    done: status.state === "DONE",
    errors: errors.map(({ reason, message, location }) => ({ ...(reason ? { reason } : {}), ...(message ? { message } : {}), ...(location ? { location } : {}) })),
    ...(outputRows === undefined ? {} : { outputRows: Number(outputRows) }),
  };
}

function sameError(a: LoadJobError, b: LoadJobError): boolean {
  return a.reason === b.reason && a.message === b.message && a.location === b.location;
}

async function* uploadPieces(rows: AsyncIterable<string>): AsyncGenerator<string> {
  let piece = "";
  for await (const row of rows) {
    piece += `${row}\n`;
    if (piece.length >= UPLOAD_PIECE_CHARACTERS) {
      yield piece;
      piece = "";
    }
  }
  if (piece !== "") yield piece;
}

import { LoadJobExistsError } from "../../functions/archiveLoader";
import { bigQueryLoadJobs, jobState } from "../../functions/bigqueryLoads";
import { PARTITIONED_TABLE, storedSchema } from "../../core/layout";
import { BigQueryStandIn } from "../../testkit/bigQueryStandIn";
import { DEV_SETTINGS } from "../../testkit/logEntries";

const bigQuery = new BigQueryStandIn();

beforeAll(() => bigQuery.start());
afterAll(() => bigQuery.stop());
beforeEach(() => bigQuery.reset());

const schemaFor = (table: string) => storedSchema(table === PARTITIONED_TABLE ? "partitioned" : "per-tenant-day", DEV_SETTINGS.attributes);
const loads = () => bigQueryLoadJobs(bigQuery.client(), "pixel_dev", schemaFor, { pollIntervalMs: 1, maxPollIntervalMs: 2 });

async function* rowsOf(...rows: readonly object[]): AsyncGenerator<string> {
  for (const row of rows) yield JSON.stringify(row);
}

const ROW = { insert_id: "a", user_id: "acme" };

describe("a load job through the real client", () => {
  it("uploads the rows as newline-delimited JSON under the caller's job id, appending in the template's schema and creating the table if needed", async () => {
    const state = await loads().insert({ id: "pixel_load_1", table: "pixel_acme_20260105", rows: rowsOf(ROW, { ...ROW, insert_id: "b" }) });
    expect(state).toEqual({ done: true, errors: [], outputRows: 2 });
    const job = bigQuery.loadJobs.get("pixel_load_1")!;
    expect(job.configuration.load).toMatchObject({
      destinationTable: { projectId: "test-project", datasetId: "pixel_dev", tableId: "pixel_acme_20260105" },
      sourceFormat: "NEWLINE_DELIMITED_JSON",
      writeDisposition: "WRITE_APPEND",
      createDisposition: "CREATE_IF_NEEDED",
      schemaUpdateOptions: ["ALLOW_FIELD_ADDITION"],
    });
    expect(job.configuration.load.schema?.fields.map((field) => field.name)).toEqual(storedSchema("per-tenant-day", DEV_SETTINGS.attributes).map((field) => field.name));
    expect(bigQuery.loadedRows("pixel_acme_20260105")).toEqual([ROW, { ...ROW, insert_id: "b" }]);
  });

  it("takes the partitioned table's schema for it, and replaces a partition when asked", async () => {
    await loads().insert({ id: "pixel_rebuild_1", table: `${PARTITIONED_TABLE}$20260105`, rows: rowsOf(ROW), replace: true });
    const load = bigQuery.loadJobs.get("pixel_rebuild_1")!.configuration.load;
    expect(load).toMatchObject({ writeDisposition: "WRITE_TRUNCATE", schemaUpdateOptions: ["ALLOW_FIELD_ADDITION"] });
    expect(load.schema?.fields.map((field) => field.name)).toEqual(storedSchema("partitioned", DEV_SETTINGS.attributes).map((field) => field.name));
  });

  it("replaces a whole day table without schema update options, which BigQuery allows only on appends and partitions", async () => {
    await loads().insert({ id: "pixel_rebuild_2", table: "pixel_acme_20260105", rows: rowsOf(ROW), replace: true });
    const load = bigQuery.loadJobs.get("pixel_rebuild_2")!.configuration.load;
    expect(load.writeDisposition).toBe("WRITE_TRUNCATE");
    expect(load.schemaUpdateOptions).toBeUndefined();
  });

  it("streams a large upload in pieces, every row arriving once", async () => {
    async function* many(): AsyncGenerator<string> {
      for (let index = 0; index < 20_000; index++) yield JSON.stringify({ insert_id: String(index), user_id: "acme" });
    }
    const state = await loads().insert({ id: "pixel_load_many", table: "pixel_acme_20260105", rows: many() });
    expect(state.outputRows).toBe(20_000);
    expect(new Set(bigQuery.loadedRows("pixel_acme_20260105").map((row) => row.insert_id)).size).toBe(20_000);
  });

  it("rejects with LoadJobExistsError when the id is taken (BigQuery's 409), and loads nothing more", async () => {
    const jobs = loads();
    await jobs.insert({ id: "pixel_load_1", table: "pixel_acme_20260105", rows: rowsOf(ROW) });
    await expect(jobs.insert({ id: "pixel_load_1", table: "pixel_acme_20260105", rows: rowsOf({ ...ROW, insert_id: "b" }) })).rejects.toBeInstanceOf(LoadJobExistsError);
    expect(bigQuery.duplicateLoads).toEqual(["pixel_load_1"]);
    expect(bigQuery.loadedRows("pixel_acme_20260105")).toEqual([ROW]);
  });

  it("creates no job when the rows cannot be read to their end", async () => {
    async function* broken(): AsyncGenerator<string> {
      yield JSON.stringify(ROW);
      throw new Error("the object could not be read");
    }
    await expect(loads().insert({ id: "pixel_load_1", table: "pixel_acme_20260105", rows: broken() })).rejects.toThrow("the object could not be read");
    expect(await loads().get("pixel_load_1")).toBeUndefined();
    expect(bigQuery.loadJobs.size).toBe(0);
  });
});

describe("a load job's state", () => {
  it("is undefined for an id BigQuery does not know (jobs.get 404)", async () => {
    expect(await loads().get("pixel_load_none")).toBeUndefined();
  });

  it("is waited for while it runs, by polling jobs.get", async () => {
    bigQuery.scriptLoads({ runningLooks: 3 });
    const jobs = loads();
    expect(await jobs.insert({ id: "pixel_load_1", table: "pixel_acme_20260105", rows: rowsOf(ROW) })).toEqual({ done: false, errors: [] });
    expect(bigQuery.loadedRows("pixel_acme_20260105")).toEqual([]);
    expect(await jobs.wait("pixel_load_1")).toEqual({ done: true, errors: [], outputRows: 1 });
    // Three looks while it runs, one that finds it done.
    expect(bigQuery.requests.filter((request) => request.method === "GET")).toHaveLength(4);
    expect(bigQuery.loadedRows("pixel_acme_20260105")).toEqual([ROW]);
  });

  it("carries BigQuery's errors when the job failed (status.errorResult, then the other errors)", async () => {
    const errorResult = { reason: "invalid", message: "Error while reading data, error message: JSON table encountered too many errors", location: "gs://x" };
    const other = { reason: "invalid", message: "Could not parse 'x' as INT64 for field order_id" };
    bigQuery.scriptLoads({ errors: [errorResult, other] });
    const jobs = loads();
    await jobs.insert({ id: "pixel_load_1", table: "pixel_acme_20260105", rows: rowsOf(ROW) });
    expect(await jobs.get("pixel_load_1")).toEqual({ done: true, errors: [errorResult, other] });
    expect(bigQuery.loadedRows("pixel_acme_20260105")).toEqual([]);
  });
});

describe("jobState", () => {
  const invalid = { reason: "invalid", message: "Could not parse 'x' as INT64" };
  it.each<[string, Parameters<typeof jobState>[0], ReturnType<typeof jobState>]>([
    ["a pending job", { status: { state: "PENDING" } }, { done: false, errors: [] }],
    ["a running job", { status: { state: "RUNNING" } }, { done: false, errors: [] }],
    ["a job done without errors", { status: { state: "DONE" }, statistics: { load: { outputRows: "12" } } }, { done: true, errors: [], outputRows: 12 }],
    // status.errors without an errorResult lists rows skipped by a job that succeeded.
    ["a job that succeeded with errors it could skip", { status: { state: "DONE", errors: [invalid] } }, { done: true, errors: [] }],
    ["a failed job, whose errorResult is also among its errors", { status: { state: "DONE", errorResult: invalid, errors: [invalid, { reason: "stopped", message: "too many errors" }] } }, { done: true, errors: [invalid, { reason: "stopped", message: "too many errors" }] }],
  ])("reads %s", (_, job, state) => {
    expect(jobState(job)).toEqual(state);
  });
});

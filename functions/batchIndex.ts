// Entry point of the batch tier's bundle: the loader and the sweep. Settings, the country table and
// the clients are made once per instance, at cold start, not per event.
import { BigQuery } from "@google-cloud/bigquery";
import { storedSchema } from "../core/layout";
import type { LogLine } from "../core/delivery";
import { ARCHIVE_BUCKET_VARIABLE, DATASET_LOCATION_VARIABLE, DATASET_VARIABLE } from "../core/functionContract";
import type { LoadLogLine } from "../core/loadLedger";
import { registerBatchFunctions } from "./batchApp";
import { bigQueryLoadJobs } from "./bigqueryLoads";
import { requiredVariable, settingsFromEnvironment } from "./environment";
import { serviceApi } from "./googleApi";
import { bigQueryLedger } from "./loadLedger";

const settings = settingsFromEnvironment(__dirname);
const datasetId = requiredVariable(DATASET_VARIABLE);
const location = process.env[DATASET_LOCATION_VARIABLE] || undefined;
const bigQuery = new BigQuery();
const schema = storedSchema(settings.layout, settings.attributes);

registerBatchFunctions({
  settings,
  jobs: bigQueryLoadJobs(bigQuery, datasetId, () => schema, { location }),
  ledger: bigQueryLedger(bigQuery.dataset(datasetId, { location })),
  storage: serviceApi("storage"),
  archiveBucket: requiredVariable(ARCHIVE_BUCKET_VARIABLE),
  log: (line: LogLine | LoadLogLine) => console.log(JSON.stringify(line)),
});

// Entry point of the deployed bundle. Settings are read and the BigQuery client is created once
// per instance, at cold start, not per event.
import { BigQuery, BigQueryOptions } from "@google-cloud/bigquery";
import { registerPixelFunction } from "./app";
import { bigQueryWriter } from "./bigqueryWriter";
import { parseCoreSettingsJson, withSigningKeys } from "./core/settings";
import { jsonLineLogger } from "./handler";

// The signing keys arrive from Secret Manager as an environment variable, never in the settings JSON.
const settings = withSigningKeys(parseCoreSettingsJson(process.env.PIXEL_PIPELINE_SETTINGS), process.env);
const datasetId = process.env.PIXEL_DATASET_ID;
if (!datasetId) throw new Error("PIXEL_DATASET_ID is not set: the Pulumi program sets it on the deployed function.");

// A hung insertAll must end well within the function's timeout, as a Pub/Sub redelivery.
// `timeout` reaches the HTTP layer although BigQueryOptions does not declare it.
const INSERT_TIMEOUT_MS = 10_000;
const templateTable = new BigQuery({ timeout: INSERT_TIMEOUT_MS } as BigQueryOptions).dataset(datasetId).table(settings.templateTable);
registerPixelFunction(settings, bigQueryWriter(templateTable), jsonLineLogger);

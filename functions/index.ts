// Entry point of the deployed bundle. Settings are read and the BigQuery client is created once
// per instance, at cold start, not per event.
import { BigQuery } from "@google-cloud/bigquery";
import { registerPixelFunction } from "./app";
import { bigQueryWriter, DEFAULT_INSERT_DEADLINE_MS } from "./bigqueryWriter";
import { insertTableName } from "./core/layout";
import { parseCoreSettingsJson, withSigningKeys } from "./core/settings";
import { jsonLineLogger } from "./handler";

// The signing keys arrive from Secret Manager as an environment variable, never in the settings JSON.
const settings = withSigningKeys(parseCoreSettingsJson(process.env.PIXEL_PIPELINE_SETTINGS), process.env);
const datasetId = process.env.PIXEL_DATASET_ID;
if (!datasetId) throw new Error("PIXEL_DATASET_ID is not set: the Pulumi program sets it on the deployed function.");

const table = new BigQuery().dataset(datasetId).table(insertTableName(settings.layout, settings.templateTable));
registerPixelFunction(settings, bigQueryWriter(table, DEFAULT_INSERT_DEADLINE_MS, settings.layout), jsonLineLogger);

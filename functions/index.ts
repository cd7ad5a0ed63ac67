// Entry point of the deployed bundle. Settings and the country table are read and the BigQuery
// client is created once per instance, at cold start, not per event.
import { BigQuery } from "@google-cloud/bigquery";
import { cloudDelivery } from "../core/delivery";
import { DATASET_VARIABLE, DELIVERY_ATTEMPTS_VARIABLE } from "../core/functionContract";
import { insertTableName } from "../core/layout";
import { registerPixelFunction } from "./app";
import { bigQueryWriter, DEFAULT_INSERT_DEADLINE_MS } from "./bigqueryWriter";
import { requiredVariable, settingsFromEnvironment } from "./environment";
import { jsonLineLogger } from "./handler";

const settings = settingsFromEnvironment(__dirname);
const datasetId = requiredVariable(DATASET_VARIABLE);
const maxDeliveryAttempts = Number(process.env[DELIVERY_ATTEMPTS_VARIABLE]);
if (!Number.isInteger(maxDeliveryAttempts) || maxDeliveryAttempts < 1) {
  throw new Error(`${DELIVERY_ATTEMPTS_VARIABLE} must be the push subscription's maxDeliveryAttempts: the Pulumi program sets it on the deployed function.`);
}

const table = new BigQuery().dataset(datasetId).table(insertTableName(settings.layout, settings.templateTable));
registerPixelFunction(settings, bigQueryWriter(table, DEFAULT_INSERT_DEADLINE_MS, settings.layout), jsonLineLogger, cloudDelivery(maxDeliveryAttempts));

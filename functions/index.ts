// Entry point of the deployed bundle. Settings and the country table are read and the BigQuery
// client is created once per instance, at cold start, not per event.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { BigQuery } from "@google-cloud/bigquery";
import { parseCoreSettingsJson, withSigningKeys, withVisitorKey } from "../core/config/coreSettings";
import { readCountryTable } from "../core/country";
import { cloudDelivery } from "../core/delivery";
import { COUNTRY_TABLE_FILE, DATASET_VARIABLE, DELIVERY_ATTEMPTS_VARIABLE, SETTINGS_VARIABLE } from "../core/functionContract";
import { insertTableName } from "../core/layout";
import { registerPixelFunction } from "./app";
import { bigQueryWriter, DEFAULT_INSERT_DEADLINE_MS } from "./bigqueryWriter";
import { jsonLineLogger } from "./handler";

// The signing keys and the visitor key arrive from Secret Manager as environment variables, never
// in the settings JSON. The country table is deployed beside the bundle, and mapped without parsing.
const settings = {
  ...withVisitorKey(withSigningKeys(parseCoreSettingsJson(process.env[SETTINGS_VARIABLE]), process.env), process.env),
  countries: readCountryTable(readFileSync(path.join(__dirname, COUNTRY_TABLE_FILE))),
};
const datasetId = process.env[DATASET_VARIABLE];
if (!datasetId) throw new Error(`${DATASET_VARIABLE} is not set: the Pulumi program sets it on the deployed function.`);
const maxDeliveryAttempts = Number(process.env[DELIVERY_ATTEMPTS_VARIABLE]);
if (!Number.isInteger(maxDeliveryAttempts) || maxDeliveryAttempts < 1) {
  throw new Error(`${DELIVERY_ATTEMPTS_VARIABLE} must be the push subscription's maxDeliveryAttempts: the Pulumi program sets it on the deployed function.`);
}

const table = new BigQuery().dataset(datasetId).table(insertTableName(settings.layout, settings.templateTable));
registerPixelFunction(settings, bigQueryWriter(table, DEFAULT_INSERT_DEADLINE_MS, settings.layout), jsonLineLogger, cloudDelivery(maxDeliveryAttempts));

import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { CoreSettings } from "../core/config/coreSettings";
import { parseCoreSettingsJson, withSigningKeys, withVisitorKey } from "../core/config/coreSettings";
import { readCountryTable } from "../core/country";
import { COUNTRY_TABLE_FILE, SETTINGS_VARIABLE } from "../core/functionContract";

/*
 * What every deployed function of this project reads at cold start, once per instance: the
 * collector's bundle (functions/index.ts) and the batch tier's (functions/batchIndex.ts).
 */

/**
 * The parser settings, as the Pulumi program set them. The signing keys and the visitor key
 * arrive from Secret Manager as environment variables, never in the settings JSON. The country
 * table is deployed beside the bundle, and mapped without parsing.
 */
export function settingsFromEnvironment(bundleDirectory: string, environment: NodeJS.ProcessEnv = process.env): CoreSettings {
  return {
    ...withVisitorKey(withSigningKeys(parseCoreSettingsJson(environment[SETTINGS_VARIABLE]), environment), environment),
    countries: readCountryTable(readFileSync(path.join(bundleDirectory, COUNTRY_TABLE_FILE))),
  };
}

/** A variable the Pulumi program sets on the deployed function. */
export function requiredVariable(name: string, environment: NodeJS.ProcessEnv = process.env): string {
  const value = environment[name];
  if (!value) throw new Error(`${name} is not set: the Pulumi program sets it on the deployed function.`);
  return value;
}

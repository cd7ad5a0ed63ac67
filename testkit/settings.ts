import { loadCountryTable } from "../assets/countryTable";
import { readCoreSettings } from "../core/config/coreSettings";
import type { CoreSettings } from "../core/config/coreSettings";
import { ConfigError, ConfigProblems } from "../core/config/fields";
import type { RawConfig } from "../core/config/fields";
import { validateStackConfig } from "../core/config/stackConfig";
import type { StackConfig, StackContext } from "../core/config/stackConfig";

/** One attribute of each type, as a stack file would declare them. */
export const TEST_ATTRIBUTES = { user_id: "STRING", type: "STRING", order_id: "INT64", price: "FLOAT64", beta: "BOOL" } as const;

/** Attributes named like SQL keywords (`order`), so every generated query must quote them. */
export const KEYWORD_ATTRIBUTES = { user_id: "STRING", type: "STRING", order: "INT64" } as const;

/** The problems the parser's settings reader reports for a raw config, each with its key. */
export function coreSettingsProblems(raw: RawConfig): readonly string[] {
  return configProblems(() => settingsFrom(raw));
}

/** Settings from a raw config, read as every program reads them; throws a ConfigError with every problem. */
export function settingsFrom(raw: RawConfig): CoreSettings {
  const problems = new ConfigProblems();
  const settings = readCoreSettings(raw, problems);
  if (!problems.isEmpty) throw new ConfigError(problems.messages);
  return settings;
}

/** A visitor key as the program generates one: 32 bytes as base64. */
export const TEST_VISITOR_KEY = Buffer.alloc(32, 7).toString("base64");

/**
 * Test settings: TEST_ATTRIBUTES unless `raw` names others, then whatever `raw` sets; with the
 * real country table and TEST_VISITOR_KEY, as the function and the local pipeline run the core.
 */
export function settingsFor(raw: RawConfig = {}): CoreSettings {
  return { ...settingsFrom({ attributes: TEST_ATTRIBUTES, ...raw }), countries: loadCountryTable(), visitorKey: TEST_VISITOR_KEY };
}

/**
 * The problems of the ConfigError that `read` throws, or none when it reads without one. Any other
 * error is a bug in the reader, not a problem of the config, and is thrown on.
 */
export function configProblems(read: () => unknown): readonly string[] {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

/** A project the validator accepts, for stacks whose project does not matter to the test. */
export const TEST_STACK_CONTEXT: StackContext = { stack: "dev", project: "my-project-1" };

/**
 * The Pulumi program's validation of a stack that sets `base` (the attributes, say) and then each
 * case's keys: `validate` returns the config, `problems` what is wrong with it.
 */
export function stackConfigReader(base: RawConfig, defaultContext: StackContext = TEST_STACK_CONTEXT) {
  const validate = (extra: RawConfig = {}, context: StackContext = defaultContext): StackConfig => validateStackConfig({ ...base, ...extra }, context);
  const problems = (extra: RawConfig = {}, context: StackContext = defaultContext): readonly string[] => configProblems(() => validate(extra, context));
  return { validate, problems };
}

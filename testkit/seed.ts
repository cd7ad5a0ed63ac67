import fc from "fast-check";
import { randomInt } from "node:crypto";

/** Fixes the seed of every randomised test: fast-check's properties and the fault runs. */
export const SEED_VARIABLE = "FC_SEED";

/** The seed FC_SEED sets, or undefined when it is unset or empty; anything but a whole number stops the run. */
export function seedFromEnvironment(environment: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = environment[SEED_VARIABLE]?.trim();
  if (!text) return undefined;
  const seed = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(seed)) throw new Error(`${SEED_VARIABLE} must be a whole number, got ${JSON.stringify(text)}.`);
  return seed;
}

/** FC_SEED, or a new seed for this run: a test that uses it names it, so a failure can be repeated with FC_SEED. */
export function runSeed(environment: NodeJS.ProcessEnv = process.env): number {
  return seedFromEnvironment(environment) ?? randomInt(2 ** 31);
}

/**
 * Makes every fc.assert of the test file start from FC_SEED when it is set. Without it fast-check
 * draws a seed per property. Either way a failing property's error names its seed and the path to
 * the shrunk counterexample, and `FC_SEED=<seed> npm run jest -- <file>` fails the same way again.
 * A property that passes its own `seed` keeps it.
 */
export function seedPropertiesFromEnvironment(environment: NodeJS.ProcessEnv = process.env): number | undefined {
  const seed = seedFromEnvironment(environment);
  if (seed !== undefined) fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
  return seed;
}

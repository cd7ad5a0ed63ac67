import fc from "fast-check";
import { runSeed, seedFromEnvironment, seedPropertiesFromEnvironment } from "../../testkit/seed";

/** The error a property with a counterexample throws, from `seed` or from the global configuration. */
function failure(seed?: number): string {
  try {
    fc.assert(
      fc.property(fc.integer(), (value) => value < 100),
      seed === undefined ? {} : { seed },
    );
  } catch (error) {
    return String(error);
  }
  throw new Error("the property found no counterexample");
}

describe.each<[NodeJS.ProcessEnv, number | undefined]>([
  [{ FC_SEED: "42" }, 42],
  [{ FC_SEED: " -7 " }, -7],
  [{ FC_SEED: "" }, undefined],
  [{}, undefined],
])("FC_SEED in %p", (environment, seed) => {
  test(`is the seed ${seed}`, () => {
    expect(seedFromEnvironment(environment)).toBe(seed);
    expect(runSeed(environment)).toEqual(seed ?? expect.any(Number));
  });
});

test.each(["4.2", "abc", "1e3", "99999999999999999999"])("FC_SEED %p stops the run rather than being ignored", (text) => {
  expect(() => seedFromEnvironment({ FC_SEED: text })).toThrow(/^FC_SEED must be a whole number/);
});

test("a failing property names its seed and path, and the same seed fails the same way again", () => {
  expect(failure(42)).toMatch(/\{ seed: 42, path: "[\d:]+", endOnFailure: true \}/);
  expect(failure(42)).toBe(failure(42));
});

test("FC_SEED seeds every property of the file that does not pass its own", () => {
  const before = fc.readConfigureGlobal();
  try {
    expect(seedPropertiesFromEnvironment({ FC_SEED: "99" })).toBe(99);
    expect(failure()).toMatch(/\{ seed: 99, path: /);
    expect(failure(5)).toMatch(/\{ seed: 5, path: /);
  } finally {
    fc.configureGlobal(before);
  }
});

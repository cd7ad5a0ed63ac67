// Mutation testing of the pure core and the function's shell: `npm run mutate`, see docs/testing.md.
// mutate/run.sh runs Stryker under Node 22; paths here are relative to the project root.

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** Test files that run the Pulumi program (testkit/pulumiProgram) or start the local pipeline. */
const WHOLE_PROGRAM_TESTS = readdirSync("test", { recursive: true })
  .map((file) => path.posix.join("test", file.split(path.sep).join("/")))
  .filter((file) => file.endsWith(".test.ts"))
  .filter((file) => /testkit\/pulumiProgram"|\b(startTestPipeline|startPipeline|spawnServer)\b/.test(readFileSync(file, "utf8")))
  .sort();

/** MUTATE_ALL_TESTS=1 keeps those test files; MUTATE_STATIC=1 tests static mutants too (see below). */
const ALL_TESTS = process.env.MUTATE_ALL_TESTS === "1";
const STATIC_TOO = process.env.MUTATE_STATIC === "1";

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  // functions/index.ts and functions/batchIndex.ts are left out: only the deployed bundles run them, in
  // a child process, where Stryker records no coverage, so their mutants could only ever be "no coverage".
  mutate: ["core/**/*.ts", "functions/**/*.ts", "!functions/index.ts", "!functions/batchIndex.ts"],
  testRunner: "jest",
  jest: {
    projectType: "custom",
    configFile: "jest.config.js",
    // Each mutant runs only the test files that import its file, filtered to the tests that cover it.
    enableFindRelatedTests: true,
    config: {
      // Related tests are found through the import graph of the files jest knows: all of the project
      // (tests reach core/ through testkit/, local/, cli/ and infra/), while tests stay under test/.
      roots: ["<rootDir>"],
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      // Left out: the tests that run a whole program, the Pulumi program under mocks or the local
      // pipeline end to end. They test infra/ and local/, which are not mutated, and cost the most: the
      // Pulumi program is loaded inside a test, so Stryker credits that one test with every module's
      // load-time code, and a mutant that stops rows arriving makes a local pipeline test wait a minute
      // for them, a timeout each. `npm test` runs them all, and so does MUTATE_ALL_TESTS=1 here.
      testPathIgnorePatterns: ["/node_modules/", ...(ALL_TESTS ? [] : WHOLE_PROGRAM_TESTS.map((file) => `<rootDir>/${escapeRegExp(file)}$`))],
      // Load only the test files holding a test that covers the mutant (see sequencer.cjs).
      testEnvironment: "./mutate/jestEnvironment.cjs",
      testSequencer: "<rootDir>/mutate/sequencer.cjs",
    },
  },
  // As `npm run jest`: the BigQuery client loads node-fetch with a dynamic import.
  testRunnerNodeArgs: ["--experimental-vm-modules", "--disable-warning=ExperimentalWarning"],
  coverageAnalysis: "perTest",
  // Code that runs while modules load (a module-level constant, a regex literal, a table built at import)
  // is "static": Stryker cannot tell which test it serves, so each such mutant would run every related
  // test file, about a minute each. With this, a mutant also covered by tests runs those tests (the mutant
  // is active while their files load too), and one that only runs while modules load is reported "Ignored".
  // MUTATE_STATIC=1 measures those too, at the cost of every related test file for each.
  ignoreStatic: !STATIC_TOO,
  // The machine has 2 cores, shared; each test runner runs jest in band.
  concurrency: 2,
  // Generous: a mutant that is merely slow on a busy machine should not count as a timeout.
  timeoutMS: 10000,
  timeoutFactor: 2,
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  incrementalFile: "reports/stryker-incremental.json",
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
};

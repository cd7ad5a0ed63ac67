/** Jest transpiles only (isolated modules); `npm run typecheck` does the type checking once. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": "ts-jest" },
  // FC_SEED, when set, seeds every fast-check property, so a failure it reports can be repeated.
  setupFilesAfterEnv: ["<rootDir>/testkit/jestSetup.ts"],
  testTimeout: 30000,
};

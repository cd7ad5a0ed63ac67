// The import boundaries of docs/architecture.md, checked by `npm run lint` (npm test).
// Imports run one way: core ← functions ← local, cli; infra → core; test code only from tests and bench.
const TEST_CODE = "^(test|testkit)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment: "No module may reach itself through its imports, type-only imports included: a cycle hides which of two modules is the foundation.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-is-pure",
      comment: "core/ is the pure core bundled into the function: it may import only core/ and pure libraries, never I/O, a cloud SDK, DuckDB or Pulumi.",
      severity: "error",
      from: { path: "^core/" },
      to: { pathNot: ["^core/", "^node_modules/(isbot|bowser)/", "^(node:)?(crypto|buffer)$"] },
    },
    {
      name: "functions-are-the-function",
      comment: "functions/ is the Cloud Function's shell: it builds on core/ and knows nothing of the Pulumi program, the local pipeline or the commands.",
      severity: "error",
      from: { path: "^functions/" },
      to: { path: "^(infra|local|cli|bench|fuzz|assets|index)" },
    },
    {
      name: "infra-uses-core-only",
      comment: "infra/ declares resources from core/'s settings, schema and SQL; it never loads the function's runtime modules (the bundle is built from a path, not an import), the local pipeline or the commands.",
      severity: "error",
      from: { path: "^infra/" },
      to: { path: "^(functions|local|cli|bench|fuzz|index)" },
    },
    {
      name: "local-is-a-library",
      comment: "local/ is the local pipeline; the commands in cli/ drive it, never the other way round, and it has no business with the Pulumi program.",
      severity: "error",
      from: { path: "^local/" },
      to: { path: "^(cli|infra|bench|fuzz|index)" },
    },
    {
      name: "front-end-without-duckdb",
      comment: "npm start's server answers requests in one process and loads them in another (local/loaderMain.ts), the one holder of DuckDB: the front end never loads DuckDB, so its memory and threads stay with the requests.",
      severity: "error",
      from: { path: "^(cli/start|local/pipeline)\\.ts$" },
      to: { path: "^node_modules/@duckdb/", reachable: true },
    },
    {
      name: "cli-does-not-deploy",
      comment: "cli/ runs the pipeline's code on this machine and calls Google's APIs; what the Pulumi program declares it learns from core/ and the stack file, not from infra/.",
      severity: "error",
      from: { path: "^cli/" },
      to: { path: "^(infra|bench|fuzz|index)" },
    },
    {
      name: "program-is-a-page",
      comment: "index.ts reads the config and declares one PixelPipeline: it imports infra/ and nothing else of ours.",
      severity: "error",
      from: { path: "^index\\.ts$" },
      to: { path: "^(core|functions|local|cli|bench|fuzz|assets|test|testkit)/" },
    },
    {
      name: "test-code-stays-in-tests",
      comment: "Only tests and benchmarks import test code (test/, testkit/); shipped code never does.",
      severity: "error",
      from: { pathNot: "^(test|testkit|bench)/" },
      to: { path: TEST_CODE },
    },
    {
      name: "testkit-is-below-tests",
      comment: "testkit/ holds the stand-ins that tests and benchmarks share; it never imports a test.",
      severity: "error",
      from: { path: "^testkit/" },
      to: { path: "^test/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count: a cycle through types is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    // Packages stay in the graph, unfollowed, so rules about them (core-is-pure) can see them.
    exclude: { path: "^(dist|\\.data)/" },
  },
};

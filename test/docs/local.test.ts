import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { HOST_VARIABLE, INGEST_VARIABLE, MAX_REFUSALS_VARIABLE, PORT_VARIABLE, SEGMENT_MB_VARIABLE, SEGMENT_SECONDS_VARIABLE } from "../../cli/start";
import { SIGNING_KEYS_VARIABLE } from "../../core/functionContract";
import { LOADER_DATA_LIMIT_BYTES } from "../../local/loaderProcess";
import { SPILL_LIMIT } from "../../local/database";
import { BATCH_BYTES, BATCH_LINES } from "../../local/loader";
import { DEFAULT_MAX_REFUSALS, REFUSAL_ENTRY_BYTES } from "../../local/refusalBounds";
import { SERVER_LIMITS } from "../../local/pipeline";
import { checkQuery, INSTANCE_OPTIONS, QUERY_BOUNDS, QUERY_TIMEOUT_MS, RESULT_BOUNDS } from "../../local/readOnlyQuery";
import { DEFAULT_SEGMENT_AGE_MS, KEEP_LOADED_BYTES, MAX_LINE_BYTES, SEGMENT_BYTES } from "../../local/spool";

const root = path.join(__dirname, "..", "..");
const local = readFileSync(path.join(root, "docs", "local.md"), "utf8");
const security = local.slice(local.indexOf("## Security"), local.indexOf("## Tests"));
const readme = readFileSync(path.join(root, "README.md"), "utf8");

const mib = (bytes: number) => `${bytes / 2 ** 20} MiB`;
const seconds = (ms: number) => `${ms / 1000} s`;

describe("docs/local.md's security section", () => {
  it.each([
    ["the headers timeout", seconds(SERVER_LIMITS.headersTimeoutMs)],
    ["the request timeout", seconds(SERVER_LIMITS.requestTimeoutMs)],
    ["the keep-alive timeout", seconds(SERVER_LIMITS.keepAliveTimeoutMs)],
    ["the connection limit", `${SERVER_LIMITS.maxConnections} connections`],
    ["the drain bound on stop", `${seconds(SERVER_LIMITS.drainTimeoutMs)} (\`drainTimeoutMs\`)`],
    ["the spool line bound", mib(MAX_LINE_BYTES)],
    ["the segment size", `Segments of ${mib(SEGMENT_BYTES)}`],
    ["the loaded spool kept", mib(KEEP_LOADED_BYTES)],
    ["the query timeout", seconds(QUERY_TIMEOUT_MS)],
    ["DuckDB's memory limit", INSTANCE_OPTIONS.memory_limit.replace(/(\d)([A-Z])/, "$1 $2")],
    ["the loader's data limit", `${LOADER_DATA_LIMIT_BYTES / 2 ** 30} GiB of data for the loader's whole process`],
    ["the SQL size bound", `${QUERY_BOUNDS.sqlBytes / 1024} KiB of SQL`],
    ["the query block bound", `${QUERY_BOUNDS.queryBlocks} SELECTs, set operations and CTEs`],
    ["the nesting bound", `SELECTs nested ${QUERY_BOUNDS.nesting} deep`],
    ["the result's row bound", `${RESULT_BOUNDS.rows.toLocaleString("en-US")} rows`],
    ["the result's size bound", `${mib(RESULT_BOUNDS.jsonBytes)} as JSON`],
    ["the loader's batch bound", `${BATCH_LINES.toLocaleString("en")} lines and ${mib(BATCH_BYTES)}`],
    ["the spill limit", SPILL_LIMIT.replace(/(\d)([A-Z])/, "$1 $2")],
    ["a stored refusal's log entry", `${REFUSAL_ENTRY_BYTES.toLocaleString("en")} bytes`],
    ["the refusals kept", `newest ${DEFAULT_MAX_REFUSALS.toLocaleString("en")} refusals`],
  ])("gives %s: %s", (_, text) => {
    expect(security).toContain(text);
  });
});

it("documents the listen address and port variables, in docs/local.md and the README", () => {
  for (const variable of [HOST_VARIABLE, PORT_VARIABLE, MAX_REFUSALS_VARIABLE, INGEST_VARIABLE, SEGMENT_SECONDS_VARIABLE, SEGMENT_MB_VARIABLE]) expect(local).toContain(`$${variable}`);
  expect(readme).toContain(`${PORT_VARIABLE}=9090 npm start`);
  expect(readme).toContain("npm start -- --port 9090");
});

it("gives --ingest batch's segment defaults as the code has them", () => {
  expect(local).toContain(`| \`--segment-seconds N\` | \`$${SEGMENT_SECONDS_VARIABLE}\`, else \`${DEFAULT_SEGMENT_AGE_MS / 1000}\` |`);
  expect(local).toContain(`| \`--segment-mb N\` | \`$${SEGMENT_MB_VARIABLE}\`, else \`${SEGMENT_BYTES / 2 ** 20}\` |`);
});

it("documents where npm start takes a signing stack's keys from", () => {
  expect(local).toContain(`${SIGNING_KEYS_VARIABLE}="$(openssl rand -base64 32)" npm start -- --stack <stack>`);
});

/** Every `npm run --silent query -- "SQL"` example of the README and docs/. */
const queryExamples = ["README.md", ...readdirSync(path.join(root, "docs")).filter((file) => file.endsWith(".md")).map((file) => path.join("docs", file))].flatMap((file) =>
  [...readFileSync(path.join(root, file), "utf8").matchAll(/npm run --silent query -- "([^"<]+)"/g)].map((match): [string, string] => [file, match[1]]),
);

it("gives query examples that pass the query rules: one statement, within the bounds, allowed functions only", async () => {
  expect(queryExamples.length).toBeGreaterThan(4);
  const instance = await DuckDBInstance.create(":memory:", INSTANCE_OPTIONS);
  const connection = await instance.connect();
  try {
    for (const [file, sql] of queryExamples) await expect(checkQuery(connection, sql).then(() => [file, sql])).resolves.toEqual([file, sql]);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

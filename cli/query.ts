// `npm run --silent query -- "SQL"`: one JSON object per result row on stdout.
import { QueryError } from "../local/database";
import { runQuery } from "../local/queryClient";
import { DATA_OPTIONS, DATA_USAGE, pathsFrom } from "./dataOptions";
import { defineCommand, runCommand, UsageError } from "./runner";

const USAGE = `Usage: npm run --silent query -- [options] "SQL"
Runs one read-only statement on the local database and prints each row as a JSON line. The SQL is
DuckDB's, not BigQuery's: docs/cookbook.md#running-these-locally lists the cookbook queries that
need changes here.
${DATA_USAGE}
  -h, --help       this help`;

export const queryCommand = defineCommand({
  usage: USAGE,
  args: { options: DATA_OPTIONS, allowPositionals: true },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError(`pass the SQL as one argument in quotes, got ${positionals.length} arguments`);
    const rows = await runQuery(positionals[0], pathsFrom(values)).catch((error: unknown) => {
      throw error instanceof QueryError ? new Error(`query failed: ${error.message}`) : error;
    });
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  },
});

if (require.main === module) void runCommand(queryCommand);

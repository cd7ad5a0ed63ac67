// `npm run --silent query -- "SQL"`: one JSON object per result row on stdout.
import { QueryError } from "./database";
import { parseQueryArgs, QUERY_USAGE, UsageError } from "./options";
import { runQuery } from "./queryClient";

async function main(): Promise<void> {
  const options = parseQueryArgs(process.argv.slice(2));
  if (options.help) {
    console.log(QUERY_USAGE);
    return;
  }
  for (const row of await runQuery(options.sql, options.paths)) process.stdout.write(`${JSON.stringify(row)}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${QUERY_USAGE}`);
    process.exitCode = 2;
    return;
  }
  console.error(error instanceof QueryError ? `query failed: ${error.message}` : error);
  process.exitCode = 1;
});

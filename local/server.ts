// `npm start`: the pixel pipeline on this machine, until Ctrl-C.
import { readStackCoreSettings } from "../cli/stackFile";
import { ConfigError } from "../functions/core/configFields";
import { jsonLineLogger } from "../functions/handler";
import { parseServerArgs, SERVER_USAGE, UsageError } from "./options";
import { startPipeline } from "./pipeline";

async function main(): Promise<void> {
  const options = parseServerArgs(process.argv.slice(2), process.env);
  if (options.help) {
    console.log(SERVER_USAGE);
    return;
  }
  const settings = readStackCoreSettings(options.stack);
  const { paths } = options;
  const pipeline = await startPipeline({
    settings,
    host: options.host,
    port: options.port,
    paths,
    log: jsonLineLogger,
    warn: (message) => console.error(`warning: ${message}`),
  });
  console.log(
    `pixel-pipeline (stack ${options.stack}) listening on ${pipeline.url} — try ${pipeline.pixelUrl}?${settings.tenantAttribute}=acme; ` +
      `spool ${paths.spoolDir}, database ${paths.database}`,
  );
  if (pipeline.recovered > 0) console.log(`loaded ${pipeline.recovered} log entries spooled by the previous run`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    // A Ctrl-C can arrive twice, from the terminal and relayed by npm or tsx: one shutdown is enough.
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: answering the requests in flight, then loading the spool into DuckDB`);
    pipeline.close().then(
      () => {
        console.log("stopped; every answered request is in the database");
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`shutdown failed: ${String(error)}\nEvery answered request is in the spool; the next start loads it.`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${SERVER_USAGE}`);
    process.exit(2);
  }
  console.error(error instanceof ConfigError ? error.message : `cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

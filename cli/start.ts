// `npm start`: the pixel pipeline on this machine, until Ctrl-C or SIGTERM.
import type { CoreSettings } from "../core/config/coreSettings";
import { pixelUrl } from "../core/signature";
import { jsonLineLogger } from "../functions/handler";
import { startPipeline } from "../local/pipeline";
import { DEFAULT_MAX_REFUSALS } from "../local/refusalBounds";
import { DATA_OPTIONS, DATA_USAGE, explainDatabaseInUse, pathsFrom } from "./dataOptions";
import { defineCommand, runCommand, UsageError } from "./runner";
import { readStack } from "./stackFile";

// Only the project's own variables: some shells export HOST=<hostname> by themselves, which would
// silently put the server on a public interface.
export const HOST_VARIABLE = "PIXEL_HOST";
export const PORT_VARIABLE = "PIXEL_PORT";
export const MAX_REFUSALS_VARIABLE = "PIXEL_MAX_REFUSALS";

const USAGE = `Usage: npm start -- [options]
Runs the pixel pipeline on this machine: the pixel, its log, the function's code and DuckDB.
  --host HOST      address to listen on (default $${HOST_VARIABLE} or 127.0.0.1); any other than
                   a loopback address lets other machines send pixels and read the dashboard
  --port PORT      port, 0 for any free one (default $${PORT_VARIABLE} or 8080)
  --stack NAME     read settings from Pulumi.NAME.yaml (default dev)
  --max-refusals N refused requests kept in the database, the oldest deleted beyond it
                   (default $${MAX_REFUSALS_VARIABLE} or ${DEFAULT_MAX_REFUSALS}): any web page can send them
${DATA_USAGE}
  -h, --help       this help
Stops cleanly on SIGINT (Ctrl-C) or SIGTERM, to itself or to npm.`;

export const startCommand = defineCommand({
  usage: USAGE,
  args: {
    options: {
      ...DATA_OPTIONS,
      host: { type: "string", default: process.env[HOST_VARIABLE] || "127.0.0.1" },
      port: { type: "string", default: process.env[PORT_VARIABLE] || "8080" },
      stack: { type: "string", default: "dev" },
      "max-refusals": { type: "string", default: process.env[MAX_REFUSALS_VARIABLE] || String(DEFAULT_MAX_REFUSALS) },
    },
  },
  async run({ values }) {
    if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) {
      throw new UsageError(`--port (or ${PORT_VARIABLE}) must be a number from 0 to 65535, got ${JSON.stringify(values.port)}`);
    }
    if (!/^\d{1,9}$/.test(values["max-refusals"])) {
      throw new UsageError(`--max-refusals (or ${MAX_REFUSALS_VARIABLE}) must be a whole number of refusals to keep, such as ${DEFAULT_MAX_REFUSALS}, got ${JSON.stringify(values["max-refusals"])}`);
    }
    const { settings, config } = readStack(values.stack);
    const paths = pathsFrom(values);
    const pipeline = await startPipeline({
      settings,
      host: values.host,
      port: Number(values.port),
      paths,
      maxRefusals: Number(values["max-refusals"]),
      retentionDays: config.retention.days,
      log: jsonLineLogger,
      warn: (message) => console.error(`warning: ${message}`),
    }).catch(async (error: unknown) => {
      const explained = await explainDatabaseInUse(error, paths, `Stop that one (Ctrl-C where it runs), or start this one with another --data-dir.`);
      throw new Error(`cannot start: ${explained instanceof Error ? explained.message : String(explained)}`);
    });
    // Before the start-up line: whoever waits for it may stop the server right away.
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      // A Ctrl-C can arrive twice, from the terminal and relayed by npm: one shutdown is enough.
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
    console.log(
      `pixel-pipeline (stack ${values.stack}) listening on ${pipeline.url} — try ${examplePixelUrl(pipeline.pixelUrl, settings)}; ` +
        `spool ${paths.spoolDir}, database ${paths.database}`,
    );
    if (!pipeline.loopbackOnly) {
      console.error(
        `warning: ${pipeline.url} is not a loopback address: other machines can send pixels here and reach the dashboard. ` +
          `Its stats and queries need the token; open the dashboard at ${pipeline.dashboardUrl}`,
      );
    }
    if (pipeline.recovered > 0) console.log(`loaded ${pipeline.recovered} log entries spooled by the previous run`);
  },
});

/** A pixel URL the stack accepts: for its first allowlisted tenant (else acme), signed with its first key when it signs. */
function examplePixelUrl(base: string, settings: CoreSettings): string {
  const parameters = { [settings.tenantAttribute]: settings.tenantAllowlist?.[0] ?? "acme" };
  const [signingKey] = settings.signingKeys ?? [];
  return settings.signedUrls && signingKey ? pixelUrl(base, parameters, signingKey) : `${base}?${new URLSearchParams(parameters).toString()}`;
}

if (require.main === module) void runCommand(startCommand);

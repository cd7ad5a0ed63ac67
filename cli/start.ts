// `npm start`: the pixel pipeline on this machine, until Ctrl-C or SIGTERM.
import { INGEST_MODES } from "../core/batchLoad";
import type { IngestMode } from "../core/batchLoad";
import type { CoreSettings } from "../core/config/coreSettings";
import { pixelUrl } from "../core/signature";
import { jsonLineLogger } from "../functions/handler";
import { startPipeline } from "../local/pipeline";
import { DEFAULT_MAX_REFUSALS } from "../local/refusalBounds";
import { DEFAULT_SEGMENT_AGE_MS, SEGMENT_BYTES } from "../local/spool";
import { DATA_OPTIONS, DATA_USAGE, explainDatabaseInUse, pathsFrom } from "./dataOptions";
import { defineCommand, runCommand, UsageError } from "./runner";
import { readStack } from "./stackFile";

// Only the project's own variables: some shells export HOST=<hostname> by themselves, which would
// silently put the server on a public interface.
export const HOST_VARIABLE = "PIXEL_HOST";
export const PORT_VARIABLE = "PIXEL_PORT";
export const MAX_REFUSALS_VARIABLE = "PIXEL_MAX_REFUSALS";
export const INGEST_VARIABLE = "PIXEL_INGEST";
export const SEGMENT_SECONDS_VARIABLE = "PIXEL_SEGMENT_SECONDS";
export const SEGMENT_MB_VARIABLE = "PIXEL_SEGMENT_MB";

const MB = 1 << 20;
/** A day: a segment older than that is no stand-in for an hourly file any more. */
const MAX_SEGMENT_SECONDS = 86_400;
/** Kept below the loaded spool's bound on disk (spool.ts KEEP_LOADED_BYTES), so pruning keeps working by whole segments. */
const MAX_SEGMENT_MB = 128;

const USAGE = `Usage: npm start -- [options]
Runs the pixel pipeline on this machine: the pixel, its log, the function's code and DuckDB.
  --host HOST      address to listen on (default $${HOST_VARIABLE} or 127.0.0.1); any other than
                   a loopback address lets other machines send pixels and read the dashboard
  --port PORT      port, 0 for any free one (default $${PORT_VARIABLE} or 8080)
  --stack NAME     read settings from Pulumi.NAME.yaml (default dev)
  --max-refusals N refused requests kept in the database, the oldest deleted beyond it
                   (default $${MAX_REFUSALS_VARIABLE} or ${DEFAULT_MAX_REFUSALS}): any web page can send them
  --ingest MODE    ${INGEST_MODES.join(" or ")} (default $${INGEST_VARIABLE} or streaming): streaming loads each
                   request within moments; batch cuts the spool into segments and loads each
                   finished one whole with the cloud's batch loader, as the archive's hourly files
  --segment-seconds N  with batch: a segment is finished N seconds after its first request
                   (default $${SEGMENT_SECONDS_VARIABLE} or ${DEFAULT_SEGMENT_AGE_MS / 1000}, 1 to ${MAX_SEGMENT_SECONDS})...
  --segment-mb N   ...or once it holds N MB, whichever comes first (default $${SEGMENT_MB_VARIABLE} or ${SEGMENT_BYTES / MB}, 1 to ${MAX_SEGMENT_MB})
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
      ingest: { type: "string", default: process.env[INGEST_VARIABLE] || "streaming" },
      "segment-seconds": { type: "string" },
      "segment-mb": { type: "string" },
    },
  },
  async run({ values }) {
    const ingest = ingestFrom(values);
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
      ingest: ingest.mode,
      spool: ingest.spool,
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
    if (ingest.mode === "batch") {
      console.log(`batch ingest: a spool segment is loaded once it is ${ingest.spool.segmentAgeMs / 1000} s old or holds ${ingest.spool.segmentBytes / MB} MB`);
    }
    if (!pipeline.loopbackOnly) {
      console.error(
        `warning: ${pipeline.url} is not a loopback address: other machines can send pixels here and reach the dashboard. ` +
          `Its stats and queries need the token; open the dashboard at ${pipeline.dashboardUrl}`,
      );
    }
    if (pipeline.recovered > 0) console.log(`loaded ${pipeline.recovered} log entries spooled by the previous run`);
  },
});

/** The ingest mode and, with batch, when a segment is finished; UsageError for a value out of range. */
function ingestFrom(values: { ingest: string; "segment-seconds"?: string; "segment-mb"?: string }) {
  const mode = values.ingest as IngestMode;
  if (!INGEST_MODES.includes(mode)) throw new UsageError(`--ingest (or ${INGEST_VARIABLE}) must be ${INGEST_MODES.join(" or ")}, got ${JSON.stringify(values.ingest)}`);
  if (mode !== "batch") {
    if (values["segment-seconds"] !== undefined || values["segment-mb"] !== undefined) throw new UsageError("--segment-seconds and --segment-mb are for --ingest batch");
    return { mode } as const;
  }
  const seconds = wholeNumber(values["segment-seconds"] ?? process.env[SEGMENT_SECONDS_VARIABLE] ?? String(DEFAULT_SEGMENT_AGE_MS / 1000), MAX_SEGMENT_SECONDS, `--segment-seconds (or ${SEGMENT_SECONDS_VARIABLE})`);
  const megabytes = wholeNumber(values["segment-mb"] ?? process.env[SEGMENT_MB_VARIABLE] ?? String(SEGMENT_BYTES / MB), MAX_SEGMENT_MB, `--segment-mb (or ${SEGMENT_MB_VARIABLE})`);
  return { mode, spool: { segmentAgeMs: seconds * 1000, segmentBytes: megabytes * MB } } as const;
}

function wholeNumber(text: string, max: number, name: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1 || Number(text) > max) throw new UsageError(`${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A pixel URL the stack accepts: for its first allowlisted tenant (else acme), signed with its first key when it signs. */
function examplePixelUrl(base: string, settings: CoreSettings): string {
  const parameters = { [settings.tenantAttribute]: settings.tenantAllowlist?.[0] ?? "acme" };
  const [signingKey] = settings.signingKeys ?? [];
  return settings.signedUrls && signingKey ? pixelUrl(base, parameters, signingKey) : `${base}?${new URLSearchParams(parameters).toString()}`;
}

if (require.main === module) void runCommand(startCommand);

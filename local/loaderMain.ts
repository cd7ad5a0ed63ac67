// The loader's process, started by the front end (loaderProcess.ts): it holds the DuckDB file,
// loads the spool into it behind the front end, and answers the dashboard's and the query command's reads.
import { loadCountryTable } from "../assets/countryTable";
import { LocalDatabase } from "./database";
import { Loader } from "./loader";
import type { FromLoader, LoaderCall, OpenOptions, ToLoader } from "./loaderProcess";
import { DEFAULT_MAX_REFUSALS } from "./refusalBounds";
import { comparePositions, SPOOL_START } from "./spool";
import type { SpoolPosition } from "./spool";

interface Opened {
  readonly database: LocalDatabase;
  readonly loader: Loader;
}

function send(message: FromLoader, then: () => void = () => undefined): void {
  process.send?.(message, then);
}

function serve(): void {
  // Ctrl-C in a terminal reaches the whole process group, and a service manager may signal every
  // process of the service: the front end stops the loader itself, once it has loaded the last entries.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => undefined);
  // The front end is gone without closing the database (kill -9, say): what is committed stays,
  // and the next start loads on from the checkpoint. Exiting at once frees the file for it.
  process.on("disconnect", () => process.exit(0));

  let durableEnd: SpoolPosition = SPOOL_START;
  let opened: Promise<Opened> | undefined;
  let pruning: NodeJS.Timeout | undefined;
  const ready = (): Promise<Opened> => opened ?? Promise.reject(new Error("the database is not open"));
  const run = async (call: LoaderCall): Promise<unknown> => {
    switch (call.method) {
      case "open":
        opened = open(call.options, () => durableEnd);
        await prune((await opened).loader);
        // Daily after the start: a server that runs for months keeps only the retention's days.
        pruning = setInterval(() => void (sequence = sequence.then(() => opened?.then(({ loader }) => prune(loader)), () => undefined)), PRUNE_EVERY_MS);
        pruning.unref();
        return undefined;
      case "drain":
        durableEnd = call.end;
        return (await ready()).loader.drain();
      case "read":
        return (await ready()).database.read(call.reads.map(({ sql, values }) => ({ sql, values: values && [...values] })));
      case "query":
        return (await ready()).database.query(call.sql);
      case "close": {
        clearInterval(pruning);
        const { loader, database } = await ready();
        await loader.stop();
        database.close();
        return undefined;
      }
    }
  };

  // Opening, draining and closing run in the order they were asked for; reads run beside them.
  let sequence: Promise<unknown> = Promise.resolve();
  process.on("message", (message: ToLoader) => {
    if ("durable" in message) {
      if (comparePositions(message.durable, durableEnd) > 0) durableEnd = message.durable;
      void opened?.then(({ loader }) => loader.wake(), () => undefined);
      return;
    }
    const { id, call } = message;
    const result = call.method === "read" || call.method === "query" ? run(call) : (sequence = sequence.then(() => run(call), () => run(call)));
    // Once the database is closed, or could not be opened, the process ends as soon as the front end has the reply.
    const last = (failed: boolean) => call.method === "close" || (failed && call.method === "open");
    result.then(
      (value) => send({ id, value }, () => last(false) && process.disconnect()),
      (error: Error) => send({ id, error: { name: String(error?.name), message: String(error?.message ?? error) } }, () => last(true) && process.disconnect()),
    );
  });
}

/** How often a running loader prunes what is past the retention. */
const PRUNE_EVERY_MS = 24 * 60 * 60 * 1000;

/** Prunes, and says what went: a warning, as a failure is, so that it shows where the server runs. */
async function prune(loader: Loader): Promise<void> {
  try {
    const pruned = await loader.pruneExpired();
    if (pruned && pruned.events + pruned.rollupRows + pruned.refusals + pruned.segments > 0) {
      send({ warn: `retention: removed the days before ${pruned.oldestKept}: ${pruned.events} events, ${pruned.rollupRows} rollup rows, ${pruned.refusals} refusals, ${pruned.segments} loaded spool segments` });
    }
  } catch (error) {
    send({ warn: `pruning what is past the retention failed, tried again in a day: ${String(error)}` });
  }
}

async function open({ lookUpCountries, ...options }: OpenOptions, durableEnd: () => SpoolPosition): Promise<Opened> {
  const settings = lookUpCountries ? { ...options.settings, countries: loadCountryTable() } : options.settings;
  const database = await LocalDatabase.open(options.database, settings, { maxRefusals: options.maxRefusals ?? DEFAULT_MAX_REFUSALS });
  const loader = await Loader.create({
    ...options,
    settings,
    database,
    durableEnd,
    log: (line) => send({ log: line }),
    warn: (message) => send({ warn: message }),
  }).catch((error: unknown) => {
    database.close();
    throw error;
  });
  return { database, loader };
}

serve();

import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../core/config/fields";

/** The command line cannot be run as given; the runner prints the message and the usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit codes, the same for every command. */
export const EXIT = {
  ok: 0,
  /** Something failed at run time: a write, a network call, a check the command makes. */
  failure: 1,
  /** The command line or the stack's configuration is wrong; the message says what to change. */
  usage: 2,
} as const;

type ArgsConfig = Omit<ParseArgsConfig, "args" | "strict">;

export type ParsedArgs<A extends ArgsConfig> = ReturnType<typeof parseArgs<A & { strict: true }>>;

export interface Command<A extends ArgsConfig> {
  /** The whole help text; its first line says how to run the command. */
  readonly usage: string;
  /** node:util parseArgs options and whether positionals are allowed; -h/--help is added. */
  readonly args: A;
  /** Resolves with the exit code (0 when it returns nothing); throws UsageError or ConfigError for exit code 2. */
  run(parsed: ParsedArgs<A>): Promise<number | void> | number | void;
}

/** Any command, as the runner sees it: the runner hands `run` what parseArgs made of `args`. */
export interface RunnableCommand {
  readonly usage: string;
  readonly args: ArgsConfig;
  run(parsed: never): Promise<number | void> | number | void;
}

/** A command with its argument types inferred from `args`. */
export function defineCommand<const A extends ArgsConfig>(command: Command<A>): Command<A> {
  return command;
}

const HELP = { help: { type: "boolean", short: "h" } } as const;

/**
 * Runs one command: parses its arguments strictly, answers --help, and maps every way it can end
 * to one exit code (EXIT) and one message on stderr, never a stack trace. Resolves with the code,
 * which is also set as the process's exit code.
 */
export async function runCommand(command: RunnableCommand, argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const code = await exitCodeOf(command, argv);
  process.exitCode = code;
  return code;
}

async function exitCodeOf(command: RunnableCommand, argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseCommandLine({ ...command.args, options: { ...command.args.options, ...HELP } }, argv);
    if ((parsed.values as { help?: boolean }).help) {
      console.log(command.usage);
      return EXIT.ok;
    }
    return (await (command.run as (parsed: unknown) => ReturnType<RunnableCommand["run"]>)(parsed)) ?? EXIT.ok;
  } catch (error) {
    return report(error, command.usage);
  }
}

/**
 * parseArgs, strict, with its errors (unknown flags, missing values, stray arguments) as UsageErrors.
 * An unknown flag gets one message from every command, naming the command's closest flag when one
 * is near enough to be a typo of it.
 */
export function parseCommandLine<A extends ArgsConfig>(args: A, argv: readonly string[]): ParsedArgs<A> {
  try {
    return parseArgs({ ...args, args: [...argv], strict: true }) as ParsedArgs<A>;
  } catch (error) {
    const unknown = (error as NodeJS.ErrnoException).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'(-[^']*)'/.exec((error as Error).message)?.[1] : undefined;
    if (unknown === undefined) throw new UsageError((error as Error).message);
    const suggestion = closestFlag(unknown, Object.keys(args.options ?? {}));
    throw new UsageError(`unknown option '${unknown}'${suggestion ? `: did you mean ${suggestion}?` : ""}`);
  }
}

/** The flag `typed` most likely misspells: the nearest by edit distance, within a third of its length (at least 2). */
function closestFlag(typed: string, options: readonly string[]): string | undefined {
  const name = typed.replace(/^-+/, "");
  const limit = Math.max(2, Math.floor(name.length / 3));
  const [best] = options
    .map((option) => ({ option, distance: editDistance(name, option) }))
    .filter(({ distance }) => distance <= limit)
    .sort((a, b) => a.distance - b.distance);
  return best && `--${best.option}`;
}

/** Levenshtein distance, with a swap of two neighbouring letters counted as one edit (a common typo). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}

function report(error: unknown, usage: string): number {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${usage}`);
    return EXIT.usage;
  }
  if (error instanceof ConfigError) {
    console.error(error.message);
    return EXIT.usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(MISSING_GOOGLE_CREDENTIALS.test(message) ? `${message}\n${CREDENTIALS_FIX}` : message);
  return EXIT.failure;
}

/** google-auth-library's words when it finds no application default credentials. */
const MISSING_GOOGLE_CREDENTIALS = /Could not load the default credentials/;
const CREDENTIALS_FIX =
  "The commands that call Google Cloud use your application default credentials: run `gcloud auth application-default login` (or point GOOGLE_APPLICATION_CREDENTIALS at a service account key file), then run the command again.";

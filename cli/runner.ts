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

/** parseArgs, strict, with its errors (unknown flags, missing values, stray arguments) as UsageErrors. */
export function parseCommandLine<A extends ArgsConfig>(args: A, argv: readonly string[]): ParsedArgs<A> {
  try {
    return parseArgs({ ...args, args: [...argv], strict: true }) as ParsedArgs<A>;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
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

// npm run --silent parse -- --stack <name>
// Reads LogEntry JSON objects from stdin, one per line (as `gcloud logging read --format=json | jq -c '.[]'`
// prints them), and writes for each what the deployed function would do with it, one JSON line each.
import { once } from "node:events";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { logEntryToEvent, preview, refuse } from "../functions/core/event";
import type { ParseResult } from "../functions/core/event";
import type { LoadBalancerLogEntry } from "../functions/core/logEntry";
import { storedRow, storedTableName } from "../functions/core/layout";
import type { CoreSettings } from "../functions/core/settings";
import { readStackCoreSettings } from "./stackFile";

const USAGE = "usage: npm run --silent parse -- [--stack <name>]   (reads LogEntry JSON lines on stdin; the stack defaults to dev)";

/** What the function would do with one line of LogEntry JSON: the event, or why it is not one. */
export function parseEntryLine(line: string, settings: CoreSettings): ParseResult {
  let entry: LoadBalancerLogEntry;
  try {
    entry = JSON.parse(line) as LoadBalancerLogEntry;
  } catch {
    return refuse("invalid_message", `not JSON: ${preview(line)}`);
  }
  return logEntryToEvent(entry, settings);
}

/** What the function would do with one input line, as the line to print. */
export function parseLine(line: string, settings: CoreSettings): string {
  const result = parseEntryLine(line, settings);
  if (!result.ok) return JSON.stringify(result);
  const table = storedTableName(settings.layout, settings.templateTable, result.tableSuffix);
  return JSON.stringify({ ok: true, table, insertId: result.insertId, row: storedRow(settings.layout, result) });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stack: { type: "string", default: "dev" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const settings = readStackCoreSettings(values.stack);
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    if (!process.stdout.write(`${parseLine(line, settings)}\n`)) await once(process.stdout, "drain");
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(error.message);
    console.error(USAGE);
    process.exitCode = 2;
  });
}

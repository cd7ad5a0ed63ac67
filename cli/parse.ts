// npm run --silent parse -- --stack <name>
// Reads LogEntry JSON objects from stdin, one per line (as `gcloud logging read --format=json | jq -c '.[]'`
// prints them), and writes for each what the deployed function would do with it, one JSON line each.
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { CoreSettings } from "../core/config/coreSettings";
import { parseEntryLine } from "../core/event";
import { VISITOR_KEY_VARIABLE } from "../core/functionContract";
import { storedRow, storedTableName } from "../core/layout";
import { defineCommand, runCommand } from "./runner";
import { readStack } from "./stackFile";

const USAGE = `Usage: npm run --silent parse -- [--stack NAME]
Reads LogEntry JSON objects on stdin, one per line, and prints for each what the deployed function
would do with it: the row and its table, or the refusal and its reason. visitor_id needs the
stack's visitor key in PIXEL_VISITOR_KEY.
  --stack NAME     settings from Pulumi.NAME.yaml (default dev)
  -h, --help       this help`;

/** What the function would do with one input line, as the line to print. */
export function parseLine(line: string, settings: CoreSettings): string {
  const result = parseEntryLine(line, settings);
  if (!result.ok) return JSON.stringify(result);
  const table = storedTableName(settings.layout, settings.templateTable, result.tableSuffix);
  return JSON.stringify({ ok: true, table, insertId: result.insertId, row: storedRow(settings.layout, result) });
}

export const parseCommand = defineCommand({
  usage: USAGE,
  args: { options: { stack: { type: "string", default: "dev" } } },
  async run({ values }) {
    const { settings } = readStack(values.stack);
    if (!settings.visitorKey) console.error(`visitor_id stays NULL without the stack's visitor key in ${VISITOR_KEY_VARIABLE} (from Secret Manager: pixel-${values.stack}-visitor-key).`);
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      if (line.trim() === "") continue;
      if (!process.stdout.write(`${parseLine(line, settings)}\n`)) await once(process.stdout, "drain");
    }
  },
});

if (require.main === module) void runCommand(parseCommand);

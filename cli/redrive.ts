// npm run redrive -- --stack <name> [--dry-run] [--max N] (--outputs FILE | --topic T --subscription S)
// Moves dead-lettered messages back to the log topic once the reason they failed is fixed.
import { readFileSync } from "node:fs";
import type { CoreSettings } from "../core/config/coreSettings";
import { logEntryToEvent } from "../core/event";
import { parseTableSuffix, storedTableName } from "../core/layout";
import { decodeLogEntry } from "../core/message";
import { GoogleApi, serviceApi } from "../functions/googleApi";
import { rollupHint } from "./rollup";
import { defineCommand, parseCommandLine, runCommand, UsageError } from "./runner";
import type { ParsedArgs } from "./runner";
import { readStack } from "./stackFile";
import { userPath } from "./userPath";

export const REDRIVE_USAGE = `Usage: npm run redrive -- --stack NAME [options]
Moves messages from the dead-letter subscription back to the request log topic.
  --stack NAME           settings from Pulumi.NAME.yaml (required; gcp:project names the project)
  --outputs FILE         the stack's outputs as \`pulumi stack output --json\` prints them; - reads stdin
  --subscription NAME    the dead-letter subscription (default: deadLetterSubscription of --outputs)
  --topic NAME           the topic to publish to (default: requestLogTopic of --outputs)
  --project ID           for short subscription and topic names (default gcp:project of the stack)
  --dry-run              count the dead letters, and the tables their events belong to; move nothing
  --max N                move (or count) at most N messages
  -h, --help             this help`;

export interface RedriveCommand {
  readonly stack: string;
  readonly outputs?: string;
  readonly subscription?: string;
  readonly topic?: string;
  readonly project?: string;
  readonly dryRun: boolean;
  readonly max?: number;
}

const REDRIVE_ARGS = {
  options: {
    stack: { type: "string" },
    outputs: { type: "string" },
    subscription: { type: "string" },
    topic: { type: "string" },
    project: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    max: { type: "string" },
  },
} as const;

/** The parsed command line as options; throws UsageError for anything it cannot run. */
export function redriveCommandFrom({ values }: ParsedArgs<typeof REDRIVE_ARGS>): RedriveCommand {
  if (!values.stack) throw new UsageError("pass --stack with the stack whose dead letters to move");
  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new UsageError(`--max must be a whole number of at least 1, got ${JSON.stringify(values.max)}`);
  return {
    stack: values.stack,
    ...(values.outputs ? { outputs: values.outputs } : {}),
    ...(values.subscription ? { subscription: values.subscription } : {}),
    ...(values.topic ? { topic: values.topic } : {}),
    ...(values.project ? { project: values.project } : {}),
    dryRun: values["dry-run"],
    ...(max === undefined ? {} : { max }),
  };
}

export function parseRedriveArgs(argv: readonly string[]): RedriveCommand {
  return redriveCommandFrom(parseCommandLine(REDRIVE_ARGS, argv));
}

/** The stack outputs redrive and erase need, from `pulumi stack output --json`: the archive bucket without its gs://. */
export function stackOutputNames(json: string): { topic?: string; subscription?: string; archiveBucket?: string } {
  let outputs: Record<string, unknown>;
  try {
    outputs = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new UsageError("--outputs is not JSON: pipe `pulumi stack output --json` into --outputs -");
  }
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const topic = text(outputs.requestLogTopic);
  const subscription = text(outputs.deadLetterSubscription);
  const archiveBucket = text(outputs.archiveBucket)?.replace(/^gs:\/\//, "");
  return { ...(topic ? { topic } : {}), ...(subscription ? { subscription } : {}), ...(archiveBucket ? { archiveBucket } : {}) };
}

/** A full resource path (`projects/p/topics/t`), from a full path or a short name in `project`. */
export function pubsubResource(kind: "topics" | "subscriptions", name: string, project: string | undefined): string {
  if (name.startsWith("projects/")) return name;
  if (!project) throw new UsageError(`"${name}" is a short ${kind.slice(0, -1)} name: pass --project, or set gcp:project in the stack file`);
  return `projects/${project}/${kind}/${name}`;
}

interface ReceivedMessage {
  ackId: string;
  message: { data?: string; attributes?: Record<string, string>; messageId: string; publishTime?: string };
}

export interface OutgoingMessage {
  readonly data?: string;
  readonly attributes?: Record<string, string>;
}

/** Pub/Sub adds these when it dead-letters a message; the redriven message is the original again. */
const DEAD_LETTER_ATTRIBUTE = /^CloudPubSubDeadLetter/;

export function redrivenMessage(received: ReceivedMessage["message"]): OutgoingMessage {
  const attributes = Object.fromEntries(Object.entries(received.attributes ?? {}).filter(([key]) => !DEAD_LETTER_ATTRIBUTE.test(key)));
  return { ...(received.data === undefined ? {} : { data: received.data }), ...(Object.keys(attributes).length > 0 ? { attributes } : {}) };
}

export interface RedriveOptions {
  readonly pubsub: GoogleApi;
  /** Full paths: projects/<p>/subscriptions/<s> and projects/<p>/topics/<t>. */
  readonly subscription: string;
  readonly topic: string;
  readonly settings: CoreSettings;
  readonly dryRun: boolean;
  readonly max?: number;
}

export interface RedriveSummary {
  /** Dead letters seen: moved, or counted in a dry run. */
  messages: number;
  moved: number;
  /** What the function would now do with them: events by day table, or refusals by reason. */
  readonly byTable: Map<string, number>;
  readonly byReason: Map<string, number>;
  /** The UTC days (YYYY-MM-DD) of the events: the days whose rollups the redriven events change. */
  readonly days: Set<string>;
}

const PULL_SIZE = 100;
/**
 * A pull that returns immediately may come back empty while messages remain; only several empty
 * answers in a row mean the subscription is drained.
 */
const EMPTY_PULLS_TO_STOP = 3;

/**
 * Pulls dead letters, publishes them to the log topic, then acknowledges them: a message is only
 * removed once its copy is published. If the acknowledgement fails the message is published twice,
 * which the function's stable insertId absorbs. A dry run keeps every message leased until it is
 * done counting, then hands them all back at once.
 */
export async function redrive(options: RedriveOptions): Promise<RedriveSummary> {
  const { pubsub, subscription, topic, settings, dryRun, max } = options;
  const summary: RedriveSummary = { messages: 0, moved: 0, byTable: new Map(), byReason: new Map(), days: new Set() };
  const seen = new Set<string>();
  const leased: string[] = [];
  let emptyPulls = 0;
  try {
    while (emptyPulls < EMPTY_PULLS_TO_STOP && (max === undefined || summary.messages < max)) {
      const want = Math.min(PULL_SIZE, max === undefined ? PULL_SIZE : max - summary.messages);
      const { receivedMessages = [] } = await pubsub.json<{ receivedMessages?: ReceivedMessage[] }>("POST", `/v1/${subscription}:pull`, {
        maxMessages: want,
        returnImmediately: true,
      });
      // A lease that ran out during a dry run brings a message back: it is counted once.
      const fresh = receivedMessages.filter((received) => !seen.has(received.message.messageId));
      emptyPulls = fresh.length === 0 ? emptyPulls + 1 : 0;
      fresh.forEach((received) => {
        seen.add(received.message.messageId);
        classify(received.message, settings, summary);
      });
      summary.messages += fresh.length;
      const ackIds = receivedMessages.map((received) => received.ackId);
      if (dryRun) {
        leased.push(...ackIds);
        continue;
      }
      if (fresh.length > 0) {
        await pubsub.json("POST", `/v1/${topic}:publish`, { messages: fresh.map((received) => redrivenMessage(received.message)) });
        summary.moved += fresh.length;
      }
      if (ackIds.length > 0) await pubsub.json("POST", `/v1/${subscription}:acknowledge`, { ackIds });
    }
  } finally {
    // A deadline of 0 returns a leased message to the subscription at once.
    for (let first = 0; first < leased.length; first += 1000) {
      await pubsub.json("POST", `/v1/${subscription}:modifyAckDeadline`, { ackIds: leased.slice(first, first + 1000), ackDeadlineSeconds: 0 });
    }
  }
  return summary;
}

function classify(message: ReceivedMessage["message"], settings: CoreSettings, summary: RedriveSummary): void {
  const decoded = decodeLogEntry(message);
  const result = decoded.ok ? logEntryToEvent(decoded.entry, settings) : decoded;
  const [counts, key] = result.ok ? [summary.byTable, storedTableName(settings.layout, settings.templateTable, result.tableSuffix)] : [summary.byReason, result.reason];
  counts.set(key, (counts.get(key) ?? 0) + 1);
  if (result.ok) summary.days.add(parseTableSuffix(result.tableSuffix)!.date);
}

export function formatRedriveSummary(summary: RedriveSummary, command: Pick<RedriveCommand, "dryRun">, subscription: string, topic: string): string {
  const lines = [
    command.dryRun
      ? `dry run: ${summary.messages} dead letters on ${subscription}; nothing was moved`
      : `moved ${summary.moved} dead letters from ${subscription} to ${topic}`,
  ];
  for (const [title, counts] of [
    ["their events by table", summary.byTable],
    ["refused now, by reason", summary.byReason],
  ] as const) {
    if (counts.size === 0) continue;
    lines.push(`${title}:`, ...[...counts.keys()].sort().map((key) => `  ${key}  ${counts.get(key)}`));
  }
  return lines.join("\n");
}

export const redriveCommand = defineCommand({
  usage: REDRIVE_USAGE,
  args: REDRIVE_ARGS,
  async run(parsed) {
    const command = redriveCommandFrom(parsed);
    const { settings, project: stackProject } = readStack(command.stack);
    const fromOutputs = command.outputs ? stackOutputNames(readFileSync(command.outputs === "-" ? 0 : userPath(command.outputs), "utf8")) : {};
    const subscriptionName = command.subscription ?? fromOutputs.subscription;
    const topicName = command.topic ?? fromOutputs.topic;
    if (!subscriptionName || !topicName) {
      throw new UsageError("name the dead-letter subscription and the topic: pipe `pulumi stack output --json` into --outputs -, or pass --subscription and --topic");
    }
    const project = command.project ?? stackProject;
    const subscription = pubsubResource("subscriptions", subscriptionName, project);
    const topic = pubsubResource("topics", topicName, project);
    const summary = await redrive({ pubsub: serviceApi("pubsub"), subscription, topic, settings, dryRun: command.dryRun, max: command.max });
    console.log(formatRedriveSummary(summary, command, subscription, topic));
    console.log(rollupHint(summary.days, command.stack, command.dryRun ? "dry-run" : "bigquery"));
  },
});

if (require.main === module) void runCommand(redriveCommand);

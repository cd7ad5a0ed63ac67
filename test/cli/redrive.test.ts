import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { OAuth2Client } from "google-auth-library";
import { googleApi, GoogleApiError } from "../../functions/googleApi";
import { rollupHint } from "../../cli/rollup";
import { formatRedriveSummary, parseRedriveArgs, pubsubResource, redrive, redrivenMessage, stackOutputNames } from "../../cli/redrive";
import { UsageError } from "../../cli/runner";
import { ARCHIVE_DIR, ARCHIVE_OBJECTS } from "../../testkit/archiveSample";
import { DEV_SETTINGS } from "../../testkit/logEntries";
import { PubSubStandIn } from "../../testkit/pubsubStandIn";
import { runScript } from "../../testkit/runScript";

const SUBSCRIPTION = "projects/pixel-test/subscriptions/pixel-delivery-dead-letters-x1";
const TOPIC = "projects/pixel-test/topics/pixel-logs-topic-x1";
/** What Pub/Sub adds to a message it dead-letters. */
const DEAD_LETTER_ATTRIBUTES = {
  CloudPubSubDeadLetterSourceDeliveryCount: "10",
  CloudPubSubDeadLetterSourceSubscription: "pixel-delivery-push-x1",
  CloudPubSubDeadLetterSourceSubscriptionProject: "pixel-test",
  CloudPubSubDeadLetterSourceTopicPublishTime: "2026-01-05T23:05:14.000Z",
};

describe("command line", () => {
  test.each([
    [["--stack", "dev", "--outputs", "-"], { stack: "dev", outputs: "-", dryRun: false }],
    [["--stack", "dev", "--subscription", "s", "--topic", "t", "--project", "p", "--dry-run", "--max", "5"], { subscription: "s", topic: "t", project: "p", dryRun: true, max: 5 }],
  ])("%p", (args, expected) => expect(parseRedriveArgs(args)).toMatchObject(expected));

  test.each([
    [["--topic", "t"], /--stack/],
    [["--stack", "dev", "--max", "0"], /--max must be a whole number of at least 1/],
    [["--stack", "dev", "--max", "all"], /--max/],
    [["--stack", "dev", "extra"], /extra/],
  ])("%p is a usage error", (args, message) => {
    expect(() => parseRedriveArgs(args)).toThrow(UsageError);
    expect(() => parseRedriveArgs(args)).toThrow(message);
  });

  test.each([
    ["topics", "t1", "p", "projects/p/topics/t1"],
    ["subscriptions", "projects/q/subscriptions/s1", undefined, "projects/q/subscriptions/s1"],
    ["subscriptions", "projects/q/subscriptions/s1", "p", "projects/q/subscriptions/s1"],
  ] as const)("pubsubResource(%p, %p, %p) is %p", (kind, name, project, expected) => expect(pubsubResource(kind, name, project)).toBe(expected));

  test("a short name without a project is a usage error", () => {
    expect(() => pubsubResource("topics", "t1", undefined)).toThrow(/short topic name: pass --project/);
  });

  test.each([
    [JSON.stringify({ requestLogTopic: TOPIC, deadLetterSubscription: SUBSCRIPTION, ipAddress: "203.0.113.7" }), { topic: TOPIC, subscription: SUBSCRIPTION }],
    [JSON.stringify({ ipAddress: "203.0.113.7" }), {}],
  ])("stack outputs %s", (json, expected) => expect(stackOutputNames(json)).toEqual(expected));

  test("outputs that are not JSON are a usage error", () => {
    expect(() => stackOutputNames("requestLogTopic: x")).toThrow(/pulumi stack output --json/);
  });
});

describe.each([
  [{ messageId: "1", data: "e30=", attributes: { ...DEAD_LETTER_ATTRIBUTES, "logging.googleapis.com/timestamp": "2026-01-05T23:05:12Z" } }, { data: "e30=", attributes: { "logging.googleapis.com/timestamp": "2026-01-05T23:05:12Z" } }],
  [{ messageId: "2", data: "e30=", attributes: DEAD_LETTER_ATTRIBUTES }, { data: "e30=" }],
  [{ messageId: "3", data: "e30=" }, { data: "e30=" }],
])("redrivenMessage(%p)", (received, expected) => {
  test("is the original message: dead-letter attributes dropped, data and other attributes kept", () => expect(redrivenMessage(received)).toEqual(expected));
});

describe("against Pub/Sub", () => {
  const pubsub = new PubSubStandIn(SUBSCRIPTION, TOPIC);
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: "stand-in-token", expiry_date: Date.now() + 3_600_000 });
  let entries: string[];

  beforeAll(async () => {
    await pubsub.start();
    entries = (await Promise.all(ARCHIVE_OBJECTS.map((object) => readFile(path.join(ARCHIVE_DIR, object), "utf8")))).flatMap((text) => text.split("\n").filter(Boolean));
  });
  afterAll(() => pubsub.stop());
  beforeEach(() => {
    pubsub.waiting.clear();
    pubsub.published.length = 0;
    pubsub.calls.length = 0;
    // The six archived entries that are events, dead-lettered (their writes failed), plus one that is not an event.
    for (const index of [0, 1, 3, 6, 7, 9, 2]) pubsub.add({ data: Buffer.from(entries[index]).toString("base64"), attributes: DEAD_LETTER_ATTRIBUTES });
  });

  const options = { subscription: SUBSCRIPTION, topic: TOPIC, settings: DEV_SETTINGS };
  const api = () => googleApi(`http://${pubsub.host}`, auth);

  test("moves every dead letter to the topic as it was first published, then acknowledges it", async () => {
    const waitingBefore = [...pubsub.waiting.values()];
    const summary = await redrive({ ...options, pubsub: api(), dryRun: false });
    expect(summary).toMatchObject({ messages: 7, moved: 7 });
    expect(pubsub.waiting.size).toBe(0);
    expect(pubsub.published.map((message) => message.data)).toEqual(waitingBefore.map((message) => message.data));
    expect(pubsub.published.every((message) => message.attributes === undefined)).toBe(true);
    expect(pubsub.calls.indexOf(`/v1/${TOPIC}:publish`)).toBeLessThan(pubsub.calls.indexOf(`/v1/${SUBSCRIPTION}:acknowledge`));
  });

  test("a dry run counts them by table and reason, moves nothing, and hands them back", async () => {
    const summary = await redrive({ ...options, pubsub: api(), dryRun: true });
    expect(summary).toMatchObject({ messages: 7, moved: 0 });
    expect(Object.fromEntries(summary.byTable)).toEqual({ pixel_acme_20260105: 3, pixel_acme_20260106: 1, pixel_globex_20260105: 1, pixel_globex_20260106: 1 });
    expect(Object.fromEntries(summary.byReason)).toEqual({ other_path: 1 });
    expect([...summary.days].sort()).toEqual(["2026-01-05", "2026-01-06"]);
    expect(rollupHint(summary.days, "prod", "bigquery")).toMatch(/2 UTC day\(s\), 2026-01-05 to 2026-01-06; the scheduled query .*\n {2}npm run rollup -- --stack prod --from 2026-01-05 --to 2026-01-06$/);
    expect(pubsub.published).toEqual([]);
    expect(pubsub.waiting.size).toBe(7);
    // Handed back: a second pass sees all of them again.
    expect((await redrive({ ...options, pubsub: api(), dryRun: true })).messages).toBe(7);
    expect(formatRedriveSummary(summary, { dryRun: true }, SUBSCRIPTION, TOPIC)).toMatch(/^dry run: 7 dead letters on projects\/pixel-test\/subscriptions\/pixel-delivery-dead-letters-x1; nothing was moved\ntheir events by table:\n {2}pixel_acme_20260105 {2}3\n/);
  });

  test("--max moves only that many, so one can be tried first", async () => {
    const summary = await redrive({ ...options, pubsub: api(), dryRun: false, max: 1 });
    expect(summary).toMatchObject({ messages: 1, moved: 1 });
    expect(pubsub.published).toHaveLength(1);
    expect(pubsub.waiting.size).toBe(6);
  });

  test("a failed publish acknowledges nothing, so no message is lost", async () => {
    pubsub.failPublishes = [503];
    await expect(redrive({ ...options, pubsub: api(), dryRun: false })).rejects.toThrow(GoogleApiError);
    expect(pubsub.waiting.size).toBe(7);
    expect(pubsub.calls).not.toContain(`/v1/${SUBSCRIPTION}:acknowledge`);
  });

  test("through the command, with the stack outputs piped in and PUBSUB_EMULATOR_HOST", async () => {
    const outputs = JSON.stringify({ requestLogTopic: TOPIC, deadLetterSubscription: SUBSCRIPTION });
    const result = await runScript("cli/redrive.ts", ["--stack", "dev", "--outputs", "-"], { env: { PUBSUB_EMULATOR_HOST: pubsub.host }, input: outputs });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`moved 7 dead letters from ${SUBSCRIPTION} to ${TOPIC}`);
    expect(pubsub.waiting.size).toBe(0);
  });
});

test("the command exits 2 when it cannot tell which subscription to drain", async () => {
  const result = await runScript("cli/redrive.ts", ["--stack", "dev"], { env: { PUBSUB_EMULATOR_HOST: "127.0.0.1:9" } });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("name the dead-letter subscription and the topic");
});

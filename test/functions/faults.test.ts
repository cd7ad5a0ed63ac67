import { getTestServer } from "@google-cloud/functions-framework/testing";
import { createHash } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { registerPixelFunction } from "../../functions/app";
import { FUNCTION_ENTRY_POINT } from "../../core/functionContract";
import { bigQueryWriter } from "../../functions/bigqueryWriter";
import type { AcceptedEvent } from "../../core/event";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import { cloudDelivery } from "../../core/delivery";
import type { LogLine } from "../../core/delivery";
import { BigQueryStandIn, ConnectionFault, insertErrors, INSERT_OK, ScriptedAnswer, serverError } from "../../testkit/bigQueryStandIn";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pixelUrl, pubSubMessage } from "../../testkit/logEntries";
import { Delivery, pushWithRetries } from "../../testkit/pushDelivery";
import { runSeed } from "../../testkit/seed";

const MAX_DELIVERY_ATTEMPTS = 5;
const VALID = 240;
const POISON = 10;
const REFUSED = 10;
/** Far above a loopback insert's time even on a loaded machine, so only the stand-in's hangs reach it. */
const DEADLINE_MS = 2000;
/** FC_SEED, or a new one per run; in the name of every test below, so a failure names the run that repeats it. */
const SEED = runSeed();

const FAULTS: readonly [ScriptedAnswer | ConnectionFault, number][] = [
  [serverError(500), 0.1],
  [serverError(503), 0.05],
  [serverError(429), 0.1],
  [insertErrors("backendError", "transient"), 0.05],
  ["hang", 0.04],
  ["drop", 0.06],
  ["store_then_drop", 0.06],
];

/**
 * A number in [0, 1) for the n-th insertAll of an event: a function of the seed, the insertId and
 * the attempt only, so a seed gives the same faults whatever order the concurrent deliveries take.
 */
function roll(insertId: string, attempt: number): number {
  return createHash("sha256").update(`${SEED}/${insertId}/${attempt}`).digest().readUInt32BE(0) / 2 ** 32;
}

const bigQuery = new BigQueryStandIn();
const logLines: LogLine[] = [];
let server: Server;
let deliveries: Delivery[];
const injected = new Map<string, number>();
let entries: LoadBalancerLogEntry[];
/** The events the core makes of the valid entries, in order. */
let validEvents: AcceptedEvent[];
let poisonIds: Set<string>;

beforeAll(async () => {
  entries = [
    ...Array.from({ length: VALID }, (_, index) => loadBalancerEntry({ insertId: `valid-${index}`, httpRequest: { requestUrl: pixelUrl(`user_id=tenant${index % 7}&type=view`) } })),
    ...Array.from({ length: POISON }, (_, index) => loadBalancerEntry({ insertId: `poison-${index}`, httpRequest: { requestUrl: pixelUrl("user_id=acme&type=poison") } })),
    ...Array.from({ length: REFUSED }, (_, index) => loadBalancerEntry({ insertId: `refused-${index}`, httpRequest: { requestUrl: pixelUrl("type=no-tenant") } })),
  ];
  validEvents = entries.slice(0, VALID).map((entry) => acceptedEvent(entry));
  poisonIds = new Set(entries.slice(VALID, VALID + POISON).map((entry) => acceptedEvent(entry).insertId));
  jest.spyOn(console, "error").mockImplementation(() => undefined);
  await bigQuery.start();
  const attempts = new Map<string, number>();
  bigQuery.injectFaults(([insertId]) => {
    const attempt = (attempts.get(insertId) ?? 0) + 1;
    attempts.set(insertId, attempt);
    // BigQuery refuses a poison row every time: only the dead-letter topic can end its retries.
    if (poisonIds.has(insertId)) return insertErrors("invalid", "Cannot convert value to integer (bad value): poison");
    let remaining = roll(insertId, attempt);
    for (const [fault, probability] of FAULTS) {
      if ((remaining -= probability) < 0) {
        const name = typeof fault === "string" ? fault : `${fault.status}${(fault.body as { insertErrors?: unknown }).insertErrors ? " partial failure" : ""}`;
        injected.set(name, (injected.get(name) ?? 0) + 1);
        return fault;
      }
    }
    return INSERT_OK;
  });
  const templateTable = bigQuery.client().dataset("pixel_dev").table("pixel");
  registerPixelFunction(DEV_SETTINGS, bigQueryWriter(templateTable, DEADLINE_MS), (line) => logLines.push(line), cloudDelivery(MAX_DELIVERY_ATTEMPTS));
  server = getTestServer(FUNCTION_ENTRY_POINT);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/projects/demo-project/topics/pixel-requests`;
  deliveries = await pushWithRetries(endpoint, entries.map((entry, index) => pubSubMessage(entry, `m${index}`)), {
    maxDeliveryAttempts: MAX_DELIVERY_ATTEMPTS,
    // As deployed, the ack deadline outlasts any run of the handler, so no attempt is abandoned mid-write.
    ackDeadlineMs: 30_000,
    concurrency: 8,
  });
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await bigQuery.stop();
});

function deliveryOf(index: number): Delivery {
  return deliveries.find((delivery) => delivery.messageId === `m${index}`)!;
}

describe(`the fault run with seed ${SEED} (FC_SEED=${SEED} repeats its faults)`, () => {
  it("injected every kind of fault", () => {
    expect([...injected.keys()].sort()).toEqual(["429", "500", "503", "200 partial failure", "drop", "hang", "store_then_drop"].sort());
  });

  it("ends a hung insertAll at the writer's deadline, as a redelivery", () => {
    expect(logLines.filter((line) => line.detail.includes(`insertAll did not answer within ${DEADLINE_MS} ms`)).length).toBe(injected.get("hang"));
  });

  it("never retries a message forever", () => {
    expect(deliveries).toHaveLength(entries.length);
    expect(Math.max(...deliveries.map((delivery) => delivery.attempts))).toBeLessThanOrEqual(MAX_DELIVERY_ATTEMPTS);
  });

  it("loses no valid event: each is stored exactly once by insertId, or dead-lettered", () => {
    const lost = validEvents.filter((event, index) => !bigQuery.stored.has(event.insertId) && deliveryOf(index).outcome !== "dead_lettered");
    expect(lost).toEqual([]);
    for (const [index, event] of validEvents.entries()) {
      if (bigQuery.stored.has(event.insertId)) expect(bigQuery.stored.get(event.insertId)).toEqual(event.row);
      else expect(deliveryOf(index).attempts).toBe(MAX_DELIVERY_ATTEMPTS);
    }
    const storedValid = validEvents.filter((event) => bigQuery.stored.has(event.insertId)).length;
    expect(storedValid).toBeGreaterThan(VALID * 0.9);
  });

  it("dead-letters rows BigQuery calls invalid, after the bounded attempts, with their reason", () => {
    for (let index = VALID; index < VALID + POISON; index++) {
      expect(deliveryOf(index)).toMatchObject({ attempts: MAX_DELIVERY_ATTEMPTS, outcome: "dead_lettered" });
      expect(logLines.filter((line) => line.messageId === `m${index}`).map((line) => line.reason)).toEqual(Array(MAX_DELIVERY_ATTEMPTS).fill("row_rejected"));
    }
    expect([...poisonIds].some((id) => bigQuery.stored.has(id))).toBe(false);
  });

  it("acks refused input at once, without a write", () => {
    for (let index = VALID + POISON; index < entries.length; index++) expect(deliveryOf(index)).toEqual({ messageId: `m${index}`, attempts: 1, outcome: "acked" });
  });

  it("absorbs the redelivery of rows stored before their connection dropped", () => {
    const insertAttempts = bigQuery.requests.flatMap((request) => (request.body as { rows: { insertId: string }[] }).rows.map((row) => row.insertId));
    const repeatedAfterStore = insertAttempts.length - new Set(insertAttempts).size;
    expect(repeatedAfterStore).toBeGreaterThan(0);
    // Every redelivery carried its first delivery's insertId, so BigQuery could drop the copy: no
    // event was sent under more than one id, and nothing but valid events was stored.
    expect(new Set(insertAttempts)).toEqual(new Set([...validEvents.map((event) => event.insertId), ...poisonIds]));
    const validIds = new Set(validEvents.map((event) => event.insertId));
    expect([...bigQuery.stored.keys()].filter((id) => !validIds.has(id))).toEqual([]);
    const acked = deliveries.filter((delivery) => delivery.outcome === "acked").length;
    console.info(
      `fault run with seed ${SEED}: ${entries.length} messages, ${bigQuery.requests.length} insertAll calls, faults ${JSON.stringify(Object.fromEntries(injected))}; ` +
        `${bigQuery.stored.size} rows stored once each, ${acked} acked, ${deliveries.length - acked} dead-lettered, 0 lost`,
    );
  });
});

import { getTestServer } from "@google-cloud/functions-framework/testing";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { registerPixelFunction } from "../../functions/app";
import { FUNCTION_ENTRY_POINT } from "../../core/functionContract";
import { bigQueryWriter } from "../../functions/bigqueryWriter";
import { logEntryToEvent } from "../../core/event";
import { cloudDelivery } from "../../core/delivery";
import type { LogLine } from "../../core/delivery";
import { BigQueryStandIn, ConnectionFault, insertErrors, INSERT_OK, ScriptedAnswer, serverError } from "../../testkit/bigQueryStandIn";
import { DEV_SETTINGS, loadBalancerEntry, pixelUrl, pubSubMessage } from "../../testkit/logEntries";
import { Delivery, pushWithRetries } from "../../testkit/pushDelivery";
import { seededRandom } from "../../testkit/seededRandom";

const MAX_DELIVERY_ATTEMPTS = 5;
const VALID = 240;
const POISON = 10;
const REFUSED = 10;
/** Far above a loopback insert's time even on a loaded machine, so only the stand-in's hangs reach it. */
const DEADLINE_MS = 2000;


const FAULTS: readonly [ScriptedAnswer | ConnectionFault, number][] = [
  [serverError(500), 0.1],
  [serverError(503), 0.05],
  [serverError(429), 0.1],
  [insertErrors("backendError", "transient"), 0.05],
  ["hang", 0.04],
  ["drop", 0.06],
  ["store_then_drop", 0.06],
];

const bigQuery = new BigQueryStandIn();
const logLines: LogLine[] = [];
let server: Server;
let deliveries: Delivery[];
const injected = new Map<string, number>();

const entries = [
  ...Array.from({ length: VALID }, (_, index) => loadBalancerEntry({ insertId: `valid-${index}`, httpRequest: { requestUrl: pixelUrl(`user_id=tenant${index % 7}&type=view`) } })),
  ...Array.from({ length: POISON }, (_, index) => loadBalancerEntry({ insertId: `poison-${index}`, httpRequest: { requestUrl: pixelUrl("user_id=acme&type=poison") } })),
  ...Array.from({ length: REFUSED }, (_, index) => loadBalancerEntry({ insertId: `refused-${index}`, httpRequest: { requestUrl: pixelUrl("type=no-tenant") } })),
];
const events = entries.map((entry) => logEntryToEvent(entry, DEV_SETTINGS));
const poisonIds = new Set(events.flatMap((event, index) => (event.ok && index >= VALID ? [event.insertId] : [])));

beforeAll(async () => {
  jest.spyOn(console, "error").mockImplementation(() => undefined);
  await bigQuery.start();
  const random = seededRandom(20261122);
  bigQuery.injectFaults((insertIds) => {
    // BigQuery refuses a poison row every time: only the dead-letter topic can end its retries.
    if (insertIds.some((id) => poisonIds.has(id))) return insertErrors("invalid", "Cannot convert value to integer (bad value): poison");
    let roll = random();
    for (const [fault, probability] of FAULTS) {
      if ((roll -= probability) < 0) {
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
  const lost = events.slice(0, VALID).filter((event, index) => event.ok && !bigQuery.stored.has(event.insertId) && deliveryOf(index).outcome !== "dead_lettered");
  expect(lost).toEqual([]);
  for (const [index, event] of events.slice(0, VALID).entries()) {
    if (event.ok && bigQuery.stored.has(event.insertId)) expect(bigQuery.stored.get(event.insertId)).toEqual(event.row);
    else expect(deliveryOf(index).attempts).toBe(MAX_DELIVERY_ATTEMPTS);
  }
  const storedValid = events.slice(0, VALID).filter((event) => event.ok && bigQuery.stored.has(event.insertId)).length;
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
  expect(bigQuery.stored.size).toBe(new Set([...bigQuery.stored.keys()]).size);
  const acked = deliveries.filter((delivery) => delivery.outcome === "acked").length;
  console.info(
    `fault run: ${entries.length} messages, ${bigQuery.requests.length} insertAll calls, faults ${JSON.stringify(Object.fromEntries(injected))}; ` +
      `${bigQuery.stored.size} rows stored once each, ${acked} acked, ${deliveries.length - acked} dead-lettered, 0 lost`,
  );
});

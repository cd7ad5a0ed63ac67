import { getTestServer } from "@google-cloud/functions-framework/testing";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cloudDelivery } from "../../core/delivery";
import type { LogLine } from "../../core/delivery";
import { FUNCTION_ENTRY_POINT } from "../../core/functionContract";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import { STANDARD_COLUMNS } from "../../core/schema";
import { registerPixelFunction } from "../../functions/app";
import { bigQueryWriter } from "../../functions/bigqueryWriter";
import { BigQueryStandIn, insertErrors, INSERT_OK } from "../../testkit/bigQueryStandIn";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pixelUrl, pubSubMessage } from "../../testkit/logEntries";
import { Delivery, pushWithRetries } from "../../testkit/pushDelivery";

// A stack deployed before the answer columns, just upgraded: the template has the new columns,
// but BigQuery applies them to the day tables only after a while, and until then answers
// "no such field". Through the function's real handler and BigQuery client, with Pub/Sub's
// redelivery and dead-lettering, every event must end up stored once, none dead-lettered.
const MESSAGES = 20;
/** insertAll calls answered "no such field" before BigQuery has applied the template's new schema. */
const ANSWERED_BEFORE_THE_SCHEMA_ARRIVES = 3 * MESSAGES;
/** Pub/Sub's largest budget, which the stack may set for an upgrade; no message can spend it here. */
const MAX_DELIVERY_ATTEMPTS = 100;
const NEW_COLUMNS = new Set(STANDARD_COLUMNS.slice(15).map((column) => column.name));

const bigQuery = new BigQueryStandIn();
const logLines: LogLine[] = [];
let server: Server;
let deliveries: Delivery[];
let answeredNoSuchField = 0;
let entries: LoadBalancerLogEntry[];

beforeAll(async () => {
  entries = Array.from({ length: MESSAGES }, (_, index) => loadBalancerEntry({ insertId: `upgrade-${index}`, httpRequest: { requestUrl: pixelUrl(`user_id=tenant${index % 4}&type=view`) } }));
  jest.spyOn(console, "error").mockImplementation(() => undefined);
  await bigQuery.start();
  bigQuery.injectFaults(() => {
    if (answeredNoSuchField >= ANSWERED_BEFORE_THE_SCHEMA_ARRIVES) return INSERT_OK;
    answeredNoSuchField++;
    return insertErrors("invalid", "no such field: visitor_id.");
  });
  registerPixelFunction(DEV_SETTINGS, bigQueryWriter(bigQuery.client().dataset("pixel_dev").table("pixel")), (line) => logLines.push(line), cloudDelivery(MAX_DELIVERY_ATTEMPTS));
  server = getTestServer(FUNCTION_ENTRY_POINT);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/projects/demo-project/topics/pixel-requests`;
  deliveries = await pushWithRetries(endpoint, entries.map((entry, index) => pubSubMessage(entry, `m${index}`)), { maxDeliveryAttempts: MAX_DELIVERY_ATTEMPTS, ackDeadlineMs: 30_000, concurrency: 4 });
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await bigQuery.stop();
});

test("BigQuery answered no such field until the schema arrived, the rows carrying the new columns", () => {
  expect(answeredNoSuchField).toBe(ANSWERED_BEFORE_THE_SCHEMA_ARRIVES);
  const firstRow = (bigQuery.requests[0].body as { rows: { json: Record<string, unknown> }[] }).rows[0].json;
  expect(Object.keys(firstRow).filter((column) => NEW_COLUMNS.has(column)).sort()).toEqual([...NEW_COLUMNS].sort());
});

test("every event is stored exactly once, with the row the core made, and no message is dead-lettered", () => {
  expect(deliveries).toHaveLength(MESSAGES);
  expect(deliveries.filter((delivery) => delivery.outcome !== "acked")).toEqual([]);
  expect(deliveries.some((delivery) => delivery.attempts > 1)).toBe(true);
  for (const entry of entries) {
    const event = acceptedEvent(entry);
    expect(bigQuery.stored.get(event.insertId)).toEqual(event.row);
  }
  expect(bigQuery.stored.size).toBe(MESSAGES);
});

test("each refused write is a failed write, retried and logged as a warning, never a rejected row", () => {
  expect(logLines).toHaveLength(ANSWERED_BEFORE_THE_SCHEMA_ARRIVES);
  for (const line of logLines) {
    expect(line).toMatchObject({ severity: "WARNING", reason: "write_failed", message: "write failed; the message will be retried" });
    expect(line.detail).toContain("no such field: visitor_id.");
  }
});

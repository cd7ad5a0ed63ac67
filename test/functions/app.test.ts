import { getTestServer } from "@google-cloud/functions-framework/testing";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { registerPixelFunction } from "../../functions/app";
import { FUNCTION_ENTRY_POINT } from "../../core/functionContract";
import { bigQueryWriter } from "../../functions/bigqueryWriter";
import { cloudDelivery } from "../../core/delivery";
import { templateSchema } from "../../core/schema";
import type { LogLine } from "../../core/delivery";
import { BigQueryStandIn, insertErrors, serverError } from "../../testkit/bigQueryStandIn";
import { DEV_SETTINGS, loadBalancerEntry, pubSubMessage } from "../../testkit/logEntries";

const MAX_DELIVERY_ATTEMPTS = 5;
const bigQuery = new BigQueryStandIn();
const logLines: LogLine[] = [];
let server: Server;
let frameworkErrors: jest.SpyInstance;
let functionUrl: string;

beforeAll(async () => {
  // The framework prints each failed invocation's stack; the tests assert on the structured lines instead.
  frameworkErrors = jest.spyOn(console, "error").mockImplementation(() => undefined);
  await bigQuery.start();
  const templateTable = bigQuery.client().dataset("pixel_dev").table("pixel");
  registerPixelFunction(DEV_SETTINGS, bigQueryWriter(templateTable), (line) => logLines.push(line), cloudDelivery(MAX_DELIVERY_ATTEMPTS));
  server = getTestServer(FUNCTION_ENTRY_POINT);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  functionUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await bigQuery.stop();
});

beforeEach(() => {
  bigQuery.reset();
  logLines.length = 0;
  frameworkErrors?.mockClear();
});

/** A binary-mode CloudEvent, as Eventarc delivers a Pub/Sub `messagePublished` event. */
function postCloudEvent(entry: unknown): Promise<Response> {
  return postCloudEventBody(JSON.stringify({ message: pubSubMessage(entry), subscription: "projects/demo-project/subscriptions/eventarc-sub" }));
}

/** A binary-mode CloudEvent with this body. */
function postCloudEventBody(body: string): Promise<Response> {
  return fetch(functionUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "ce-id": "4711",
      "ce-specversion": "1.0",
      "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
      "ce-source": "//pubsub.googleapis.com/projects/demo-project/topics/pixel-requests",
      "ce-time": "2017-05-17T11:12:31.000Z",
    },
    body,
  });
}

/** A plain Pub/Sub push request, as the push subscription with the dead-letter policy sends it. */
function postPush(entry: unknown): Promise<Response> {
  return fetch(`${functionUrl}/projects/demo-project/topics/pixel-requests`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: pubSubMessage(entry), subscription: "projects/demo-project/subscriptions/pixel-push" }),
  });
}

const EXPECTED_INSERT_ALL = {
  method: "POST",
  path: "/bigquery/v2/projects/test-project/datasets/pixel_dev/tables/pixel/insertAll",
  body: {
    templateSuffix: "_acme_20170517",
    rows: [
      {
        // Pinned in test/core/event.test.ts: the id must never change.
        insertId: "bIudF7T6NVkCRLlsvdKtk6rsg3u5EJ3Q",
        json: expect.objectContaining({
          event_timestamp: "2017-05-17T11:12:28.408747Z",
          user_id: "acme",
          order_id: "42",
          type: "click",
          remote_ip: "89.160.20.0",
        }),
      },
    ],
  },
};

describe.each([
  ["a CloudEvent from an Eventarc trigger", postCloudEvent],
  ["a plain Pub/Sub push request", postPush],
])("%s", (_shape, post) => {
  it("streams exactly one insertAll to the template table with templateSuffix, then acks", async () => {
    const response = await post(loadBalancerEntry());
    expect(response.status).toBeLessThan(300);
    expect(bigQuery.requests).toEqual([EXPECTED_INSERT_ALL]);
    expect(Object.keys((bigQuery.requests[0].body as { rows: { json: object }[] }).rows[0].json).sort()).toEqual(templateSchema(DEV_SETTINGS.attributes).map((field) => field.name).sort());
    expect(logLines).toEqual([]);
  });
});

it("acks bad input without calling BigQuery, and logs one structured line", async () => {
  const response = await postPush(loadBalancerEntry({ httpRequest: { requestUrl: "https://track.example.com/pixel.png?type=click" } }));
  expect(response.status).toBeLessThan(300);
  expect(bigQuery.requests).toEqual([]);
  expect(logLines).toEqual([expect.objectContaining({ severity: "WARNING", reason: "missing_tenant", insertId: "1oek5rg3l3fxj7", messageId: "4711" })]);
});

it("acks a message whose data is not a log entry", async () => {
  const response = await fetch(`${functionUrl}/projects/demo-project/topics/pixel-requests`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: { data: Buffer.from("<html>").toString("base64"), messageId: "1" }, subscription: "s" }),
  });
  expect(response.status).toBeLessThan(300);
  expect(logLines).toEqual([expect.objectContaining({ reason: "invalid_message" })]);
});

// An event with nothing to read can never be stored: it is acked, or Pub/Sub would redeliver it for days.
// (With no body at all the framework answers 500 itself before the function runs; Pub/Sub always sends one.)
it.each<[string, string]>([
  ["a body without a message", JSON.stringify({ subscription: "projects/demo-project/subscriptions/eventarc-sub" })],
  ["a message without data", JSON.stringify({ message: { messageId: "4712" } })],
])("acks a CloudEvent with %s, without calling BigQuery", async (_name, body) => {
  const response = await postCloudEventBody(body);
  expect(response.status).toBeLessThan(300);
  expect(bigQuery.requests).toEqual([]);
  expect(logLines).toEqual([expect.objectContaining({ severity: "WARNING", reason: "invalid_message" })]);
});

it("asks for redelivery when BigQuery answers 500", async () => {
  bigQuery.script(serverError(500));
  const response = await postCloudEvent(loadBalancerEntry());
  expect(response.status).toBe(500);
  expect(bigQuery.requests).toHaveLength(1);
  expect(logLines).toEqual([expect.objectContaining({ severity: "WARNING", reason: "write_failed", insertId: "1oek5rg3l3fxj7", messageId: "4711" })]);
  // The framework logs the failed invocation: it names the decision.
  expect(frameworkErrors.mock.calls.map(([error]) => String(error).split("\n")[0])).toEqual(["MessageNotStoredError: the event was not stored; decision: retry"]);
});

it("asks for redelivery when BigQuery rate-limits (429)", async () => {
  bigQuery.script(serverError(429));
  expect((await postPush(loadBalancerEntry())).status).toBe(500);
  expect(logLines).toEqual([expect.objectContaining({ reason: "write_failed" })]);
});

it("asks for redelivery on a transient row failure, with one call and no client-side retries", async () => {
  bigQuery.script(insertErrors("backendError", "try again"));
  expect((await postPush(loadBalancerEntry())).status).toBe(500);
  expect(bigQuery.requests).toHaveLength(1);
  expect(logLines).toEqual([expect.objectContaining({ reason: "write_failed" })]);
});

it("logs a row BigQuery calls invalid as a refusal and fails it towards the dead-letter topic", async () => {
  bigQuery.script(insertErrors("invalid", "Cannot convert value to integer (bad value): x"));
  const response = await postPush(loadBalancerEntry());
  expect(response.status).toBe(500);
  expect(bigQuery.requests).toHaveLength(1);
  expect(logLines).toEqual([
    expect.objectContaining({ severity: "ERROR", reason: "row_rejected", detail: "invalid: Cannot convert value to integer (bad value): x" }),
  ]);
});

it("asks for redelivery, as a failed write, when BigQuery does not know a column the template just gained", async () => {
  bigQuery.script(insertErrors("invalid", "no such field: visitor_id."));
  const response = await postPush(loadBalancerEntry());
  expect(response.status).toBe(500);
  expect(logLines).toEqual([
    expect.objectContaining({ severity: "WARNING", reason: "write_failed", detail: expect.stringContaining("SchemaNotYetAppliedError: BigQuery does not know a column of the row yet") }),
  ]);
});

it("writes a redelivered message with the same insertId, so BigQuery can drop the duplicate", async () => {
  await postPush(loadBalancerEntry());
  await postCloudEvent(loadBalancerEntry());
  const [first, second] = bigQuery.requests.map((request) => (request.body as { rows: { insertId: string }[] }).rows[0].insertId);
  expect(second).toBe(first);
});

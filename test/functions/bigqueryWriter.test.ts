import { replayDelivery } from "../../core/delivery";
import type { DeliveryOutcome, Decision } from "../../core/delivery";
import { bigQueryWriter } from "../../functions/bigqueryWriter";
import { handlePixelMessage } from "../../functions/handler";
import { BigQueryStandIn, INSERT_OK, insertErrors, serverError } from "../../testkit/bigQueryStandIn";
import type { ScriptedAnswer } from "../../testkit/bigQueryStandIn";
import { DEV_SETTINGS, loadBalancerEntry, pubSubMessage } from "../../testkit/logEntries";

const bigQuery = new BigQueryStandIn();

beforeAll(() => bigQuery.start());
afterAll(() => bigQuery.stop());
beforeEach(() => bigQuery.reset());

/*
 * How the writer classifies BigQuery's answers, through the real client, as the delivery policy
 * sees them. Only a per-row insertError with reason "invalid" says the row itself will never fit
 * (rejected); everything else is a write that did not complete (failed), which may succeed on a
 * later delivery: a whole request refused with 400 "invalid" judged the call, not this row, and
 * "no such field" means the table has not yet taken the template's new columns. The replay policy
 * tells the two apart on the first attempt (a rejected row is reported at once, a failed write
 * retried), so each row of the table shows the decision as well as the outcome.
 */
describe.each<[string, ScriptedAnswer, DeliveryOutcome["kind"], Decision]>([
  ["a stored row", INSERT_OK, "stored", "ack"],
  ["a whole request refused with 400 invalid", { status: 400, body: { error: { code: 400, message: "Invalid request", errors: [{ reason: "invalid", message: "Invalid request" }] } } }, "failed", "retry"],
  ["a server error", serverError(500), "failed", "retry"],
  ["a rate limit", serverError(429), "failed", "retry"],
  ["a transient row error", insertErrors("backendError", "try again"), "failed", "retry"],
  ["a column the table has not taken yet", insertErrors("invalid", "no such field: visitor_id."), "failed", "retry"],
  ["a row BigQuery cannot convert", insertErrors("invalid", "Cannot convert value to integer (bad value): x"), "rejected", "dead_letter"],
  // A column not there yet excuses the row only when it is the row's only fault.
  ["a column not taken yet, and a value BigQuery cannot convert", insertErrors("invalid", "no such field: visitor_id.", { reason: "invalid", message: "Cannot convert value to integer (bad value): x" }), "rejected", "dead_letter"],
])("%s", (_, answer, outcome, decision) => {
  it(`is ${outcome}, and the first delivery's decision is ${decision}, after one insertAll`, async () => {
    bigQuery.script(answer);
    const writer = bigQueryWriter(bigQuery.client().dataset("pixel_dev").table("pixel"));
    const handled = await handlePixelMessage(pubSubMessage(loadBalancerEntry()), { settings: DEV_SETTINGS, writer, log: () => undefined, policy: replayDelivery(3), attempt: 1 });
    expect(handled.outcome.kind).toBe(outcome);
    expect(handled.decision).toBe(decision);
    expect(bigQuery.requests).toHaveLength(1);
  });
});

test("a rejected row's detail gives every reason BigQuery gave, for the dead-letter log line", async () => {
  bigQuery.script(insertErrors("invalid", "Cannot convert value to integer (bad value): x", { reason: "invalid", message: "Cannot convert value to double (bad value): y" }));
  const writer = bigQueryWriter(bigQuery.client().dataset("pixel_dev").table("pixel"));
  const handled = await handlePixelMessage(pubSubMessage(loadBalancerEntry()), { settings: DEV_SETTINGS, writer, log: () => undefined, policy: replayDelivery(3), attempt: 1 });
  expect(handled.outcome).toMatchObject({ kind: "rejected", detail: "invalid: Cannot convert value to integer (bad value): x; invalid: Cannot convert value to double (bad value): y" });
});

/*
 * An insertAll that never answers: the client's own timeout is ignored (see withDeadline), so only the
 * writer's deadline ends it, as a failed write that the policy retries. The deadline is injected as
 * small as a loopback call allows, so the test takes a tenth of a second; as deployed it is 10 s.
 */
describe("an insertAll that never answers", () => {
  const DEADLINE_MS = 100;
  /** Room for a loaded machine. Without the deadline the call never ends, and the 5 s test timeout fails the test. */
  const SLACK_MS = 2_000;

  async function handleHung() {
    let arrived!: () => void;
    const hangArrived = new Promise<void>((resolve) => (arrived = resolve));
    bigQuery.injectFaults(() => {
      arrived();
      return "hang";
    });
    const writer = bigQueryWriter(bigQuery.client().dataset("pixel_dev").table("pixel"), DEADLINE_MS);
    const started = performance.now();
    const handled = await handlePixelMessage(pubSubMessage(loadBalancerEntry()), { settings: DEV_SETTINGS, writer, log: () => undefined, policy: replayDelivery(3), attempt: 1 });
    const elapsedMs = performance.now() - started;
    await hangArrived;
    return { handled, elapsedMs };
  }

  it("is a failed write at the deadline, retried", async () => {
    const { handled, elapsedMs } = await handleHung();
    expect(handled.outcome).toMatchObject({ kind: "failed", detail: `InsertDeadlineError: insertAll did not answer within ${DEADLINE_MS} ms` });
    expect(handled.decision).toBe("retry");
    expect(elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS - 1);
    expect(elapsedMs).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(bigQuery.requests).toHaveLength(1);
  }, 5_000);

  // Jest fails the running test on an unhandled rejection, so each late ending is waited for here.
  it.each<[string, ScriptedAnswer | "drop"]>([
    ["a late success", INSERT_OK],
    ["a late server error", serverError(503)],
    ["a late dropped connection", "drop"],
  ])("ends in %s without an unhandled rejection, and the outcome stays the deadline's", async (_, lateAnswer) => {
    const { handled } = await handleHung();
    bigQuery.answerHung(lateAnswer);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(handled.outcome.kind).toBe("failed");
    // A late success did store the row: the redelivery carries the same insertId, and BigQuery drops it.
    expect(bigQuery.stored.size).toBe(lateAnswer === INSERT_OK ? 1 : 0);
  }, 5_000);

  it("leaves no timer behind once the insert has answered", async () => {
    const setTimer = jest.spyOn(globalThis, "setTimeout");
    const clearTimer = jest.spyOn(globalThis, "clearTimeout");
    try {
      const writer = bigQueryWriter(bigQuery.client().dataset("pixel_dev").table("pixel"), 43_210);
      const handled = await handlePixelMessage(pubSubMessage(loadBalancerEntry()), { settings: DEV_SETTINGS, writer, log: () => undefined, policy: replayDelivery(3), attempt: 1 });
      expect(handled.outcome.kind).toBe("stored");
      const deadlineTimers = setTimer.mock.results.filter((_, index) => setTimer.mock.calls[index][1] === 43_210).map((result) => result.value as unknown);
      expect(deadlineTimers).toHaveLength(1);
      expect(clearTimer).toHaveBeenCalledWith(deadlineTimers[0]);
    } finally {
      setTimer.mockRestore();
      clearTimer.mockRestore();
    }
  });
});

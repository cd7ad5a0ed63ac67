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

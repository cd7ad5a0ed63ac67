import { cloudDelivery, decide, LOCAL_DELIVERY, replayDelivery, unstoredLine } from "../../core/delivery";
import type { Decision, DeliveryOutcome, DeliveryPolicy } from "../../core/delivery";
import { logEntryToEvent } from "../../core/event";
import type { AcceptedEvent } from "../../core/event";
import { DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";

const CLOUD = cloudDelivery(5);
const REPLAY = replayDelivery(3);

describe.each<[string, DeliveryPolicy, DeliveryOutcome["kind"], number, Decision]>([
  // Stored and refused are acked on every path, whatever the attempt.
  ["cloud", CLOUD, "stored", 1, "ack"],
  ["cloud", CLOUD, "refused", 7, "ack"],
  ["local", LOCAL_DELIVERY, "refused", 1, "ack"],
  ["replay", REPLAY, "stored", 3, "ack"],
  // The cloud: Pub/Sub redelivers until maxDeliveryAttempts, rejected rows too, then dead-letters.
  ["cloud", CLOUD, "failed", 1, "retry"],
  ["cloud", CLOUD, "failed", 4, "retry"],
  ["cloud", CLOUD, "failed", 5, "dead_letter"],
  ["cloud", CLOUD, "rejected", 4, "retry"],
  ["cloud", CLOUD, "rejected", 5, "dead_letter"],
  // Local: a rejected row is a dead letter at once; a failed transaction is retried for ever.
  ["local", LOCAL_DELIVERY, "rejected", 1, "dead_letter"],
  ["local", LOCAL_DELIVERY, "failed", 1_000_000, "retry"],
  // Replay: rejected at once, failed after its budget.
  ["replay", REPLAY, "rejected", 1, "dead_letter"],
  ["replay", REPLAY, "failed", 2, "retry"],
  ["replay", REPLAY, "failed", 3, "dead_letter"],
])("the %s policy", (_path, policy, outcome, attempt, decision) => {
  test(`decides ${decision} for ${outcome} at attempt ${attempt}`, () => expect(decide(outcome, attempt, policy)).toBe(decision));
});

describe("the line for a row that was not stored", () => {
  const event = logEntryToEvent(loadBalancerEntry(), DEV_SETTINGS) as AcceptedEvent;
  const ids = { insertId: "log-1", messageId: "m-1" };

  test.each([
    ["rejected", "retry", "ERROR", "row_rejected", "row rejected by the store; the message will be retried, then dead-lettered"],
    ["rejected", "dead_letter", "ERROR", "row_rejected", "row rejected by the store; the message is dead-lettered"],
    ["failed", "retry", "WARNING", "write_failed", "write failed; the message will be retried"],
    ["failed", "dead_letter", "ERROR", "write_failed", "write failed on every attempt; the message is dead-lettered"],
  ] as const)("%s, %s: %s with reason %s", (kind, decision, severity, reason, message) => {
    expect(unstoredLine({ kind, event, detail: "the store said no" }, decision, ids)).toEqual({ severity, message, reason, detail: "the store said no", ...ids });
  });
});

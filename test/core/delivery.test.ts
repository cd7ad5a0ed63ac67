import { cloudDelivery, decide, LOCAL_DELIVERY, replayDelivery, unstoredLine } from "../../core/delivery";
import type { Decision, DeliveryOutcome, DeliveryPolicy } from "../../core/delivery";
import { acceptedEvent, loadBalancerEntry } from "../../testkit/logEntries";

/** Each path's policy as its adapter builds it, built inside each test: Pub/Sub with maxDeliveryAttempts 5, the local loader, a replay with 3 attempts. */
const POLICIES: Record<"cloud" | "local" | "replay", () => DeliveryPolicy> = { cloud: () => cloudDelivery(5), local: () => LOCAL_DELIVERY, replay: () => replayDelivery(3) };

describe.each<[keyof typeof POLICIES, DeliveryOutcome["kind"], number, Decision]>([
  // Stored and refused are acked on every path, whatever the attempt.
  ["cloud", "stored", 1, "ack"],
  ["cloud", "refused", 7, "ack"],
  ["local", "refused", 1, "ack"],
  ["replay", "stored", 3, "ack"],
  // The cloud: Pub/Sub redelivers until maxDeliveryAttempts, rejected rows too, then dead-letters.
  ["cloud", "failed", 1, "retry"],
  ["cloud", "failed", 4, "retry"],
  ["cloud", "failed", 5, "dead_letter"],
  ["cloud", "rejected", 4, "retry"],
  ["cloud", "rejected", 5, "dead_letter"],
  // Local: a rejected row is a dead letter at once; a failed transaction is retried for ever.
  ["local", "rejected", 1, "dead_letter"],
  ["local", "failed", 1_000_000, "retry"],
  // Replay: rejected at once, failed after its budget.
  ["replay", "rejected", 1, "dead_letter"],
  ["replay", "failed", 2, "retry"],
  ["replay", "failed", 3, "dead_letter"],
])("the %s policy", (path, outcome, attempt, decision) => {
  test(`decides ${decision} for ${outcome} at attempt ${attempt}`, () => expect(decide(outcome, attempt, POLICIES[path]())).toBe(decision));
});

/*
 * Replay's budget is the command's --attempts: a failed write is retried until the last of them and
 * then stops the run, whatever the budget; a rejected row is reported at once, never retried.
 */
describe.each<[number, DeliveryOutcome["kind"], number, Decision]>([
  [1, "failed", 1, "dead_letter"],
  [1, "rejected", 1, "dead_letter"],
  [1, "stored", 1, "ack"],
  [5, "failed", 1, "retry"],
  [5, "failed", 4, "retry"],
  [5, "failed", 5, "dead_letter"],
  [5, "rejected", 1, "dead_letter"],
  [5, "refused", 1, "ack"],
  [20, "failed", 19, "retry"],
  [20, "failed", 20, "dead_letter"],
])("replayDelivery(%p)", (attempts, outcome, attempt, decision) => {
  test(`decides ${decision} for ${outcome} at attempt ${attempt}`, () => {
    expect(replayDelivery(attempts)).toEqual({ rejectedAttempts: 1, failedAttempts: attempts });
    expect(decide(outcome, attempt, replayDelivery(attempts))).toBe(decision);
  });
});

describe("the line for a row that was not stored", () => {
  const ids = { insertId: "log-1", messageId: "m-1" };

  test.each([
    ["rejected", "retry", "ERROR", "row_rejected", "row rejected by the store; the message will be retried, then dead-lettered"],
    ["rejected", "dead_letter", "ERROR", "row_rejected", "row rejected by the store; the message is dead-lettered"],
    ["failed", "retry", "WARNING", "write_failed", "write failed; the message will be retried"],
    ["failed", "dead_letter", "ERROR", "write_failed", "write failed on every attempt; the message is dead-lettered"],
  ] as const)("%s, %s: %s with reason %s", (kind, decision, severity, reason, message) => {
    expect(unstoredLine({ kind, event: acceptedEvent(loadBalancerEntry()), detail: "the store said no" }, decision, ids)).toEqual({ severity, message, reason, detail: "the store said no", ...ids });
  });
});

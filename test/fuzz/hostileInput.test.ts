import fc from "fast-check";
import { checkEntry, hostileLogEntry } from "../../fuzz/hostileInput";
import { DEV_SETTINGS } from "../../testkit/logEntries";

// The same generator and invariants as `npm run fuzz`, with shrinking to a minimal failing entry.
it("keeps every promise on hostile log entries: no crash, safe tables, whitelisted scalar columns", () => {
  const outcomes = new Set<string>();
  fc.assert(
    fc.property(hostileLogEntry, (entry) => {
      const result = checkEntry(entry, DEV_SETTINGS);
      outcomes.add(result.outcome);
      expect(result.violation).toBeUndefined();
    }),
    { numRuns: 3000, seed: Date.now() },
  );
  expect(outcomes).toContain("accepted");
  expect(outcomes.size).toBeGreaterThan(5);
});

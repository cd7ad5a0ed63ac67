import fc from "fast-check";
import { logEntryToEvent } from "../../core/event";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import { answerProblem, checkEntry, hostileLogEntry } from "../../fuzz/hostileInput";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";

const ANSWERS = ["visitor_id", "country", "browser", "browser_version", "os", "page_host", "page_path", "utm_source"];

// The same generator and invariants as `npm run fuzz`, with shrinking to a minimal failing entry.
describe.each([
  ["the dev stack", DEV_SETTINGS],
  ["short values, full addresses, no utm_ columns", { ...DEV_SETTINGS, maxValueLength: 64, anonymizeIp: false, utmColumns: false }],
])("with %s", (_, settings) => {
  it("keeps every promise on hostile log entries: no crash, safe tables, whitelisted scalar columns, answers of their documented form", () => {
    const outcomes = new Set<string>();
    const answered = new Set<string>();
    fc.assert(
      fc.property(hostileLogEntry, (entry) => {
        const result = checkEntry(entry, settings);
        outcomes.add(result.outcome);
        expect(result.violation).toBeUndefined();
        const event = logEntryToEvent(entry as LoadBalancerLogEntry, settings);
        if (event.ok) for (const column of ANSWERS) if (event.row[column] !== null) answered.add(column);
      }),
      { numRuns: 3000, seed: Date.now() },
    );
    expect(outcomes).toContain("accepted");
    expect(outcomes.size).toBeGreaterThan(5);
    // The generator reaches every answer, so its invariant is really checked.
    expect([...answered].sort()).toEqual(settings.utmColumns ? [...ANSWERS].sort() : ANSWERS.filter((column) => column !== "utm_source").sort());
  });
});

test("the answer invariants catch a broken answer", () => {
  const result = acceptedEvent(loadBalancerEntry());
  expect(answerProblem(result.row, DEV_SETTINGS)).toBeUndefined();
  expect(answerProblem({ ...result.row, country: "Sweden" }, DEV_SETTINGS)).toBe('country: "Sweden"');
  expect(answerProblem({ ...result.row, dnt: true }, DEV_SETTINGS)).toMatch(/^visitor_id/);
  expect(answerProblem({ ...result.row, device_type: "phone" }, DEV_SETTINGS)).toBe('device_type: "phone"');
  expect(answerProblem({ ...result.row, page_path: "/a?b" }, DEV_SETTINGS)).toBe('page_path: "/a?b"');
  expect(answerProblem({ ...result.row, utm_source: "x" }, { ...DEV_SETTINGS, utmColumns: false })).toBe('utm_source: "x"');
});

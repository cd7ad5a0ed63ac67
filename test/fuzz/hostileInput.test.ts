import fc from "fast-check";
import { logEntryToEvent } from "../../core/event";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import type { CoreSettings } from "../../core/config/coreSettings";
import { answerProblem, attributeProblem, checkEntry, hostileLogEntry, withEveryAttributeType } from "../../fuzz/hostileInput";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";

const ANSWERS = ["visitor_id", "country", "browser", "browser_version", "os", "page_host", "page_path", "utm_source"];

// The same generator, invariants and settings as `npm run fuzz`, with shrinking to a minimal failing entry.
describe.each<[string, () => CoreSettings]>([
  ["the dev stack, every attribute a STRING", () => DEV_SETTINGS],
  ["an attribute of every type, short values, full addresses, no utm_ columns", () => withEveryAttributeType({ ...DEV_SETTINGS, maxValueLength: 64, anonymizeIp: false, utmColumns: false })],
])("with %s", (_, settingsUnderTest) => {
  it("keeps every promise on hostile log entries: no crash, safe tables, whitelisted scalar columns, answers of their documented form", () => {
    const settings = settingsUnderTest();
    const outcomes = new Set<string>();
    const answered = new Set<string>();
    const typedValues = new Set<string>();
    fc.assert(
      fc.property(hostileLogEntry, (entry) => {
        const result = checkEntry(entry, settings);
        outcomes.add(result.outcome);
        expect(result.violation).toBeUndefined();
        const event = logEntryToEvent(entry as LoadBalancerLogEntry, settings);
        if (!event.ok) return;
        for (const column of ANSWERS) if (event.row[column] !== null) answered.add(column);
        const invalid = String(event.row.invalid_attributes).split(",");
        for (const { name, type } of settings.attributes) {
          if (type === "STRING") continue;
          if (event.row[name] !== null) typedValues.add(`${name} read`);
          if (invalid.includes(name)) typedValues.add(`${name} invalid`);
        }
      }),
      { numRuns: 3000 },
    );
    expect(outcomes).toContain("accepted");
    expect(outcomes.size).toBeGreaterThan(5);
    // The generator reaches every answer and every typed attribute, with values that fit and values that do not, so their invariants are really checked.
    expect([...answered].sort()).toEqual(settings.utmColumns ? [...ANSWERS].sort() : ANSWERS.filter((column) => column !== "utm_source").sort());
    const typed = settings.attributes.filter((attribute) => attribute.type !== "STRING").map((attribute) => attribute.name);
    expect([...typedValues].sort()).toEqual(typed.flatMap((name) => [`${name} invalid`, `${name} read`]).sort());
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

test("the attribute invariants catch a mistyped attribute", () => {
  const settings = withEveryAttributeType({ ...DEV_SETTINGS, maxValueLength: 8 });
  const { row } = acceptedEvent(loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl("user_id=acme&qty=-9223372036854775808&price=1.5&first=0&type=x") } }), settings);
  expect(row).toMatchObject({ qty: "-9223372036854775808", price: 1.5, first: false, invalid_attributes: null });
  expect(attributeProblem(row, settings)).toBeUndefined();
  expect(attributeProblem({ ...row, qty: "-9223372036854775809" }, settings)).toBe('qty: "-9223372036854775809"');
  expect(attributeProblem({ ...row, qty: 42 }, settings)).toBe("qty: 42");
  expect(attributeProblem({ ...row, price: Infinity }, settings)).toBe("price: null");
  expect(attributeProblem({ ...row, first: "false" }, settings)).toBe('first: "false"');
  expect(attributeProblem({ ...row, type: "123456789" }, settings)).toBe('type: "123456789"');
  expect(attributeProblem({ ...row, invalid_attributes: "qty" }, settings)).toBe('qty: "-9223372036854775808"');
  expect(attributeProblem({ ...row, invalid_attributes: "type" }, settings)).toBe('invalid_attributes: "type"');
});

import { logEntryToEvent } from "../../core/event";
import { preview } from "../../core/refusals";
import { DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";

// Refusal details echo hostile input into the logs only as a JSON preview of at most 120 characters, then "…".
describe.each<[string, unknown, string]>([
  ["a short string", "favicon.ico", '"favicon.ico"'],
  ["JSON of exactly 120 characters", "a".repeat(118), `"${"a".repeat(118)}"`],
  ["JSON of 121 characters", "a".repeat(119), `"${"a".repeat(119)}…`],
  ["a long list", Array(100).fill("victim"), `[${'"victim",'.repeat(13)}"v…`],
  ["a value JSON cannot write", undefined, "undefined"],
])("the preview of %s", (_, value, expected) => {
  test(`is ${expected.length} characters`, () => {
    expect(preview(value)).toBe(expected);
  });
});

test("a refusal's detail carries the cut preview, not the whole hostile value", () => {
  const path = `/${"x".repeat(5000)}`;
  const result = logEntryToEvent(loadBalancerEntry({ httpRequest: { requestUrl: `https://track.example.com${path}` } }), DEV_SETTINGS);
  expect(result).toEqual({ ok: false, reason: "other_path", detail: `path "${path.slice(0, 119)}…` });
});

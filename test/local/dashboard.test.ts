import { analyticsRange } from "../../local/dashboard";

test.each([
  [{ from: "2026-01-01", to: "2026-01-07" }, { from: "2026-01-01", to: "2026-01-07" }],
  [{ from: "2026-01-01", to: "2026-01-01", tenant: "acme" }, { from: "2026-01-01", to: "2026-01-01", tenant: "acme" }],
  [{ from: "2026-01-01", to: "2026-12-31", tenant: "" }, { from: "2026-01-01", to: "2026-12-31" }],
  [{ to: "2026-01-07" }, { error: 'from must be a UTC day as YYYY-MM-DD, got ""' }],
  [{ from: "2026-01-01", to: "2026-02-30" }, { error: 'to must be a UTC day as YYYY-MM-DD, got "2026-02-30"' }],
  [{ from: "01/01/2026", to: "2026-01-07" }, { error: 'from must be a UTC day as YYYY-MM-DD, got "01/01/2026"' }],
  [{ from: "2026-01-07", to: "2026-01-01" }, { error: "the range from 2026-01-07 to 2026-01-01 must run forwards and hold at most 366 days" }],
  [{ from: "2024-01-01", to: "2026-01-01" }, { error: "the range from 2024-01-01 to 2026-01-01 must run forwards and hold at most 366 days" }],
  [{ from: "2026-01-01", to: "2026-01-07", tenant: "x".repeat(65) }, { error: "tenant is longer than any tenant can be (64 bytes)" }],
])("the dashboard's analytics request %p reads as %p", (query, expected) => {
  expect(analyticsRange(new URLSearchParams(query))).toEqual(expected);
});

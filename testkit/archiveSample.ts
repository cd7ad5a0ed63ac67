import * as path from "node:path";

/**
 * testkit/archive holds three files in the Cloud Storage sink's layout
 * (`requests/YYYY/MM/DD/HH:00:00_HH:59:59_S<n>.json`, newline-delimited LogEntry JSON):
 * 11 entries, one of them written twice, as the sink may do.
 */
export const ARCHIVE_DIR = path.join(__dirname, "archive");
export const ARCHIVE_OBJECTS = [
  "requests/2026/01/05/23:00:00_23:59:59_S0.json",
  "requests/2026/01/06/00:00:00_00:59:59_S0.json",
  "requests/2026/01/06/00:00:00_00:59:59_S1.json",
] as const;

/** What the dev stack's settings make of it: events by day table (the repeated entry counts twice) and refusals by reason. */
export const ARCHIVE_EVENTS_BY_TABLE = {
  pixel_acme_20260105: 3,
  pixel_acme_20260106: 1,
  pixel_globex_20260105: 1,
  pixel_globex_20260106: 1,
};
export const ARCHIVE_REFUSALS_BY_REASON = {
  cdn_subrequest: 1,
  method_not_counted: 1,
  missing_tenant: 1,
  other_path: 1,
  status_not_counted: 1,
};
/** Rows once the repeated entry is stored once. */
export const ARCHIVE_DISTINCT_EVENTS = 5;

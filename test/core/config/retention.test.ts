import { ConfigProblems, RawConfig } from "../../../core/config/fields";
import { oldestKeptDay, readRetentionSettings, RetentionSettings, retentionMs } from "../../../core/config/retention";
import { stackConfigWarnings, validateStackConfig } from "../../../core/config/stackConfig";
import { TEST_STACK_CONTEXT } from "../../../testkit/settings";

function read(raw: RawConfig, rollupLateDays = 2): { settings: RetentionSettings; problems: string[] } {
  const problems = new ConfigProblems();
  return { settings: readRetentionSettings(raw, rollupLateDays, problems), problems: problems.messages };
}

describe.each<[string, RawConfig, RetentionSettings]>([
  ["nothing set: 25 months, not chosen, the shortest time travel", {}, { days: 760, chosen: false, timeTravelHours: 48 }],
  ["Pulumi's merged empty default: still not chosen", { retentionDays: "" }, { days: 760, chosen: false, timeTravelHours: 48 }],
  ["760 set on purpose", { retentionDays: "760" }, { days: 760, chosen: true, timeTravelHours: 48 }],
  ["a year, as YAML's number", { retentionDays: 365 }, { days: 365, chosen: true, timeTravelHours: 48 }],
  ["for ever", { retentionDays: "forever" }, { chosen: true, timeTravelHours: 48 }],
  ["the longest time travel", { timeTravelHours: "168" }, { days: 760, chosen: false, timeTravelHours: 168 }],
  ["one day more than the rollups' window", { retentionDays: "3" }, { days: 3, chosen: true, timeTravelHours: 48 }],
])("%s", (_, raw, expected) => {
  test("is read without problems", () => expect(read(raw)).toEqual({ settings: expected, problems: [] }));
});

describe.each<[RawConfig, RegExp]>([
  [{ retentionDays: "0" }, /^pixel-pipeline:retentionDays: expected a whole number from 1 to 3650, got "0"\. To keep data for ever, set it to "forever"\.$/],
  [{ retentionDays: "never" }, /^pixel-pipeline:retentionDays: expected a whole number from 1 to 3650, got "never"\. To keep data for ever, set it to "forever"\.$/],
  [{ retentionDays: "3651" }, /^pixel-pipeline:retentionDays: expected a whole number from 1 to 3650/],
  [{ retentionDays: "2" }, /^pixel-pipeline:retentionDays: 2 does not outlast rollupLateDays \(2\): the rollups would recompute days whose rows have expired\. Raise retentionDays, or lower rollupLateDays\.$/],
  [{ timeTravelHours: "24" }, /^pixel-pipeline:timeTravelHours: expected a whole number from 48 to 168/],
  [{ timeTravelHours: "169" }, /^pixel-pipeline:timeTravelHours: expected a whole number from 48 to 168/],
  [{ timeTravelHours: "50" }, /^pixel-pipeline:timeTravelHours: 50 is not a whole number of days: use 48, 72, 96, 120, 144 or 168\.$/],
])("%p", (raw, message) => {
  test("is one problem naming the key and the fix", () => expect(read(raw).problems).toEqual([expect.stringMatching(message)]));
});

describe.each([
  [{ days: 760 }, 760 * 86_400_000],
  [{ days: 1 }, 86_400_000],
  [{}, undefined],
])("retentionMs(%p)", (retention, expected) => {
  test(`is ${expected}`, () => expect(retentionMs(retention)).toBe(expected));
});

describe.each([
  [{ days: 30 }, "2026-03-01T23:59:59Z", "2026-01-31"],
  // 2024-11-05 + 760 days is 2026-12-05: it expired at this midnight.
  [{ days: 760 }, "2026-12-05T00:00:00Z", "2024-11-06"],
  [{ days: 1 }, "2024-03-01T12:00:00Z", "2024-03-01"],
  [{ days: 2 }, "2024-03-01T12:00:00Z", "2024-02-29"],
  [{}, "2026-12-05T00:00:00Z", undefined],
])("oldestKeptDay(%p, %s)", (retention, now, expected) => {
  test(`is ${expected}: the days before it are past the retention`, () => expect(oldestKeptDay(retention, new Date(now))).toBe(expected));
});

describe("the preview warning", () => {
  const attributes = JSON.stringify({ user_id: "STRING" });
  const warnings = (raw: RawConfig) => stackConfigWarnings(validateStackConfig({ attributes, tenantAllowlist: "acme", ...raw }, TEST_STACK_CONTEXT));

  test("is given while retentionDays is not set, and says what the next update deletes and how to keep everything", () => {
    expect(warnings({})).toEqual([expect.stringMatching(/^pixel-pipeline:retentionDays is not set, so data is kept 760 days: on a stack deployed before this setting existed, the next pulumi up makes BigQuery expire the partitions \(rollups, events_partitioned\), and the archive delete the files, of every day older than that\. Set it, to 760 or to "forever" to keep everything, and run npm run retention -- --dry-run/)]);
    expect(warnings({ retentionDays: "" })).toHaveLength(1);
  });

  test.each(["760", "forever", "30"])("is not given once retentionDays is %s", (retentionDays) => expect(warnings({ retentionDays, archiveColdAfterDays: "7" })).toEqual([]));
});

test("the validated stack config carries the retention, and its problems are reported with everyone else's", () => {
  const attributes = JSON.stringify({ user_id: "STRING" });
  expect(validateStackConfig({ attributes, retentionDays: "400", timeTravelHours: "72" }, TEST_STACK_CONTEXT).retention).toEqual({ days: 400, chosen: true, timeTravelHours: 72 });
  expect(() => validateStackConfig({ attributes, retentionDays: "-1", rollupLateDays: "40" }, TEST_STACK_CONTEXT)).toThrow(/rollupLateDays[\s\S]*retentionDays/);
});

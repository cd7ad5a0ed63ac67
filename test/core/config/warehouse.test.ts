import { stackConfigReader } from "../../../testkit/settings";

// Values as Pulumi hands them over: strings, structured values as JSON.
const { validate, problems } = stackConfigReader({ attributes: JSON.stringify({ user_id: "STRING", type: "STRING" }) });

describe.each([
  [{}, { rollupLateDays: 2, rollupSchedule: "every 1 hours", requirePartitionFilter: false }],
  [{ layout: "partitioned" }, { rollupLateDays: 2, rollupSchedule: "every 1 hours", requirePartitionFilter: true }],
  [{ layout: "partitioned", requirePartitionFilter: "false" }, { rollupLateDays: 2, rollupSchedule: "every 1 hours", requirePartitionFilter: false }],
  // The declared default reaches every stack that does not set the key, per-tenant-day ones too.
  [{ requirePartitionFilter: "true" }, { rollupLateDays: 2, rollupSchedule: "every 1 hours", requirePartitionFilter: false }],
  [{ rollupLateDays: "1", rollupSchedule: "every 15 minutes" }, { rollupLateDays: 1, rollupSchedule: "every 15 minutes", requirePartitionFilter: false }],
  [{ rollupLateDays: 31, rollupSchedule: "every day 03:30" }, { rollupLateDays: 31, rollupSchedule: "every day 03:30", requirePartitionFilter: false }],
  [{ rollupSchedule: "every 24 hours" }, { rollupLateDays: 2, rollupSchedule: "every 24 hours", requirePartitionFilter: false }],
  [{ rollupSchedule: "every 5 mins" }, { rollupLateDays: 2, rollupSchedule: "every 5 mins", requirePartitionFilter: false }],
])("the warehouse settings of %p", (extra, expected) => {
  test(`are ${JSON.stringify(expected)}`, () => expect(validate(extra).warehouse).toEqual(expected));
});

describe.each([
  [{ rollupLateDays: "0" }, ["pixel-pipeline:rollupLateDays: expected a whole number from 1 to 31, got \"0\"."]],
  [{ rollupLateDays: "32" }, ["pixel-pipeline:rollupLateDays: expected a whole number from 1 to 31"]],
  [{ rollupSchedule: "every 2 minutes" }, ['pixel-pipeline:rollupSchedule: "every 2 minutes" is not a schedule the rollups accept: use "every N minutes" (5 to 1440)']],
  [{ rollupSchedule: "every 25 hours" }, ['pixel-pipeline:rollupSchedule: "every 25 hours" is not a schedule']],
  [{ rollupSchedule: "every monday 09:00" }, ['pixel-pipeline:rollupSchedule: "every monday 09:00" is not a schedule']],
  [{ rollupSchedule: "0 * * * *" }, ['pixel-pipeline:rollupSchedule: "0 * * * *" is not a schedule']],
  [{ rollupSchedule: "every day 24:00" }, ['pixel-pipeline:rollupSchedule: "every day 24:00" is not a schedule']],
  [{ requirePartitionFilter: "false" }, ['pixel-pipeline:requirePartitionFilter: applies to layout "partitioned" only']],
  [{ layout: "partitioned", requirePartitionFilter: "sometimes" }, ['pixel-pipeline:requirePartitionFilter: expected true or false, got "sometimes".']],
  [
    { rollupLateDays: "-1", rollupSchedule: "hourly", requirePartitionFilter: false },
    ["pixel-pipeline:requirePartitionFilter: applies", "pixel-pipeline:rollupLateDays: expected", 'pixel-pipeline:rollupSchedule: "hourly"'],
  ],
])("the config %p", (extra, expected) => {
  test("is refused with every problem named by key, with its fix", () => {
    expect(problems(extra)).toEqual(expected.map((message) => expect.stringContaining(message)));
  });
});

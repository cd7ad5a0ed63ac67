import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { ROLLUPS } from "../../core/layout";
import { segmentFileName } from "../../local/spool";
import { freshDirectoryEachTest, query, spooledPixelLine } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();
const DAY_MS = 86_400_000;

// The loader's process prunes on start: a database holding a day 100 days old and yesterday keeps
// only yesterday once the pipeline starts with a retention of 30 days.
it("prunes the days past the stack's retention when the pipeline starts, and keeps the rest", async () => {
  const day = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);
  const line = (daysAgo: number, index: number) => spooledPixelLine(`line-${daysAgo}-${index}`, `user_id=acme&order_id=${index}`, BigInt(Date.now() - daysAgo * DAY_MS) * 1_000_000n);
  await local.startPipeline();
  await local.stopPipeline();
  await writeFile(path.join(local.dir, "spool", segmentFileName(2)), `${[line(100, 1), line(100, 2), line(1, 3)].join("\n")}\n`);
  // Loaded by a pipeline that keeps everything.
  await local.startPipeline();
  await local.stopPipeline();
  const days = async (table: string) => (await query(local.dir, `SELECT DISTINCT CAST(event_date AS VARCHAR) AS day FROM ${table} ORDER BY 1`)).map((row) => row.day);
  expect(await days("events_partitioned")).toEqual([day(100), day(1)]);
  expect(await days(ROLLUPS.counts)).toEqual([day(100), day(1)]);

  const pipeline = await local.startPipeline(undefined, { retentionDays: 30 });
  // A run that crosses midnight UTC prunes from the next day's count.
  expect(pipeline.warnings).toEqual([expect.stringMatching(new RegExp(`^retention: removed the days before (?:${day(29)}|${day(28)}): 2 events, [1-9][0-9]* rollup rows, 0 refusals, 0 loaded spool segments$`))]);
  await local.stopPipeline();
  expect(await days("events_partitioned")).toEqual([day(1)]);
  expect(await days(ROLLUPS.counts)).toEqual([day(1)]);
});

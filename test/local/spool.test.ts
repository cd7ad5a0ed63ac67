import { appendFile, readdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { comparePositions, readSpool, rewriteLoadedSegments, segmentFileName, SPOOL_START, SpoolWriter, unloadedBytes } from "../../local/spool";
import { countRows, freshDirectoryEachTest, query, spooledPixelLine } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

describe("SpoolWriter", () => {
  it("syncs concurrent appends in shared groups and resolves each only once it is on disk", async () => {
    const spool = await SpoolWriter.open(local.dir);
    const durable: number[] = [];
    spool.on("durable", (end: { offset: number }) => durable.push(end.offset));
    const lines = Array.from({ length: 200 }, (_, index) => JSON.stringify({ index }));
    await Promise.all(lines.map((line) => spool.append(line)));
    await spool.close();

    expect(await readFile(path.join(local.dir, segmentFileName(1)), "utf8")).toBe(lines.map((line) => `${line}\n`).join(""));
    expect(spool.stats.entries).toBe(200);
    // The first append starts an fsync alone; everything appended meanwhile shares the next one.
    expect(spool.stats.fsyncs).toBeLessThan(200);
    expect(durable).toHaveLength(spool.stats.fsyncs);
    expect(spool.durableEnd).toEqual({ segment: 1, offset: Buffer.byteLength(lines.join("\n")) + 1 });
  });

  it("starts a new segment on every open, after the existing ones", async () => {
    for (let run = 0; run < 3; run++) await (await SpoolWriter.open(local.dir)).close();
    expect((await readdir(local.dir)).sort()).toEqual([1, 2, 3].map(segmentFileName));
  });

  it("finishes a segment that holds lines once it is segmentAgeMs old, and the last one when closed", async () => {
    const spool = await SpoolWriter.open(local.dir, { segmentAgeMs: 50 });
    const finished = new Promise((resolve) => spool.on("durable", (end: { segment: number }) => end.segment === 2 && resolve(end)));
    expect(spool.finishedEnd).toEqual({ segment: 1, offset: 0 });
    await spool.append(JSON.stringify({ index: 1 }));
    expect(await finished).toEqual({ segment: 2, offset: 0 });
    expect(spool.finishedEnd).toEqual({ segment: 2, offset: 0 });
    await spool.close();
    expect(spool.finishedEnd).toEqual({ segment: 3, offset: 0 });
    expect(await readFile(path.join(local.dir, segmentFileName(1)), "utf8")).toBe(`${JSON.stringify({ index: 1 })}\n`);
    expect(await readFile(path.join(local.dir, segmentFileName(2)), "utf8")).toBe("");
  });

  it("refuses appends after close", async () => {
    const spool = await SpoolWriter.open(local.dir);
    await spool.close();
    await expect(spool.append("{}")).rejects.toThrow("closed");
  });
});

describe("readSpool", () => {
  it("pages through finished segments and the active one up to its durable end", async () => {
    await writeFile(path.join(local.dir, segmentFileName(1)), "a\nbb\n");
    await writeFile(path.join(local.dir, segmentFileName(3)), "ccc\n");
    const spool = await SpoolWriter.open(local.dir);
    await spool.append("dddd");
    // Not yet durable, so not read.
    await appendFile(path.join(local.dir, segmentFileName(4)), "eeeee\n");

    const first = await readSpool(local.dir, SPOOL_START, spool.durableEnd, { lines: 2, bytes: Infinity });
    expect(first.lines.map((line) => line.text)).toEqual(["a", "bb"]);
    const rest = await readSpool(local.dir, first.end, spool.durableEnd, { lines: 100, bytes: Infinity });
    expect(rest.lines.map((line) => [line.text, line.start, line.end])).toEqual([
      ["ccc", { segment: 3, offset: 0 }, { segment: 3, offset: 4 }],
      ["dddd", { segment: 4, offset: 0 }, { segment: 4, offset: 5 }],
    ]);
    expect(rest.end).toEqual(spool.durableEnd);
    expect(rest.tornTails).toEqual([]);
    await spool.close();
  });

  // Lines of 2, 3, 4 and 5 bytes, newlines included, across two segments.
  it.each([
    { bound: { lines: 100, bytes: 5 }, pages: [["a", "bb"], ["ccc"], ["dddd"]] },
    { bound: { lines: 100, bytes: 4 }, pages: [["a"], ["bb"], ["ccc"], ["dddd"]] },
    // A line larger than the bound is read alone, so a read always moves on.
    { bound: { lines: 100, bytes: 1 }, pages: [["a"], ["bb"], ["ccc"], ["dddd"]] },
    { bound: { lines: 2, bytes: 100 }, pages: [["a", "bb"], ["ccc", "dddd"]] },
    { bound: { lines: 100, bytes: 100 }, pages: [["a", "bb", "ccc", "dddd"]] },
  ])("reads within $bound lines and bytes", async ({ bound, pages }) => {
    await writeFile(path.join(local.dir, segmentFileName(1)), "a\nbb\nccc\n");
    await writeFile(path.join(local.dir, segmentFileName(2)), "dddd\n");
    const limit = { segment: 3, offset: 0 };
    const read: string[][] = [];
    for (let from = SPOOL_START; comparePositions(from, limit) < 0; ) {
      const page = await readSpool(local.dir, from, limit, bound);
      // The last read may only step past the end of a finished segment.
      if (page.lines.length > 0) read.push(page.lines.map((line) => line.text));
      from = page.end;
    }
    expect(read).toEqual(pages);
  });

  it("skips and reports a last line torn by a crash, in a segment nothing appends to again", async () => {
    await writeFile(path.join(local.dir, segmentFileName(1)), '{"n":1}\n{"n":2}\n{"n":3,"cut');
    const spool = await SpoolWriter.open(local.dir);
    const read = await readSpool(local.dir, SPOOL_START, spool.durableEnd, { lines: 100, bytes: Infinity });
    expect(read.lines.map((line) => line.text)).toEqual(['{"n":1}', '{"n":2}']);
    expect(read.tornTails).toEqual([{ segment: 1, bytes: '{"n":3,"cut'.length }]);
    expect(read.end).toEqual({ segment: 2, offset: 0 });
    await spool.close();
  });
});

describe("recovery at start-up", () => {
  const NOW_NS = BigInt(Date.now()) * 1_000_000n;

  const spooledPixel = (index: number) => spooledPixelLine(`crashed-${index}`, `user_id=acme&type=recovered&order_id=${index}`, NOW_NS + BigInt(index));

  it("loads every complete line a crashed run left, skips its torn last line, and loads nothing twice", async () => {
    const spoolDir = path.join(local.dir, "spool");
    const complete = [1, 2, 3].map(spooledPixel);
    const torn = spooledPixel(4).slice(0, 100);
    await local.startPipeline();
    await local.stopPipeline();
    await writeFile(path.join(spoolDir, segmentFileName(2)), `${complete.join("\n")}\n${torn}`);

    const pipeline = await local.startPipeline();
    expect(pipeline.recovered).toBe(3);
    expect(pipeline.warnings).toEqual([expect.stringContaining(`${segmentFileName(2)} ends with 100 bytes of a line cut off by a crash`)]);
    expect(await query(local.dir, `SELECT order_id FROM events ORDER BY order_id`)).toEqual([{ order_id: 1 }, { order_id: 2 }, { order_id: 3 }]);
    await local.stopPipeline();

    const restarted = await local.startPipeline();
    await local.stopPipeline();
    expect(restarted.recovered).toBe(0);
    expect(await countRows(local.dir)).toBe(3);
    expect(await query(local.dir, `SELECT count(*) AS n FROM refusals`)).toEqual([{ n: 0 }]);
  });
});

describe("rewriteLoadedSegments and unloadedBytes (erase --local)", () => {
  const write = (segment: number, text: string) => writeFile(path.join(local.dir, segmentFileName(segment)), text);
  const read = (segment: number) => readFile(path.join(local.dir, segmentFileName(segment)), "utf8");

  test("drops the chosen lines of loaded segments only, keeps a torn tail, and a dry run only counts", async () => {
    await write(1, "keep 1\ndrop 1\nkeep 2\ntorn");
    await write(2, "keep 3\n");
    await write(3, "drop 2\n");
    const drop = (line: string) => line.startsWith("drop");
    expect(await rewriteLoadedSegments(local.dir, 3, drop, true)).toEqual({ segments: 2, rewritten: 1, removed: 1 });
    expect(await read(1)).toBe("keep 1\ndrop 1\nkeep 2\ntorn");
    expect(await rewriteLoadedSegments(local.dir, 3, drop, false)).toEqual({ segments: 2, rewritten: 1, removed: 1 });
    expect(await read(1)).toBe("keep 1\nkeep 2\ntorn");
    expect(await read(3)).toBe("drop 2\n");
    expect((await readdir(local.dir)).sort()).toEqual([1, 2, 3].map(segmentFileName));
    expect(await rewriteLoadedSegments(local.dir, 3, drop, false)).toEqual({ segments: 2, rewritten: 0, removed: 0 });
  });

  test("unloadedBytes: what lies past the checkpoint, over a gap in the segments too", async () => {
    await write(1, "a\n");
    await write(2, "bb\ncc\n");
    await write(4, "dddd\n");
    expect(await unloadedBytes(local.dir, { segment: 2, offset: 3 })).toBe(3 + 5);
    expect(await unloadedBytes(local.dir, { segment: 5, offset: 0 })).toBe(0);
  });
});

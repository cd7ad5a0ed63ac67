import fc from "fast-check";
import { boundedLines, groupsOf, RefusalTally } from "../../core/archiveLoad";
import type { OverlongLine } from "../../core/archiveLoad";

async function linesOf(chunks: readonly (Buffer | string)[], maxLineBytes: number): Promise<(string | OverlongLine)[]> {
  const lines = [];
  for await (const line of boundedLines((async function* () { yield* chunks; })(), maxLineBytes)) lines.push(line);
  return lines;
}

/** `bytes` cut at the given points. */
function cut(bytes: Buffer, points: readonly number[]): Buffer[] {
  const sorted = [...new Set(points.map((point) => point % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...sorted, bytes.length].map((end, index) => bytes.subarray(index === 0 ? 0 : sorted[index - 1], end));
}

describe("boundedLines", () => {
  it("gives the lines of any text cut anywhere, as splitting the whole text does, multi-byte characters included", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: "grapheme", maxLength: 20 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), async (lines, points, crlf) => {
        const text = lines.map((line) => `${line.replace(/[\r\n]/g, "")}${crlf ? "\r\n" : "\n"}`).join("");
        const expected = text === "" ? [] : text.split("\n").slice(0, -1).map((line) => line.replace(/\r$/, ""));
        expect(await linesOf(cut(Buffer.from(text), points), 1024)).toEqual(expected);
      }),
    );
  });

  it("gives a last line without its newline", async () => {
    expect(await linesOf(["a\nb"], 10)).toEqual(["a", "b"]);
  });

  it("keeps only the length of a line over the bound, wherever the chunks cut it, and goes on after it", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 6 }), async (points) => {
        const text = Buffer.from(`short\n${"x".repeat(25)}\n${"y".repeat(10)}\nlast`);
        expect(await linesOf(cut(text, points), 10)).toEqual(["short", { overlongBytes: 25 }, "y".repeat(10), "last"]);
      }),
    );
  });
});

describe("RefusalTally", () => {
  it("logs the first refusals up to its bound, counts them all by reason, and sums the rest up in one line", () => {
    const tally = new RefusalTally(2);
    expect(["other_path", "other_path", "invalid_message", "other_path"].map((reason) => tally.count(reason as "other_path"))).toEqual([true, true, false, false]);
    expect(tally.counts).toEqual({ other_path: 3, invalid_message: 1 });
    expect(tally.summaryLine("gs://b/o")).toEqual({
      severity: "WARNING",
      message: "4 entries of gs://b/o were refused; past the first 2, 2 were counted, not logged",
      reason: "refusals_not_logged",
      detail: "other_path: 3, invalid_message: 1",
      object: "gs://b/o",
      refused: { other_path: 3, invalid_message: 1 },
    });
  });

  it("needs no summary line when every refusal had its own", () => {
    const tally = new RefusalTally(2);
    tally.count("other_path");
    expect(tally.summaryLine("gs://b/o")).toBeUndefined();
  });
});

describe("groupsOf", () => {
  it("cuts a list into groups of at most the size, in order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer({ min: 1, max: 10 }), (items, size) => {
        const groups = groupsOf(items, size);
        expect(groups.flat()).toEqual(items);
        expect(groups.every((group) => group.length >= 1 && group.length <= size)).toBe(true);
        expect(groups.length).toBe(Math.ceil(items.length / size));
      }),
    );
  });

  it("refuses a size under one", () => {
    expect(() => groupsOf([1], 0)).toThrow(RangeError);
  });
});

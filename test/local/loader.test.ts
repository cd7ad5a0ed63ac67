import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { cutToBytes, UNLOADABLE_LINE } from "../../local/loader";
import { REFUSAL_ENTRY_BYTES } from "../../local/refusalBounds";
import { MAX_LINE_BYTES, segmentFileName } from "../../local/spool";
import { countRows, freshDirectoryEachTest, httpRequest, query, spooledPixelLine, waitFor } from "../../testkit/localPipeline";

jest.setTimeout(180_000);

const local = freshDirectoryEachTest();

describe("refused requests of about 1 MB (a server started with a larger header limit)", () => {
  // Below MAX_LINE_BYTES with the rest of the entry, so each is answered and spooled whole.
  const PAD = "p".repeat(MAX_LINE_BYTES - 4096);
  const REFUSED = 24;

  it("loads every good row beside them, stores each cut, stops cleanly and restarts", async () => {
    const server = await local.spawnServer({ nodeArgs: ["--max-http-header-size=4194304"] });
    // No tenant: refused, and still answered with the pixel, as any refusal is.
    const answers = await Promise.all(
      Array.from({ length: REFUSED }, async (_, index) => [
        await httpRequest(`${server.url}pixel.png?order_id=${index}&pad=${PAD}`),
        await httpRequest(`${server.url}pixel.png?user_id=acme&order_id=${index}`),
      ]),
    );
    expect(answers.flat().map((answer) => answer.status)).toEqual(Array(2 * REFUSED).fill(200));
    // Each good pixel is requested after its refusal, but concurrently with the others: the last
    // refusal may be loaded in a batch before the last good rows.
    await waitFor(() => query(local.dir, `SELECT count(*) AS n FROM refusals`), ([row]) => row.n === REFUSED);
    expect(await waitFor(() => countRows(local.dir), (rows) => rows === REFUSED)).toBe(REFUSED);
    const [stored] = await query(local.dir, `SELECT min(reason) AS reason, max(strlen(log_entry)) AS bytes, bool_and(json_valid(log_entry)) AS json FROM refusals`);
    expect(stored).toEqual({ reason: "missing_tenant", bytes: expect.any(Number), json: true });
    expect(stored.bytes).toBeLessThanOrEqual(REFUSAL_ENTRY_BYTES);

    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const restarted = await local.spawnServer();
    expect((await httpRequest(`${restarted.url}pixel.png?user_id=acme&order_id=after`)).status).toBe(200);
    restarted.child.kill("SIGTERM");
    expect(await restarted.exited).toEqual({ code: 0, signal: null });
    expect(await countRows(local.dir)).toBe(REFUSED + 1);
    expect(await query(local.dir, `SELECT count(*) AS n FROM refusals`)).toEqual([{ n: REFUSED }]);
  });
});

describe("a poison line", () => {
  const NOW_NS = BigInt(Date.now()) * 1_000_000n;
  const spooledPixel = (index: number) => spooledPixelLine(`spooled-${index}`, `user_id=acme&order_id=${index}`, NOW_NS + BigInt(index));
  // JSON.parse reads it, but printing it again (for a refusal's detail or log_entry) overflows the stack.
  const tooDeep = `{"insertId":"deep","resource":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;

  it("is refused with its reason, the lines around it load, and every start succeeds", async () => {
    await local.startPipeline();
    await local.stopPipeline();
    await writeFile(path.join(local.dir, "spool", segmentFileName(2)), `${[spooledPixel(1), tooDeep, spooledPixel(2)].join("\n")}\n`);

    const pipeline = await local.startPipeline();
    expect(pipeline.recovered).toBe(3);
    expect(pipeline.warnings).toEqual([expect.stringContaining(`spool line 2:${spooledPixel(1).length + 1} cannot be loaded (RangeError: Maximum call stack size exceeded)`)]);
    await local.stopPipeline();
    expect(await query(local.dir, `SELECT order_id FROM events ORDER BY order_id`)).toEqual([{ order_id: 1 }, { order_id: 2 }]);
    expect(await query(local.dir, `SELECT reason, severity, detail, log_entry FROM refusals`)).toEqual([
      { reason: UNLOADABLE_LINE, severity: "ERROR", detail: "RangeError: Maximum call stack size exceeded", log_entry: null },
    ]);

    const restarted = await local.startPipeline();
    expect(restarted.recovered).toBe(0);
  });
});

describe("cutToBytes", () => {
  it.each([
    { text: "abc", maxBytes: 3, cut: "abc" },
    { text: "abcdef", maxBytes: 5, cut: "ab…" },
    // "é" is two bytes and "€" three: a cut never splits one.
    { text: "éééé", maxBytes: 6, cut: "é…" },
    { text: "a€€", maxBytes: 6, cut: "a…" },
    { text: "a€€b", maxBytes: 7, cut: "a€…" },
  ])("cuts $text to $maxBytes bytes: $cut", ({ text, maxBytes, cut }) => {
    expect(cutToBytes(text, maxBytes)).toBe(cut);
    expect(Buffer.byteLength(cutToBytes(text, maxBytes))).toBeLessThanOrEqual(maxBytes);
  });
});

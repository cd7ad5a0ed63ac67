import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { LineTooLongError, MAX_LINE_BYTES, readSpool, SPOOL_START, SpoolWriter } from "../../local/spool";
import { connect } from "node:net";
import { countRows, freshDirectoryEachTest, httpRequest, query, waitFor } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

describe("one bound on a line, shared by the writer and the reader", () => {
  it("writes and reads back a line of exactly MAX_LINE_BYTES, and refuses one byte more", async () => {
    const spool = await SpoolWriter.open(local.dir);
    const longest = "x".repeat(MAX_LINE_BYTES - 1);
    await spool.append(longest);
    await expect(spool.append(`${longest}x`)).rejects.toThrow(LineTooLongError);
    await spool.append("after");
    const read = await readSpool(local.dir, SPOOL_START, spool.durableEnd, { lines: 10, bytes: Infinity });
    await spool.close();
    expect(read.lines.map((line) => line.text.length)).toEqual([MAX_LINE_BYTES - 1, 5]);
  });

  it("answers a request too long to spool with a 414 before it is answered, so loading and restarts go on", async () => {
    // Node's own header limit (16 KiB) keeps requests far below the bound; a server started with a larger one met it.
    const server = await local.spawnServer({ nodeArgs: ["--max-http-header-size=4194304"] });
    const huge = `/pixel.png?user_id=acme&pad=${"p".repeat(1_200_000)}`;
    expect(await rawStatus(server.url, `GET ${huge} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).toBe(414);
    expect((await httpRequest(`${server.url}pixel.png?user_id=later`)).status).toBe(200);
    await waitFor(() => countRows(local.dir), (rows) => rows === 1);
    const [refusal] = await query(local.dir, `SELECT reason, length(log_entry) < 2000 AS short FROM refusals`);
    expect(refusal).toEqual({ reason: "status_not_counted", short: true });
    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const restarted = await local.spawnServer();
    restarted.child.kill("SIGTERM");
    expect(await restarted.exited).toEqual({ code: 0, signal: null });
    expect(await query(local.dir, `SELECT tenant FROM events`)).toEqual([{ tenant: "later" }]);
  });
});

/** The status of one raw HTTP/1.1 request, which Node's client would not send; 0 when the server closes without an answer. */
async function rawStatus(url: string, request: string): Promise<number> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answer = "";
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

describe("segments", () => {
  it("finish at their size, and loaded ones beyond the bound are deleted, while every answered request stays a row", async () => {
    const pipeline = await local.startPipeline(undefined, { spool: { segmentBytes: 16 * 1024, keepLoadedBytes: 48 * 1024 } });
    const spoolDir = path.join(local.dir, "spool");
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 30 }, (_, index) => httpRequest(`${pipeline.pixelUrl}?user_id=acme&order_id=${batch * 30 + index}`)));
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      await waitFor(() => countRows(local.dir), (rows) => rows === (batch + 1) * 30);
    }
    const names = (await readdir(spoolDir)).sort();
    const sizes = await Promise.all(names.map(async (name) => (await stat(path.join(spoolDir, name))).size));
    // 300 entries of about 1 KiB made about 20 segments of 16 KiB; at most 48 KiB of loaded ones are kept, plus the one being loaded.
    expect(Number(names.at(-1)?.slice(0, 8))).toBeGreaterThan(10);
    expect(sizes.slice(0, -1).reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(48 * 1024 + 2 * 17 * 1024);
    await local.stopPipeline();
    expect(await countRows(local.dir)).toBe(300);
  });
});

// A real full disk: a small tmpfs mounted over the spool directory (tests run as root here and in CI).
const canMount = process.getuid?.() === 0;
(canMount ? describe : describe.skip)("a full disk", () => {
  let spoolDir: string;
  beforeEach(async () => {
    spoolDir = path.join(local.dir, "spool");
    await mkdir(spoolDir, { mode: 0o700 });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", spoolDir]);
  });
  afterEach(async () => {
    // Before the tmpfs goes: the pipeline's files are on it.
    await local.stopPipeline().catch(() => undefined);
    execFileSync("umount", ["-l", spoolDir]);
  });

  it("answers 503 with a short warning while it lasts, and pixels again as soon as there is room, without a restart", async () => {
    const running = await local.startPipeline();
    const pixel = (id: string, pad = "") => httpRequest(`${running.pixelUrl}?user_id=acme&type=${id}${pad}`);
    expect((await pixel("before")).status).toBe(200);

    // Fill the disk, leaving less than one entry's room.
    const filler = path.join(spoolDir, "filler");
    await writeFile(filler, Buffer.alloc(1024 * 1024 - 4096)).catch(() => undefined);
    const { size } = await stat(filler);
    await writeFile(path.join(spoolDir, "filler2"), Buffer.alloc(64 * 1024)).catch(() => undefined);
    expect(size).toBeGreaterThan(0);
    const longUrl = "&pad=" + "p".repeat(15_000);
    const during = await Promise.all(Array.from({ length: 5 }, (_, index) => pixel(`full${index}`, longUrl)));
    expect(during.map((answer) => answer.status)).toEqual([503, 503, 503, 503, 503]);
    const warnings = running.warnings.filter((warning) => warning.startsWith("could not spool"));
    expect(warnings.length).toBeGreaterThan(0);
    expect(Math.max(...warnings.map((warning) => warning.length))).toBeLessThan(500);

    await rm(filler);
    await rm(path.join(spoolDir, "filler2"), { force: true });
    const after = await Promise.all(Array.from({ length: 5 }, (_, index) => pixel(`after${index}`)));
    expect(after.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);

    // Every 200 is a row, and no 503 is.
    const ids = await waitFor(() => countRows(local.dir), (rows) => rows === 6);
    expect(ids).toBe(6);
    expect(await countRows(local.dir, "type LIKE 'full%'")).toBe(0);
    // The spool holds no bytes of the refused requests.
    const lines = (await readFile(path.join(spoolDir, "00000001.ndjson"), "utf8")).trim().split("\n");
    expect(lines.map((line) => JSON.parse(line).httpRequest.requestUrl.includes("type=full"))).toEqual(Array(6).fill(false));
  });
});

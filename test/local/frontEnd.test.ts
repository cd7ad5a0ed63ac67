import { connect } from "node:net";
import type { Socket } from "node:net";
import { SERVER_LIMITS } from "../../local/pipeline";
import { httpRequest, makeTempDir, query, removeDir, startTestPipeline, waitFor } from "../../testkit/localPipeline";
import type { TestPipeline } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

let dir: string;
let pipeline: TestPipeline;
beforeAll(async () => {
  dir = await makeTempDir();
  pipeline = await startTestPipeline(dir);
});
afterAll(async () => {
  await pipeline?.close();
  await removeDir(dir);
});

const port = () => Number(new URL(pipeline.url).port);

describe("what is counted comes from the request's own path, never from its Host header", () => {
  it.each([
    // A path of its own each, so that each finds its own refusal.
    ["/nothing-1", "a/pixel.png?user_id=hostile#", 404, "other_path"],
    ["/nothing-2", "a?user_id=hostile", 404, "other_path"],
    ["/pixel.png?user_id=hosted", "evil.example/other?", 200, undefined],
  ])("GET %s with Host %j is a %d", async (target, host, status, reason) => {
    const answer = await httpRequest(`${pipeline.url.slice(0, -1)}${target}`, { headers: { host } });
    expect(answer.status).toBe(status);
    const logged = `http://127.0.0.1:${port()}${target}`;
    if (reason) {
      const [refusal] = await waitFor(() => query(dir, `SELECT reason, log_entry FROM refusals WHERE log_entry LIKE '%${target}%'`), (rows) => rows.length === 1);
      expect([refusal.reason, JSON.parse(refusal.log_entry as string).httpRequest.requestUrl]).toEqual([reason, logged]);
    } else {
      const rows = await waitFor(() => query(dir, `SELECT tenant, host FROM events WHERE tenant = 'hosted'`), (found) => found.length === 1);
      // The served pixel is the counted one, and the URL logged is the one served, on the server's own address.
      expect(rows).toEqual([{ tenant: "hosted", host: "127.0.0.1" }]);
    }
    expect(await query(dir, `SELECT count(*) AS n FROM events WHERE tenant = 'hostile'`)).toEqual([{ n: 0 }]);
  });
});

describe("every answer says nosniff, so no browser reads it as another type than it says", () => {
  const today = new Date().toISOString().slice(0, 10);
  it.each<[string, string, { method?: string; headers?: Record<string, string> }, number]>([
    ["the pixel", "pixel.png?user_id=nosniff", {}, 200],
    ["the pixel to HEAD", "pixel.png?user_id=nosniff", { method: "HEAD" }, 200],
    ["the pixel, not modified", "pixel.png?user_id=nosniff", { headers: { "if-modified-since": new Date(Date.now() + 86_400_000).toUTCString() } }, 304],
    ["the pixel to POST", "pixel.png?user_id=nosniff", { method: "POST" }, 405],
    ["any other path", "favicon.ico", {}, 404],
    ["the dashboard page", "", {}, 200],
    ["the dashboard script", "app.js", {}, 200],
    ["the stats", "api/stats", {}, 200],
    ["the answers", `api/analytics?from=${today}&to=${today}`, {}, 200],
    ["the answers, badly asked", "api/analytics?from=yesterday", {}, 400],
    ["a query without the token", "api/query", { method: "POST" }, 401],
    ["a query to GET", "api/query", {}, 405],
    ["a dashboard path under another host name", "api/stats", { headers: { host: "attacker.example" } }, 403],
  ])("%s", async (_, target, options, status) => {
    const answer = await httpRequest(`${pipeline.url}${target}`, options);
    expect([answer.status, answer.headers["x-content-type-options"]]).toEqual([status, "nosniff"]);
  });
});

/** A raw connection, for what Node's client would not do: stop halfway through a request. */
function rawConnection(): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port(), "127.0.0.1");
    let received = "";
    const opened = performance.now();
    const closed = new Promise<number>((done) => socket.once("close", () => done(performance.now() - opened)));
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.once("error", () => undefined);
    socket.once("connect", () => resolve({ socket, received: () => received, closed }));
    socket.once("error", reject);
  });
}

describe("slow clients", () => {
  it("get their connection closed after the 405 when a POST's body is still coming", async () => {
    const { socket, received, closed } = await rawConnection();
    socket.write(`POST /pixel.png?user_id=acme HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n`);
    // A byte every 100 ms, as a slow-loris client sends.
    const trickle = setInterval(() => socket.writable && socket.write("x"), 100);
    const afterMs = await closed.finally(() => clearInterval(trickle));
    expect(received()).toMatch(/^HTTP\/1\.1 405 /);
    // Soon after the answer, long before the request timeout would end it.
    expect(afterMs).toBeLessThan(SERVER_LIMITS.requestTimeoutMs / 2);
  });

  it("that never finish their headers are cut off after the headers timeout", async () => {
    const { socket, received, closed } = await rawConnection();
    socket.write(`GET /pixel.png?user_id=acme HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const afterMs = await closed;
    expect(received()).toMatch(/^(HTTP\/1\.1 408 |$)/);
    expect(afterMs).toBeGreaterThanOrEqual(SERVER_LIMITS.headersTimeoutMs - 1000);
    expect(afterMs).toBeLessThan(SERVER_LIMITS.headersTimeoutMs + 20_000);
  });
});

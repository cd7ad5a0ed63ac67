import { connect } from "node:net";
import type { Socket } from "node:net";
import { SERVER_LIMITS } from "../../local/pipeline";
import { freshDirectoryEachTest, query } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

// Enough pipelined requests that a client which stops reading has answers queued behind its socket.
const PIPELINED = 3000;
const READ_BEFORE_STOPPING = 50;
const STATUS_LINE = "HTTP/1.1 200 OK\r\n";

interface PipeliningClient {
  readonly socket: Socket;
  /** 200s read so far; answers arrive in the order of the requests, so these are the first order ids. */
  answered(): number;
  readonly closed: Promise<void>;
}

/**
 * Sends every request at once on one connection, and stops reading once it has read `readFirst`
 * answers (at once when none: it never reads).
 */
function pipelineAndStopReading(port: number, readFirst: number): Promise<PipeliningClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    let stopped = false;
    const answered = () => received.split(STATUS_LINE).length - 1;
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    const stopReading = () => {
      stopped = true;
      socket.pause();
      socket.removeListener("error", reject);
      socket.on("error", () => undefined);
      resolve({ socket, answered, closed });
    };
    socket.once("error", reject);
    socket.once("connect", () => {
      if (readFirst === 0) socket.pause();
      const requests = Array.from({ length: PIPELINED }, (_, index) => `GET /pixel.png?user_id=drain&order_id=${index} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      // A turn of the event loop after the write lets the server (in this process) take the requests first.
      socket.write(requests.join(""), () => readFirst === 0 && setTimeout(stopReading, 0));
    });
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      if (answered() >= readFirst && !stopped) stopReading();
    });
  });
}

describe("a stop ends within its drain bound when a client pipelines requests and stops reading, and every answered pixel is a row", () => {
  it.each([
    // The server is still spooling requests when their connection goes.
    ["hangs up without reading", 0, (socket: Socket) => socket.destroy()],
    ["reads a few answers and holds the connection", READ_BEFORE_STOPPING, () => undefined],
  ])("the client %s", async (_, readFirst, then) => {
    const pipeline = await local.startPipeline();
    const client = await pipelineAndStopReading(Number(new URL(pipeline.url).port), readFirst);
    then(client.socket);

    const bound = SERVER_LIMITS.drainTimeoutMs + 30_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      local.stopPipeline().then(() => "stopped"),
      new Promise((resolve) => (timer = setTimeout(() => resolve(`still stopping after ${bound} ms`), bound))),
    ]).finally(() => clearTimeout(timer));
    expect(outcome).toBe("stopped");

    // What the server sent before it closed the connection, read now.
    client.socket.resume();
    await client.closed;
    const answered = client.answered();
    const [row] = await query(local.dir, `SELECT count(DISTINCT order_id) AS n FROM events WHERE tenant = 'drain' AND CAST(order_id AS INTEGER) < ${answered}`);
    expect([answered >= readFirst, row.n]).toEqual([true, answered]);
  });
});

import { connect } from "node:net";
import type { Socket } from "node:net";
import { SERVER_LIMITS } from "../../local/pipeline";
import { httpRequest, makeTempDir, removeDir, startTestPipeline, waitFor } from "../../testkit/localPipeline";
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

it(`holds slow clients to ${SERVER_LIMITS.maxConnections} connections at once, and cannot keep pixels out by holding them all`, async () => {
  // One process with more slow sockets than there are slots, each reconnecting as soon as it is
  // closed, its request's headers never finished. Bounded: they stop reconnecting with the test.
  const SLOW_SOCKETS = SERVER_LIMITS.maxConnections + 20;
  const PIXELS = 59;
  const MAX_CONNECTS = 20 * SLOW_SOCKETS;
  let holding = true;
  let connects = 0;
  const open = new Set<Socket>();
  const holdSlot = (): void => {
    if (!holding || connects >= MAX_CONNECTS) return;
    connects += 1;
    const socket = connect(port(), "127.0.0.1", () => {
      open.add(socket);
      socket.write("GET /pixel.png?user_id=slow HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    });
    socket.on("error", () => undefined);
    socket.once("close", () => {
      open.delete(socket);
      holdSlot();
    });
  };
  for (let index = 0; index < SLOW_SOCKETS; index++) holdSlot();
  // Every slot is taken once the server has closed its first slow socket.
  await waitFor(async () => connects, (count) => count > SLOW_SOCKETS, 30_000);

  const started = performance.now();
  const statuses: number[] = [];
  for (let index = 0; index < PIXELS; index++) {
    statuses.push(await httpRequest(`${pipeline.pixelUrl}?user_id=fair&order_id=${index}`).then((answer) => answer.status, () => 0));
  }
  holding = false;
  console.log(`${SLOW_SOCKETS} reconnecting slow sockets (${connects} connections): ${statuses.filter((status) => status === 200).length} of ${PIXELS} pixels answered, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (const socket of open) socket.destroy();
  expect(statuses.filter((status) => status === 200)).toHaveLength(PIXELS);
});

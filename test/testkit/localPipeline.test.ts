import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import * as path from "node:path";
import { freshDirectoryEachTest, httpRequest } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

// The tests below run in order: the second checks what the helper did after the first.
const local = freshDirectoryEachTest();
let first: { dir: string; pipelineUrl: string; serverPid: number } | undefined;

test("a test gets a new, empty directory, and starts a pipeline and a server in it", async () => {
  expect(await readdir(local.dir)).toEqual([]);
  const server = await local.spawnServer();
  const pipeline = await local.startPipeline(undefined, { dataDir: path.join(local.dir, "in-process") });
  expect((await httpRequest(`${pipeline.pixelUrl}?user_id=acme`)).status).toBe(200);
  await expect(local.startPipeline()).rejects.toThrow("the test's pipeline is running: stopPipeline() it before starting another");
  first = { dir: local.dir, pipelineUrl: pipeline.url, serverPid: server.child.pid ?? 0 };
});

test("after that test, its pipeline is closed, its server stopped and its directory removed", async () => {
  if (!first) throw new Error("the first test did not get as far as starting both");
  expect(local.dir).not.toBe(first.dir);
  expect(existsSync(first.dir)).toBe(false);
  await expect(httpRequest(first.pipelineUrl)).rejects.toThrow(/ECONNREFUSED/);
  expect(() => process.kill(first?.serverPid ?? 0, 0)).toThrow(/ESRCH/);
});

describe("outside a test", () => {
  let error: unknown;
  beforeAll(() => {
    try {
      void local.dir;
    } catch (caught) {
      error = caught;
    }
  });
  test("there is no directory to use", () => expect(error).toEqual(new Error("a test's directory exists only while the test runs")));
});

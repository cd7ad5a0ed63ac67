import { createServer } from "node:http";
import type { Server } from "node:http";
import { stat } from "node:fs/promises";
import { dataPaths } from "../../local/paths";
import { countRows, freshDirectoryEachTest, httpRequest, runQueryCommand, waitFor } from "../../testkit/localPipeline";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

it("takes statements over the data directory's own socket, 0600, while the server runs", async () => {
  const { pixelUrl, paths } = await local.startPipeline();
  await httpRequest(`${pixelUrl}?user_id=acme`);
  expect(await waitFor(() => countRows(local.dir), (rows) => rows === 1)).toBe(1);
  expect((await stat(paths.querySocket)).mode & 0o777).toBe(0o600);
  await local.stopPipeline();
  // The socket goes with the server, and the file is then read directly.
  await expect(stat(paths.querySocket)).rejects.toThrow(/ENOENT/);
  expect(await countRows(local.dir)).toBe(1);
});

it("after a kill -9, sends nothing to whoever takes the dead server's port, and names the stale server file and the fix", async () => {
  const server = await local.spawnServer();
  server.child.kill("SIGKILL");
  await server.exited;

  // Another program takes the port the server file still names, and answers as the server would.
  let connections = 0;
  const squatter: Server = createServer((_request, response) => response.end(JSON.stringify({ rows: [{ forged: true }] })));
  squatter.on("connection", () => (connections += 1));
  await new Promise<void>((resolve) => squatter.listen(Number(new URL(server.url).port), "127.0.0.1", resolve));
  try {
    const result = await runQueryCommand(["--data-dir", local.dir, "SELECT 1 AS one"]);
    const { serverFile } = dataPaths(local.dir);
    expect([result.code, connections]).toEqual([1, 0]);
    expect(result.stderr).toContain(`query failed: ${serverFile} is left by a server (pid ${server.child.pid}) that no longer answers`);
    expect(result.stderr).toContain(`Start it again with npm start, which loads what it spooled, or delete ${serverFile}`);
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
});

import autocannon from "autocannon";
import type { ServerProcess } from "../../testkit/localPipeline";
import { countRows, freshDirectoryEachTest, httpRequest, query, waitFor } from "../../testkit/localPipeline";

jest.setTimeout(300_000);

const CONNECTIONS = 20;

interface LoadResult {
  /** Order ids whose request was answered 200. */
  readonly acknowledged: ReadonlySet<number>;
  /** Requests built; after a kill, most fail to connect. */
  readonly attempted: number;
  readonly result: autocannon.Result;
}

/**
 * `amount` GETs of the pixel on loopback, each with its own order_id, so each 200 is one row.
 * `onResponse` sees responses as they come, to stop the server mid-load.
 */
function load(server: ServerProcess, type: string, amount: number, onResponse: (answered: number) => void = () => undefined): Promise<LoadResult> {
  const acknowledged = new Set<number>();
  let attempted = 0;
  let answered = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: server.url,
        connections: CONNECTIONS,
        amount,
        // Seconds; generous for a slow shared disk.
        timeout: 60,
        requests: [
          {
            // One request at a time per connection, so the context holds the order id of the request being answered.
            setupRequest: (request, context) => {
              const orderId = attempted++;
              (context as { orderId?: number }).orderId = orderId;
              return { ...request, path: `/pixel.png?user_id=load&type=${type}&order_id=${orderId}` };
            },
            onResponse: (status, _body, context) => {
              if (status === 200) acknowledged.add((context as { orderId: number }).orderId);
              onResponse(++answered);
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve({ acknowledged, attempted, result })),
    );
    void server.exited.then(() => instance.stop());
  });
}

async function spoolStats(server: ServerProcess): Promise<{ entries: number; fsyncs: number }> {
  return JSON.parse((await httpRequest(`${server.url}api/stats`)).body.toString()).spool;
}

const local = freshDirectoryEachTest();

it("turns N requests into exactly N rows, sharing fsyncs between concurrent requests, and stops cleanly on SIGTERM", async () => {
  const N = 2000;
  const server = await local.spawnServer();
  const { acknowledged, result } = await load(server, "steady", N);
  expect([result["2xx"], result.non2xx, result.errors, acknowledged.size]).toEqual([N, 0, 0, N]);

  expect(await waitFor(() => countRows(local.dir), (rows) => rows === N)).toBe(N);
  // The server reads Pulumi.dev.yaml, where order_id is a STRING attribute.
  const ids = `SELECT count(DISTINCT order_id) AS ids, min(CAST(order_id AS INTEGER)) AS first, max(CAST(order_id AS INTEGER)) AS last FROM events`;
  expect(await query(local.dir, ids)).toEqual([
    { ids: N, first: 0, last: N - 1 },
  ]);
  const spool = await spoolStats(server);
  expect(spool.entries).toBe(N);
  expect(spool.fsyncs).toBeLessThan(N);
  console.log(`steady load: ${N} requests, ${result["2xx"]} answered 200, ${N} rows, ${spool.fsyncs} fsyncs for ${spool.entries} entries`);

  server.child.kill("SIGTERM");
  expect(await server.exited).toEqual({ code: 0, signal: null });
  expect(server.output()).toContain("stopped; every answered request is in the database");
  // The server is gone, so this query opens the file itself.
  expect(await countRows(local.dir)).toBe(N);
});

it("keeps every answered request through kill -9 mid-load: the restart loads what was spooled, nothing twice", async () => {
  const AMOUNT = 4000;
  const KILL_AFTER = 1000;
  const server = await local.spawnServer();
  const { acknowledged, attempted, result } = await load(server, "crash", AMOUNT, (answered) => {
    if (answered === KILL_AFTER) server.child.kill("SIGKILL");
  });
  expect(await server.exited).toEqual({ code: null, signal: "SIGKILL" });
  expect(result["2xx"]).toBe(acknowledged.size);
  expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);

  const restarted = await local.spawnServer();
  const stored = await query(local.dir, `SELECT order_id FROM events WHERE type = 'crash'`);
  const storedIds = new Set(stored.map((row) => Number(row.order_id)));
  const lost = [...acknowledged].filter((orderId) => !storedIds.has(orderId));
  console.log(
    `kill -9 under load: ${attempted} requests attempted (${result.errors} failed after the kill), ${result["2xx"]} answered 200 before the kill, ${stored.length} rows after the restart ` +
      `(${stored.length - acknowledged.size} spooled but not answered in time), ${lost.length} answered requests lost`,
  );

  // Nothing answered is lost, and nothing is stored twice.
  expect(lost).toEqual([]);
  expect(storedIds.size).toBe(stored.length);
  // Beyond the answered requests, only those in flight at the kill can have been spooled: one per connection.
  expect(stored.length - acknowledged.size).toBeLessThanOrEqual(CONNECTIONS);

  restarted.child.kill("SIGTERM");
  expect(await restarted.exited).toEqual({ code: 0, signal: null });
  expect(await countRows(local.dir, "type = 'crash'")).toBe(stored.length);
});

import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A stand-in for a Google API on 127.0.0.1 and a free port: tests point the real clients at it. */
export abstract class LoopbackStandIn {
  private readonly server: Server = createServer((request, response) => void this.answer(request, response));

  async start(): Promise<void> {
    // Node closes an idle kept-alive connection after 5 s, and a client that picks that connection
    // for its next request just then sees ECONNRESET: a race of the stand-in, not of the code under
    // test. Google keeps idle connections far longer; stop() closes them all.
    this.server.keepAliveTimeout = 10 * 60_000;
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** `127.0.0.1:<port>`, as the *_EMULATOR_HOST variables take it. */
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** `http://127.0.0.1:<port>`, as a client's apiEndpoint takes it. */
  get endpoint(): string {
    return `http://${this.host}`;
  }

  protected abstract answer(request: IncomingMessage, response: ServerResponse): void | Promise<void>;
}

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * Holds the server to `limit` connections without letting idle ones keep newcomers out. Everything
 * local comes from 127.0.0.1, the browser's pixels and a hostile page's sockets alike, so a cap per
 * address would shut both out. Instead, when every slot is taken, a new connection takes the place
 * of the one that has waited longest without a request in progress (its headers still arriving,
 * or idle between requests): a pixel's request arrives whole at once and is answered in
 * milliseconds, so slow clients, however many and however often they reconnect, can only push
 * each other out. Only when every connection has a request in progress is the newcomer closed.
 */
export function shareConnections(server: Server, limit: number): void {
  const open = new Set<Socket>();
  /** Connections without a request in progress, the longest waiting first: a Set keeps insertion order. */
  const waiting = new Set<Socket>();
  const requestsInProgress = new Map<Socket, number>();
  const forget = (socket: Socket): void => {
    open.delete(socket);
    waiting.delete(socket);
    requestsInProgress.delete(socket);
  };
  server.on("connection", (socket: Socket) => {
    if (open.size >= limit) {
      const [longestWaiting] = waiting;
      if (!longestWaiting) return void socket.destroy();
      forget(longestWaiting);
      longestWaiting.destroy();
    }
    open.add(socket);
    waiting.add(socket);
    socket.once("close", () => forget(socket));
  });
  server.on("request", ({ socket }: IncomingMessage, response: ServerResponse) => {
    if (!open.has(socket)) return;
    waiting.delete(socket);
    requestsInProgress.set(socket, (requestsInProgress.get(socket) ?? 0) + 1);
    response.once("close", () => {
      const left = (requestsInProgress.get(socket) ?? 1) - 1;
      if (left > 0) return void requestsInProgress.set(socket, left);
      requestsInProgress.delete(socket);
      // At the end of the line: it has only now started to wait.
      if (open.has(socket)) waiting.add(socket);
    });
  });
}

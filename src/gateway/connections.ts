/**
 * The server's connections, tracked so that shutdown (Ctrl-C, or the end of the scope) does not wait
 * on clients: connections without a request being answered are closed at once, requests in progress
 * get `SHUTDOWN_GRACE_MS` to finish.
 */
import { Effect } from "effect"
import type { IncomingMessage, Server } from "node:http"
import type { Socket } from "node:net"

/** How long shutdown waits for requests in progress before it closes their connections. */
export const SHUTDOWN_GRACE_MS = 5_000

/**
 * Track the server's connections and how many requests each is answering, so shutdown can close
 * them itself. Node's `server.close()` waits for every connection to end but closes only those it
 * counts as idle at that moment, so after Ctrl-C (measured with `engram serve`):
 * - a keep-alive connection whose request was still arriving stayed open after its answer until the
 *   client dropped it (3.2 s with fetch's 4 s keep-alive);
 * - a connection that had sent nothing yet (a browser's preconnect) or part of a request's head
 *   stayed until its client's own timeout (29.6 s for a client holding it 30 s).
 */
export const trackConnections = (server: Server) => {
  const answering = new Map<Socket, number>()
  let closing = false
  let drained: (() => void) | undefined
  server.on("connection", (socket: Socket) => {
    answering.set(socket, 0)
    socket.once("close", () => {
      answering.delete(socket)
      if (answering.size === 0) drained?.()
    })
  })
  server.on("request", (request: IncomingMessage, response) => {
    const socket = request.socket
    if (!answering.has(socket)) return
    answering.set(socket, answering.get(socket)! + 1)
    response.once("close", () => {
      const left = answering.get(socket)
      if (left === undefined) return
      answering.set(socket, left - 1)
      // During shutdown a connection is closed once its last answer is out (end flushes it first).
      if (closing && left === 1) socket.end()
    })
  })
  /** Stop accepting, close connections without a request in progress, and wait (at most `graceMs`) for the rest. */
  const shutdown = (graceMs: number): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      closing = true
      if (server.listening) server.close()
      if (answering.size === 0) return resume(Effect.void)
      const timer = setTimeout(() => {
        for (const socket of answering.keys()) socket.destroy()
      }, graceMs)
      drained = () => {
        clearTimeout(timer)
        resume(Effect.void)
      }
      for (const [socket, n] of answering) {
        if (n === 0) socket.end()
      }
      // A client that ignores the end of its connection is cut off after the grace period too.
      return Effect.sync(() => clearTimeout(timer))
    })
  return { shutdown }
}

/**
 * An OpenAI-compatible embeddings server for tests: a real HTTP server on 127.0.0.1 (random port),
 * started and stopped as a scoped Effect resource, answering `POST /v1/embeddings` as OpenAI does
 * (`{ object: "list", data: [{ object: "embedding", index, embedding }], model, usage }`).
 *
 * Its vectors are a tiny bag-of-words model, semantic enough for tests: words are lower-cased, a few
 * stop words dropped, a trailing "s" removed ("prefers" → "prefer"), and each remaining word hashed to
 * one of `dimensions` buckets; the vector is L2-normalised. So "what does the user prefer" is close to
 * "The user prefers dark mode" and far from "quarterly revenue forecast".
 *
 * Tests script failures with `next` (answers used before the normal one, in order: a status with
 * headers and a body, or `"hang"` to never answer) and read the request log.
 */
import { Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

const STOP_WORDS = new Set(["a", "an", "the", "what", "does", "do", "is", "are", "of", "to", "and", "which", "how"])

const fnv = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** The bag-of-words vector of `text`. */
export const bagOfWords = (text: string, dimensions: number): Array<number> => {
  const v = new Array<number>(dimensions).fill(0)
  for (const raw of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    if (STOP_WORDS.has(raw)) continue
    const word = raw.length > 3 && raw.endsWith("s") ? raw.slice(0, -1) : raw
    v[fnv(word) % dimensions]! += 1
  }
  const norm = Math.hypot(...v)
  return norm === 0 ? v.map((_, i) => (i === 0 ? 1 : 0)) : v.map((x) => x / norm)
}

/** A scripted answer. */
export type Scripted = "hang" | {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: unknown
}

export interface LoggedRequest {
  readonly at: number
  readonly path: string
  readonly authorization: string | undefined
  readonly body: { readonly model?: string; readonly input?: unknown; readonly dimensions?: number }
}

export interface OpenAiServer {
  /** Base URL of the API, ending in `/v1`. */
  readonly url: string
  readonly requests: Array<LoggedRequest>
  /** Answers given before the normal ones, first in first out. */
  readonly next: Array<Scripted>
  /** The length of the vectors answered (changeable to test a model of the wrong size). */
  dimensions: number
}

/** Start the server for the life of the scope. */
export const openAiServer = (dimensions: number) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: http.Server; readonly state: OpenAiServer }>((resume) => {
      const state: OpenAiServer = { url: "", requests: [], next: [], dimensions }
      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          let body: LoggedRequest["body"] = {}
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as LoggedRequest["body"]
          } catch {
            body = {}
          }
          state.requests.push({ at: Date.now(), path: req.url ?? "", authorization: req.headers.authorization, body })
          const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
            res.writeHead(status, { "content-type": "application/json", ...headers })
            res.end(JSON.stringify(payload))
          }
          const scripted = state.next.shift()
          if (scripted === "hang") return
          if (scripted !== undefined) {
            return send(
              scripted.status,
              scripted.body ?? { error: { message: `status ${scripted.status}` } },
              scripted.headers
            )
          }
          if (req.method !== "POST" || req.url !== "/v1/embeddings") {
            return send(404, { error: { message: "not found" } })
          }
          const input = typeof body.input === "string" ? [body.input] : body.input
          if (!Array.isArray(input) || !input.every((t): t is string => typeof t === "string")) {
            return send(400, { error: { message: "input must be a string or an array of strings" } })
          }
          send(200, {
            object: "list",
            data: input.map((t, index) => ({ object: "embedding", index, embedding: bagOfWords(t, state.dimensions) })),
            model: body.model ?? "unknown",
            usage: { prompt_tokens: input.length, total_tokens: input.length }
          })
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, state: Object.assign(state, { url: `http://127.0.0.1:${port}/v1` }) }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ state }) => state))

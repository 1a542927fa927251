/**
 * Request bodies are limited: a declared Content-Length over the limit is answered 413 before a
 * byte is read; a chunked body is read until it passes the limit (limit + one chunk at most), then
 * answered 413. Both close the connection, so the rest of the body is never read. A body that is
 * not JSON is answered 400 (HttpApi would turn the parse failure into a defect, i.e. a 500).
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Cause, Context, Effect, Option } from "effect"
import type { IncomingMessage } from "node:http"
import { tooDeep } from "../core/decode.js"
import { errorResponse } from "./requests.js"

const tooLarge = (limit: number) =>
  errorResponse(413, {
    _tag: "PayloadTooLarge",
    limit,
    message: `the request body is larger than the gateway's limit of ${limit} bytes`
  }, true)

const badBody = (message: string, field = "body") => errorResponse(400, { _tag: "InvalidInput", field, message })

/** Longest message of a decode error's issue sent to a client. */
const MAX_ISSUE_MESSAGE = 200
/** Most issues of one decode error sent to a client. */
const MAX_ISSUES = 5

const shorten = (message: string): string => {
  const line = message.split("\n")[0] ?? ""
  return line.length > MAX_ISSUE_MESSAGE || line !== message ? `${line.slice(0, MAX_ISSUE_MESSAGE)}…` : line
}

/**
 * A decode error as a client gets it: its first issues, each message one short line, and a message
 * naming the first issue's path — not HttpApi's full tree, which describes the whole schema and the
 * rejected value.
 */
const shortDecodeError = (e: HttpApiDecodeError): HttpApiDecodeError => {
  const issues = e.issues.slice(0, MAX_ISSUES).map((issue) => ({ ...issue, message: shorten(issue.message) }))
  const first = issues[0]
  const at = first === undefined || first.path.length === 0 ? "body" : first.path.map(String).join(".")
  return new HttpApiDecodeError({
    issues,
    message: first === undefined ? "the request does not match the API" : `${at}: ${first.message}`
  })
}

/** Read a chunked body, stopping (and pausing the socket) as soon as it passes `limit` bytes. */
const readAtMost = (incoming: IncomingMessage, limit: number): Effect.Effect<Option.Option<Buffer>, Error> =>
  Effect.async((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onError)
      incoming.off("close", onClose)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        incoming.pause()
        resume(Effect.succeed(Option.none()))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Option.some(Buffer.concat(chunks))))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(error))
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(new Error("the client closed the connection during the request body")))
    }
    incoming.on("data", onData)
    incoming.once("end", onEnd)
    incoming.once("error", onError)
    incoming.once("close", onClose)
    return Effect.sync(cleanup)
  })

const isJson = (request: HttpServerRequest.HttpServerRequest) => {
  const type = request.headers["content-type"]
  // HttpApi reads a body without a content type as JSON, so it is checked as JSON too.
  return type === undefined || type.toLowerCase().includes("application/json")
}

/** The bytes of a chunked request body, read (within the limit) before routing. */
class BufferedBody extends Context.Tag("engram/gateway/BufferedBody")<BufferedBody, Buffer>() {}

/**
 * Enforce the body limit on every request, before anything else answers it. A chunked body is read
 * here and handed on as BufferedBody (see `decodeBody`).
 */
export const limitBody = (limit: number) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = request.headers["content-length"]
    if (declared !== undefined) {
      // Node's parser has validated the header and never delivers more bytes than it declares.
      return Number(declared) > limit ? tooLarge(limit) : yield* app
    }
    if (request.headers["transfer-encoding"] === undefined) return yield* app
    const read = yield* Effect.either(readAtMost(NodeHttpServerRequest.toIncomingMessage(request), limit))
    if (read._tag === "Left") return badBody("the request body could not be read")
    if (Option.isNone(read.right)) return tooLarge(limit)
    return yield* Effect.provideService(app, BufferedBody, read.right.value)
  })

/**
 * Inside the API (so the server still answers through the original Node request): give HttpApi a
 * request holding a chunked body read by `limitBody`, answer a body that is not JSON (or nested
 * deeper than any input may be) with 400 here, and shorten HttpApi's decode errors.
 */
export const decodeBody = (app: HttpApp.Default): HttpApp.Default<HttpApiDecodeError> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const buffered = yield* Effect.serviceOption(BufferedBody)
    let effective = request
    if (Option.isSome(buffered)) {
      const headers = new Headers()
      for (const [k, v] of Object.entries(request.headers)) {
        if (k !== "transfer-encoding" && k !== "content-length") headers.set(k, v)
      }
      const replay = HttpServerRequest.fromWeb(
        new Request(`http://gateway${request.url}`, { method: request.method, headers, body: buffered.value })
      )
      effective = Option.match(request.remoteAddress, {
        onNone: () => replay,
        onSome: (remoteAddress) => replay.modify({ remoteAddress })
      })
    }
    const hasBody = Option.isSome(buffered) || Number(request.headers["content-length"] ?? "0") > 0
    if (hasBody && isJson(effective)) {
      // `text` is cached on the request, so HttpApi reads these same bytes again without I/O.
      const text = yield* Effect.either(effective.text)
      if (text._tag === "Left") return badBody("the request body could not be read")
      let parsed: unknown
      try {
        parsed = JSON.parse(text.right)
      } catch {
        return badBody("is not valid JSON")
      }
      // A body nested this deep is refused before HttpApi decodes it: describing it would overflow the stack.
      const deep = tooDeep(parsed)
      if (deep !== undefined) return badBody("is nested too deeply", ["body", ...deep.slice(0, 8)].join("."))
    }
    return yield* (effective === request
      ? app
      : Effect.provideService(app, HttpServerRequest.HttpServerRequest, effective)).pipe(
        // The router is typed as never failing, but it fails with the API's errors (encoded after this).
        Effect.catchAllCause((cause) => {
          const error = Cause.isFailure(cause) ? Cause.squash(cause) : undefined
          return error instanceof HttpApiDecodeError ? Effect.fail(shortDecodeError(error)) : Effect.failCause(cause)
        })
      )
  })

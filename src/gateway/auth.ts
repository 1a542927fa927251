/**
 * Who may call the gateway. Bearer tokens are compared as SHA-256 digests with `timingSafeEqual`:
 * every comparison has the same length, so neither a token's length nor its prefix leaks through
 * timing, and no input can make the comparison throw. A token may be limited to a list of agents;
 * every request is confined to its token's agents. Authorization is required unless explicitly
 * disabled, which is only allowed on a loopback address. A request without a valid token is refused
 * before its body is read (every path but `/health`), and again by HttpApi's Authorization middleware,
 * which tells the handlers which agents the token may use.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { isIP } from "node:net"
import { ConfigError } from "../domain/errors.js"
import { AgentId } from "../domain/ids.js"
import { Authorization, Caller, Unauthorized } from "./Api.js"
import { errorResponse, pathOf } from "./requests.js"

/** A gateway token, optionally limited to a list of agents. */
export interface GatewayToken {
  readonly token: Redacted.Redacted<string>
  /** The agents this token may use; every agent when absent. */
  readonly agents?: ReadonlyArray<string> | undefined
}

/** Decides what the bearer token of a request may do, from its raw `Authorization` header. */
export type Authenticate = (authorization: string | undefined) => Effect.Effect<Caller["Type"], Unauthorized>

/** An authenticator and how it is described in the start-up log line (never a token). */
export interface Authenticator {
  readonly authenticate: Authenticate
  readonly authSummary: string
}

/** Visible ASCII without spaces: what fits an `Authorization: Bearer` header unchanged. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/
const BEARER = /^Bearer +([\x21-\x7e]+) *$/i

/** True for addresses only this machine can reach. */
export const isLoopback = (host: string): boolean => {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  if (h === "localhost" || h === "::1") return true
  return isIP(h) === 4 && h.startsWith("127.")
}

const sha256 = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest()

const decodeAgent = Schema.decodeUnknownEither(AgentId)

/**
 * Check the tokens (or that authorization may be disabled on `host`) and prepare the authenticator;
 * every mistake is a ConfigError naming the option.
 */
export const authenticatorOf = (
  host: string,
  options: {
    readonly tokens?: ReadonlyArray<GatewayToken> | undefined
    readonly authDisabled?: boolean | undefined
    readonly tokenSource?: string | undefined
  }
): Effect.Effect<Authenticator, ConfigError> =>
  Effect.gen(function*() {
    const tokens = options.tokens ?? []
    if (options.authDisabled === true) {
      if (!isLoopback(host)) {
        return yield* new ConfigError({
          path: "gateway.authDisabled",
          message: `authorization can only be disabled on a loopback address, not ${host}`
        })
      }
      if (tokens.length > 0) {
        return yield* new ConfigError({
          path: "gateway.tokens",
          message: "must be empty when authorization is disabled"
        })
      }
      return {
        authenticate: () => Effect.succeed({ agents: Option.none() }),
        authSummary: "authorization DISABLED (loopback only)"
      }
    }
    if (tokens.length === 0) {
      return yield* new ConfigError({
        path: "gateway.tokens",
        message: "at least one token is required (or disable authorization on a loopback address)"
      })
    }
    const entries: Array<{ readonly digest: Buffer; readonly agents: Option.Option<ReadonlySet<string>> }> = []
    for (const [i, t] of tokens.entries()) {
      const value = Redacted.value(t.token)
      if (!TOKEN_CHARS.test(value)) {
        return yield* new ConfigError({
          path: `gateway.tokens[${i}].token`,
          message: "must be non-empty visible ASCII without spaces"
        })
      }
      const digest = sha256(value)
      if (entries.some((e) => timingSafeEqual(e.digest, digest))) {
        return yield* new ConfigError({ path: `gateway.tokens[${i}].token`, message: "is listed twice" })
      }
      let agents: Option.Option<ReadonlySet<string>> = Option.none()
      if (t.agents !== undefined) {
        if (t.agents.length === 0) {
          return yield* new ConfigError({
            path: `gateway.tokens[${i}].agents`,
            message: "must list at least one agent"
          })
        }
        for (const [j, a] of t.agents.entries()) {
          if (decodeAgent(a)._tag === "Left") {
            return yield* new ConfigError({
              path: `gateway.tokens[${i}].agents[${j}]`,
              message: "must be a valid agent id (1–256 characters)"
            })
          }
        }
        agents = Option.some(new Set(t.agents))
      }
      entries.push({ digest, agents })
    }
    const authenticate: Authenticate = (header) => {
      const match = header === undefined ? null : BEARER.exec(header)
      if (match === null) {
        return Effect.fail(new Unauthorized({ message: "a bearer token is required (Authorization: Bearer <token>)" }))
      }
      const presented = sha256(match[1]!)
      // Compare with every token, without stopping early, so timing says nothing about which matched.
      let found: (typeof entries)[number] | undefined
      for (const entry of entries) {
        if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry
      }
      return found === undefined
        ? Effect.fail(new Unauthorized({ message: "the bearer token is not valid" }))
        : Effect.succeed({ agents: found.agents })
    }
    const limited = entries.filter((e) => Option.isSome(e.agents)).length
    return {
      authenticate,
      authSummary: `bearer token from ${options.tokenSource ?? "the gateway options"} (${tokens.length} token(s)` +
        `${limited > 0 ? `, ${limited} limited to agents` : ""})`
    }
  })

/** The Authorization middleware over an authenticator (which holds the tokens). */
export const AuthorizationLive = (authenticate: Authenticate): Layer.Layer<Authorization> =>
  Layer.succeed(Authorization, {
    // HttpApiSecurity.bearer hands over the header minus its first 7 characters whatever the scheme
    // says; the authenticator reads the whole header so that only "Bearer <token>" is accepted.
    bearer: () =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => authenticate(request.headers.authorization))
  })

/** The one route open to everyone (the memory-api protocol checks health without a token). */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/health"])

/**
 * Refuse a request without a valid token before its body is read, on every path but `/health`
 * (unknown paths included: nothing about the API is told to an anonymous caller). The connection of
 * a refused request with a body is closed, so the body is never read. The caller it found is in the
 * context of what follows, so the hot routes (fastRoutes.ts) do not authenticate the request again.
 */
export const authorizeEarly = (authenticate: Authenticate) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (PUBLIC_PATHS.has(pathOf(request))) return yield* app
    const caller = yield* Effect.either(authenticate(request.headers.authorization))
    if (caller._tag === "Right") return yield* Effect.provideService(app, Caller, caller.right)
    const hasBody = request.headers["transfer-encoding"] !== undefined ||
      Number(request.headers["content-length"] ?? "0") > 0
    return errorResponse(401, { _tag: "Unauthorized", message: caller.left.message }, hasBody)
  })

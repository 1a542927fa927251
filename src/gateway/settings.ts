/** How the gateway listens and whom it lets in: the options of `serve`, checked once at start. */
import { Effect } from "effect"
import { DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT } from "../config/settings.js"
import { ConfigError } from "../domain/errors.js"
import { type Authenticate, authenticatorOf, type GatewayToken } from "./auth.js"

export { DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT }

/** How the gateway listens and whom it lets in. */
export interface GatewayOptions {
  /** Address to bind (default 127.0.0.1, loopback only). */
  readonly host?: string | undefined
  /** Port (default 5500; 0 picks a free port, see `GatewayAddress`). */
  readonly port?: number | undefined
  /** Accepted bearer tokens; at least one unless `authDisabled`. */
  readonly tokens?: ReadonlyArray<GatewayToken> | undefined
  /** Serve without authorization. Refused unless `host` is a loopback address. */
  readonly authDisabled?: boolean | undefined
  /** Largest request body in bytes (default 16 MiB: a 1 MiB memory can take up to 6 MiB as JSON). */
  readonly maxBodyBytes?: number | undefined
  /** Origins allowed to call from a browser (e.g. "https://app.example.com"); none by default. */
  readonly corsOrigins?: ReadonlyArray<string> | undefined
  /** Where the tokens came from, for the start-up log line (e.g. "ENGRAM_GATEWAY_TOKEN"). */
  readonly tokenSource?: string | undefined
}

/** The checked options, with the authenticator built from the tokens. */
export interface ServerSettings {
  readonly host: string
  readonly port: number
  readonly maxBodyBytes: number
  readonly corsOrigins: ReadonlyArray<string>
  readonly authenticate: Authenticate
  readonly authSummary: string
}

/** Check the options and prepare the authenticator; every mistake is a ConfigError naming the option. */
export const settingsOf = (options: GatewayOptions): Effect.Effect<ServerSettings, ConfigError> =>
  Effect.gen(function*() {
    const host = options.host ?? DEFAULT_HOST
    const port = options.port ?? DEFAULT_PORT
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* new ConfigError({ path: "gateway.port", message: "must be an integer from 0 to 65535" })
    }
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
      return yield* new ConfigError({ path: "gateway.maxBodyBytes", message: "must be a positive integer" })
    }
    const corsOrigins = options.corsOrigins ?? []
    for (const [i, origin] of corsOrigins.entries()) {
      const parsed = URL.canParse(origin) ? new URL(origin) : undefined
      if (parsed === undefined || parsed.origin !== origin || parsed.origin === "null") {
        return yield* new ConfigError({
          path: `gateway.corsOrigins[${i}]`,
          message:
            "must be an origin such as https://app.example.com (scheme, host and port only; \"*\" is not accepted)"
        })
      }
    }
    const auth = yield* authenticatorOf(host, options)
    return { host, port, maxBodyBytes, corsOrigins, ...auth }
  })

/**
 * The `engram` command — for now only `engram serve` (`npm start`): the gateway on the embedded
 * SQLite store, with no setup. The full command line (@effect/cli) comes later and calls `serve`.
 *
 * Settings (environment):
 * - the store: the `ENGRAM_*` variables of src/config.ts (`ENGRAM_SQLITE_PATH`, default
 *   `.engram/engram.db`; `ENGRAM_EMBEDDING_MODEL` / `_DIMENSIONS`; `ENGRAM_MAX_CONTENT_BYTES`);
 * - the gateway: `ENGRAM_GATEWAY_HOST` (default 127.0.0.1), `ENGRAM_GATEWAY_PORT` (default 5500),
 *   `ENGRAM_GATEWAY_TOKEN` (else the token in `.engram/gateway-token`, created with mode 0600 on
 *   first start), `ENGRAM_GATEWAY_AGENTS` (comma-separated: limit the token to these agents),
 *   `ENGRAM_GATEWAY_CORS_ORIGINS` (comma-separated origins), `ENGRAM_GATEWAY_MAX_BODY_BYTES`, and
 *   `ENGRAM_GATEWAY_AUTH=disabled` (loopback only).
 *
 * It prints the address and where the token comes from — never the token.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { layerSemantic } from "../backends/sqlite/index.js"
import { configFromEnv } from "../config.js"
import { ConfigError } from "../domain/errors.js"
import { DEFAULT_MAX_BODY_BYTES, serve as serveGateway } from "../gateway/server.js"

/** Where `engram serve` keeps its files unless told otherwise. */
export const DATA_DIR = ".engram"
export const TOKEN_FILE = join(DATA_DIR, "gateway-token")

const list = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Config.map(Option.map((s) => s.split(",").map((x) => x.trim()).filter((x) => x !== "")))
  )

const gatewayEnv = Config.all({
  host: Config.option(Config.string("ENGRAM_GATEWAY_HOST")),
  port: Config.option(Config.integer("ENGRAM_GATEWAY_PORT")),
  token: Config.option(Config.redacted("ENGRAM_GATEWAY_TOKEN")),
  agents: list("ENGRAM_GATEWAY_AGENTS"),
  corsOrigins: list("ENGRAM_GATEWAY_CORS_ORIGINS"),
  maxBodyBytes: Config.option(Config.integer("ENGRAM_GATEWAY_MAX_BODY_BYTES")),
  auth: Config.option(Config.literal("required", "disabled")("ENGRAM_GATEWAY_AUTH"))
})

const fsError = (path: string, what: string) => (cause: unknown) =>
  new ConfigError({ path, message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}` })

/**
 * The token in `file`, or a new random one written there (mode 0600, never overwriting a file that
 * appeared meanwhile).
 */
const tokenFromFile = (file: string) =>
  Effect.try({
    try: (): { readonly token: Redacted.Redacted<string>; readonly created: boolean; readonly note?: string } => {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
      try {
        const token = randomBytes(32).toString("base64url")
        writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" })
        return { token: Redacted.make(token), created: true }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
      }
      const mode = statSync(file).mode & 0o777
      const note = (mode & 0o077) !== 0 ? `it is readable by other users (mode ${mode.toString(8)}); chmod 600 it` : undefined
      return { token: Redacted.make(readFileSync(file, "utf8").trim()), created: false, ...(note === undefined ? {} : { note }) }
    },
    catch: fsError(file, "cannot read or create the gateway token file")
  })

/** `engram serve`: the gateway on SQLite until interrupted (Ctrl-C closes the server and the store). */
export const serve = Effect.gen(function*() {
  const config = yield* configFromEnv
  if (config.semanticBackend !== "sqlite") {
    return yield* new ConfigError({
      path: "semanticBackend",
      message: `engram serve runs on the SQLite store for now (ENGRAM_SEMANTIC_BACKEND is ${config.semanticBackend})`,
      allowed: ["sqlite"]
    })
  }
  const env = yield* gatewayEnv.pipe(Effect.mapError((e) => new ConfigError({ path: "environment", message: String(e) })))
  const authDisabled = Option.getOrUndefined(env.auth) === "disabled"
  let token: { readonly token: Redacted.Redacted<string>; readonly source: string } | undefined
  if (!authDisabled) {
    if (Option.isSome(env.token)) {
      token = { token: env.token.value, source: "environment variable ENGRAM_GATEWAY_TOKEN" }
    } else {
      const file = yield* tokenFromFile(TOKEN_FILE)
      token = { token: file.token, source: `file ${TOKEN_FILE}${file.created ? " (created now, mode 0600)" : ""}` }
      if (file.note !== undefined) yield* Console.error(`warning: ${TOKEN_FILE}: ${file.note}`)
    }
  }
  const path = config.sqlite.path
  if (path !== ":memory:") {
    yield* Effect.try({ try: () => mkdirSync(dirname(path), { recursive: true }), catch: fsError("sqlite.path", "cannot create the data directory") })
  }
  const services = yield* Layer.build(layerSemantic({
    path,
    synchronous: config.sqlite.synchronous,
    busyTimeoutMs: config.sqlite.busyTimeoutMs,
    embedding: config.embedding,
    ...(config.maxContentBytes === undefined ? {} : { maxContentBytes: config.maxContentBytes })
  }))
  const address = yield* serveGateway({
    host: Option.getOrUndefined(env.host),
    port: Option.getOrUndefined(env.port),
    tokens: token === undefined
      ? []
      : [{ token: token.token, ...(Option.isSome(env.agents) ? { agents: env.agents.value } : {}) }],
    authDisabled,
    corsOrigins: Option.getOrUndefined(env.corsOrigins),
    // A memory's content can grow up to 6-fold as JSON (\u00XX escapes): keep room for the largest.
    maxBodyBytes: Option.getOrElse(
      env.maxBodyBytes,
      () => Math.max(DEFAULT_MAX_BODY_BYTES, 6 * (config.maxContentBytes ?? 0) + 64 * 1024)
    ),
    tokenSource: token?.source
  }).pipe(Effect.provide(services))
  yield* Console.log([
    `engram gateway listening on ${address.url}`,
    `  store:  SQLite ${path} (embedding space ${config.embedding.model}/${config.embedding.dimensions})`,
    token === undefined
      ? "  auth:   DISABLED (loopback only)"
      : `  token:  ${token.source}${Option.isSome(env.agents) ? `, limited to agents ${env.agents.value.join(", ")}` : ""}`,
    `  try:    curl ${address.url}/health`
  ].join("\n"))
  return yield* Effect.never
}).pipe(Effect.scoped)

/** Run `engram <command>`. */
export const main = (argv: ReadonlyArray<string>) => {
  const [command] = argv
  if (command !== "serve") {
    return Console.error("usage: engram serve\n  (the other commands are not wired yet)").pipe(
      Effect.zipRight(Effect.sync(() => void (process.exitCode = 2)))
    )
  }
  return serve.pipe(
    Effect.catchAll((e) =>
      Console.error(`engram serve: ${e._tag}: ${e.message}`).pipe(Effect.zipRight(Effect.sync(() => void (process.exitCode = 1))))
    )
  )
}

// Run only when executed (tsx src/cli/main.ts …), not when imported by the future CLI or by tests.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  NodeRuntime.runMain(main(process.argv.slice(2)))
}

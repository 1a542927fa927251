/**
 * The `engram` command (@effect/cli): `serve` (`npm start`: the gateway on the configured semantic
 * store, the embedded SQLite default with no setup), and the subcommands of commands.ts.
 *
 * The store is configured by `--config` or the `ENGRAM_*` variables, the gateway by the
 * `ENGRAM_GATEWAY_*` variables: both are listed in the table of src/config/settings.ts. Without
 * `ENGRAM_GATEWAY_TOKEN` the token is the one in `.engram/gateway-token`, created with mode 0600 on
 * first start. `serve` prints the address and where the token comes from — never the token.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Context, Effect, Layer, Logger, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { embedderLayerFromConfig } from "../composition/embedder.js"
import { layerFromConfig } from "../composition/layer.js"
import {
  DEFAULT_MAX_BODY_BYTES,
  gatewayConfigFromEnv,
  gatewaySettings,
  mcpConfigFromEnv,
  type MemoryConfig
} from "../config.js"
import { backendOptions } from "../config/backendOptions.js"
import { ConfigError } from "../domain/errors.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { loadConfig, subcommands } from "./commands.js"
import { storeLocation } from "./storeLocation.js"

/** Where `engram serve` keeps its files unless told otherwise. */
export const DATA_DIR = ".engram"
export const TOKEN_FILE = join(DATA_DIR, "gateway-token")

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
      const note = (mode & 0o077) !== 0
        ? `it is readable by other users (mode ${mode.toString(8)}); chmod 600 it`
        : undefined
      return {
        token: Redacted.make(readFileSync(file, "utf8").trim()),
        created: false,
        ...(note === undefined ? {} : { note })
      }
    },
    catch: fsError(file, "cannot read or create the gateway token file")
  })

/**
 * `engram serve`: the gateway over the configured semantic store until interrupted (Ctrl-C closes the
 * server and the store). `host`/`port` override the environment.
 */
export const serve = (config: MemoryConfig, overrides: { readonly host?: string; readonly port?: number } = {}) =>
  Effect.gen(function*() {
    const env = yield* gatewayConfigFromEnv
    const authDisabled = env.auth === "disabled"
    let token: { readonly token: Redacted.Redacted<string>; readonly source: string } | undefined
    if (!authDisabled) {
      if (env.token !== undefined) {
        token = { token: env.token, source: `environment variable ${gatewaySettings.token.env}` }
      } else {
        const file = yield* tokenFromFile(TOKEN_FILE)
        token = { token: file.token, source: `file ${TOKEN_FILE}${file.created ? " (created now, mode 0600)" : ""}` }
        if (file.note !== undefined) yield* Console.error(`warning: ${TOKEN_FILE}: ${file.note}`)
      }
    }
    // The HTTP server is loaded only by `serve`, so the other commands start without it.
    const { serve: serveGateway } = yield* Effect.promise(() => import("../gateway/server.js"))
    // The configured embedder (checked against the store's space) makes the memory-api semantic; every
    // store is opened because `POST /mcp` reaches all of them.
    const embedder = embedderLayerFromConfig(config)
    const { McpHttpLive } = yield* Effect.promise(() => import("../mcp/server.js"))
    const stores = layerFromConfig(config)
    const withEmbedder = Option.match(embedder, { onNone: () => stores, onSome: (e) => Layer.provideMerge(e, stores) })
    const built = yield* Layer.build(Layer.provideMerge(McpHttpLive, withEmbedder))
    const { semanticStoreThread } = yield* Effect.promise(() => import("../gateway/storeThread.js"))
    // A SQLite semantic store answers the gateway from worker threads of its own (gateway/storeThread.ts),
    // so a long SQLite call does not hold the event loop.
    const services = config.semanticBackend === "sqlite" && config.sqlite?.path !== ":memory:"
      ? Context.add(
        built,
        SemanticStore,
        yield* semanticStoreThread(yield* backendOptions(config, "sqlite"))
      )
      : built
    const address = yield* serveGateway({
      host: overrides.host ?? env.host,
      port: overrides.port ?? env.port,
      tokens: token === undefined
        ? []
        : [{ token: token.token, ...(env.agents === undefined ? {} : { agents: env.agents }) }],
      authDisabled,
      corsOrigins: env.corsOrigins,
      // A memory's content can grow up to 6-fold as JSON (\u00XX escapes): keep room for the largest.
      maxBodyBytes: env.maxBodyBytes ?? Math.max(DEFAULT_MAX_BODY_BYTES, 6 * (config.maxContentBytes ?? 0) + 64 * 1024),
      tokenSource: token?.source
    }).pipe(Effect.provide(services))
    yield* Console.log([
      `engram gateway listening on ${address.url}`,
      `  store:  ${
        storeLocation(config, config.semanticBackend)
      } (embedding space ${config.embedding.model}/${config.embedding.dimensions})`,
      `  embed:  ${
        Option.isNone(embedder)
          ? "none (clients bring their vectors; memory-api search matches words)"
          : config.embedder === undefined
          ? "built-in hash embedder (offline)"
          : `${config.embedding.model} at ${config.embedder.url}`
      }`,
      token === undefined
        ? "  auth:   DISABLED (loopback only)"
        : `  token:  ${token.source}${env.agents === undefined ? "" : `, limited to agents ${env.agents.join(", ")}`}`,
      `  mcp:    POST ${address.url}/mcp (streamable HTTP, same token)`,
      `  try:    curl ${address.url}/health`
    ].join("\n"))
    return yield* Effect.never
  }).pipe(Effect.scoped)

const serveCommand = Command.make("serve", {
  config: Options.file("config").pipe(
    Options.withAlias("c"),
    Options.withDescription("a TOML file with a [memory] table (default: the ENGRAM_* environment)"),
    Options.optional
  ),
  host: Options.text("host").pipe(Options.withDescription("address to bind (default 127.0.0.1)"), Options.optional),
  port: Options.integer("port").pipe(
    Options.withDescription("port (default 5500; 0 picks a free one)"),
    Options.optional
  )
}, ({ config, host, port }) =>
  Effect.flatMap(loadConfig(config), (c) =>
    serve(c, {
      ...(Option.isSome(host) ? { host: host.value } : {}),
      ...(Option.isSome(port) ? { port: port.value } : {})
    }))).pipe(Command.withDescription("Run the memory gateway over the configured semantic store"))

/**
 * `engram mcp`: the MCP server on stdin/stdout over the configured stores (and embedder), for hosts
 * that spawn it. `--agent` (repeatable) confines every call to those agents, else `ENGRAM_MCP_AGENTS`
 * does; without either, every agent.
 * Nothing but MCP messages is written to stdout.
 */
export const mcp = (config: MemoryConfig, agents: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { McpStdioLive } = yield* Effect.promise(() => import("../mcp/server.js"))
    const embedder = embedderLayerFromConfig(config)
    const stores = layerFromConfig(config)
    const withEmbedder = Option.match(embedder, { onNone: () => stores, onSome: (e) => Layer.provideMerge(e, stores) })
    const allowed = agents.length > 0 ? agents : (yield* mcpConfigFromEnv).agents ?? []
    const confinement = allowed.length === 0 ? Option.none() : Option.some(new Set(allowed))
    return yield* Layer.launch(McpStdioLive(confinement).pipe(Layer.provide(withEmbedder)))
  }).pipe(
    // stdout carries the protocol: every log line goes to stderr.
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )

const mcpCommand = Command.make("mcp", {
  config: Options.file("config").pipe(
    Options.withAlias("c"),
    Options.withDescription("a TOML file with a [memory] table (default: the ENGRAM_* environment)"),
    Options.optional
  ),
  agent: Options.text("agent").pipe(
    Options.withDescription("an agent the MCP client may use (repeat for several; default: every agent)"),
    Options.repeated
  )
}, ({ config, agent }) => Effect.flatMap(loadConfig(config), (c) => mcp(c, agent))).pipe(
  Command.withDescription("Run the MCP server on stdio over the configured stores")
)

const engram = Command.make("engram").pipe(
  Command.withDescription("engram: memory storage for AI agents"),
  Command.withSubcommands([serveCommand, mcpCommand, ...subcommands])
)

/** "<Tag>: <message>" of a typed error. */
const failureText = (e: unknown): string => {
  if (typeof e === "object" && e !== null) {
    const tag = "_tag" in e && typeof e._tag === "string" ? `${e._tag}: ` : ""
    const where = "field" in e && typeof e.field === "string"
      ? `${e.field}: `
      : "path" in e && typeof e.path === "string"
      ? `${e.path}: `
      : ""
    const message = "message" in e && typeof e.message === "string" ? e.message : String(e)
    return tag + where + message
  }
  return String(e)
}

/** The package's version, read from its package.json (two levels up from src/cli and dist/cli). */
const packageVersion = (): string => {
  const parsed: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
  return typeof parsed === "object" && parsed !== null && "version" in parsed && typeof parsed.version === "string"
    ? parsed.version
    : "unknown"
}

const cli = Command.run(engram, { name: "engram", version: packageVersion() })

/** Run `engram <args>`; a typed failure prints "engram: <tag>: <message>" and sets exit code 1. */
export const main = (argv: ReadonlyArray<string>) =>
  cli(["node", "engram", ...argv]).pipe(
    Effect.catchAll((e: unknown) =>
      // Usage errors were already printed with the help text by @effect/cli.
      (ValidationError.isValidationError(e) ? Effect.void : Console.error(`engram: ${failureText(e)}`)).pipe(
        Effect.zipRight(Effect.sync(() => void (process.exitCode = 1)))
      )
    ),
    Effect.provide(NodeContext.layer)
  )

/** Run `engram <args>` as the process's main program (bin/engram.js). */
export const run = (argv: ReadonlyArray<string>): void => NodeRuntime.runMain(main(argv))

/**
 * The `engram` command line (@effect/cli): serve, migrate, doctor, audit verify, export, import, copy.
 * Every command takes `--config <file.toml>`; without it the `ENGRAM_*` environment applies.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Console, Effect, Layer, Option } from "effect"
import { type EngramLayerServices, layerFromConfig } from "../composition/layer.js"
import { configFromEnv, loadConfigFile, type MemoryConfig } from "../config.js"
import { AuditLog } from "../services/AuditLog.js"
import { doctor } from "./doctor.js"
import { makeProgress } from "./progress.js"
import { storeLocation } from "./storeLocation.js"
import { copy, exportTo, importRecords, readExport } from "./transfer.js"

const configOption = Options.file("config").pipe(
  Options.withAlias("c"),
  Options.withDescription("a TOML file with a [memory] table (default: the ENGRAM_* environment)"),
  Options.optional
)

/** The configuration named by `--config`, or the environment's. */
export const loadConfig = (
  path: Option.Option<string>
): Effect.Effect<MemoryConfig, import("../domain/errors.js").ConfigError> =>
  Option.match(path, { onNone: () => configFromEnv, onSome: (p) => loadConfigFile(p) })

const describeStores = (c: MemoryConfig) =>
  `main store ${storeLocation(c, c.backend)}, semantic store ${storeLocation(c, c.semanticBackend)}`

/** Run `command` over the configured stores. */
const withStores = <A, E>(config: Option.Option<string>, command: Effect.Effect<A, E, EngramLayerServices>) =>
  Effect.flatMap(loadConfig(config), (c) => Effect.provide(command, layerFromConfig(c)))

const migrate = Command.make("migrate", { config: configOption }, ({ config }) =>
  Effect.gen(function*() {
    const c = yield* loadConfig(config)
    yield* Effect.scoped(Layer.build(layerFromConfig(c)))
    yield* Console.log(`schema up to date: ${describeStores(c)}`)
  })).pipe(
    Command.withDescription(
      "Bring the configured stores' schemas up to date (safe to run from several processes at once)"
    )
  )

const doctorCommand = Command.make("doctor", { config: configOption }, ({ config }) =>
  Effect.gen(function*() {
    const c = yield* loadConfig(config)
    const checks = yield* doctor(c)
    for (const check of checks) yield* Console.log(`${check.ok ? "ok  " : "FAIL"}  ${check.name}: ${check.detail}`)
    if (checks.some((check) => !check.ok)) yield* Effect.sync(() => void (process.exitCode = 1))
  })).pipe(
    Command.withDescription("Check connectivity, migrations, the embedding space and the audit chain, one line each")
  )

const verify = Command.make("verify", { config: configOption }, ({ config }) =>
  Effect.gen(function*() {
    const c = yield* loadConfig(config)
    const started = Date.now()
    const result = yield* Effect.flatMap(AuditLog, (a) => a.verify()).pipe(
      Effect.provide(layerFromConfig(c))
    )
    yield* Console.log(
      `audit chain verified: ${result.entries} entries, head ${result.headHash} (${Date.now() - started} ms)`
    )
  })).pipe(Command.withDescription("Walk and verify the whole audit chain"))

const audit = Command.make("audit").pipe(
  Command.withDescription("Audit log operations"),
  Command.withSubcommands([verify])
)

/** A file name option whose default, "-", means the standard stream. */
const streamOption = (name: string, alias: string, description: string) =>
  Options.text(name).pipe(Options.withAlias(alias), Options.withDefault("-"), Options.withDescription(description))

const exportCommand = Command.make("export", {
  config: configOption,
  output: streamOption("output", "o", "file to write (default: stdout)")
}, ({ config, output }) => withStores(config, exportTo(output, makeProgress("export")))).pipe(
  Command.withDescription("Write all nine domains as versioned NDJSON")
)

const importCommand = Command.make("import", {
  config: configOption,
  input: streamOption("input", "i", "file to read (default: stdin)")
}, ({ config, input }) => withStores(config, importRecords(readExport(input), makeProgress("import")))).pipe(
  Command.withDescription("Load an export into the configured stores (ids, timestamps and the audit chain kept)")
)

const copyCommand = Command.make("copy", {
  from: Options.file("from").pipe(Options.withDescription("TOML configuration of the source")),
  to: Options.file("to").pipe(Options.withDescription("TOML configuration of the target"))
}, ({ from, to }) =>
  Effect.gen(function*() {
    const source = yield* loadConfigFile(from)
    const target = yield* loadConfigFile(to)
    yield* Console.error(`copy: ${describeStores(source)}  →  ${describeStores(target)}`)
    const { records } = yield* copy(
      layerFromConfig(source),
      layerFromConfig(target),
      (total) => makeProgress("copy", total)
    )
    yield* Console.error(`copy: ${records} records copied`)
  })).pipe(Command.withDescription("Stream everything from one configuration to another (e.g. SQLite to PostgreSQL)"))

/** Every subcommand except `serve`, which main.ts adds. */
export const subcommands = [migrate, doctorCommand, audit, exportCommand, importCommand, copyCommand] as const

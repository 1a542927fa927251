/** `engram serve` from the sources (through tsx) on a SQLite file in a directory, for tests that need the real command. */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"

const CLI = fileURLToPath(new URL("./engramCli.ts", import.meta.url))
/** tsx's loader by absolute URL: the server runs in a temporary directory, where `--import tsx` cannot be resolved. */
const TSX = pathToFileURL(resolve("node_modules/tsx/dist/loader.mjs")).href

/** `engram serve` on a SQLite file in `dir`, and the URL it listens on. */
export const startServe = (dir: string, embedding: EmbeddingSpace) =>
  Effect.gen(function*() {
    const child: ChildProcess = spawn(process.execPath, ["--import", TSX, CLI, "serve", "--port", "0"], {
      cwd: dir,
      env: {
        ...process.env,
        NO_COLOR: "1",
        ENGRAM_SQLITE_PATH: join(dir, "engram.db"),
        ENGRAM_EMBEDDING_MODEL: embedding.model,
        ENGRAM_EMBEDDING_DIMENSIONS: String(embedding.dimensions)
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
    const url = yield* Effect.promise(() =>
      new Promise<string>((ok, fail) => {
        let out = ""
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString()
          const m = /listening on (http:\/\/[^\s;]+)/.exec(out)
          if (m) ok(m[1]!)
        })
        child.on("exit", (code) => fail(new Error(`serve exited with ${code}: ${out}`)))
      })
    )
    const token = readFileSync(join(dir, ".engram", "gateway-token"), "utf8").trim()
    return { child, url, token }
  })

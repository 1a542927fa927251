#!/usr/bin/env node
// The formatter: dprint's TypeScript plugin (a WebAssembly module from npm) run by @dprint/formatter
// in Node itself. dprint's own command line ships as per-platform binary packages that not every
// registry mirror carries, which breaks `npm ci`; the plugin and its host are plain npm packages.
//
// Usage: node scripts/format.mjs [--check]
// Configuration: dprint.json (global options, the "typescript" section, "includes" as folder/extension
// patterns). Files: what git tracks or would track (untracked files not ignored).
import { createFromBuffer } from "@dprint/formatter"
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const check = process.argv.includes("--check")
const config = JSON.parse(readFileSync(join(root, "dprint.json"), "utf8"))

const require = createRequire(import.meta.url)
const plugin = readFileSync(join(dirname(require.resolve("@dprint/typescript/package.json")), "plugin.wasm"))
const formatter = createFromBuffer(plugin)
formatter.setConfig({ lineWidth: config.lineWidth, indentWidth: config.indentWidth }, config.typescript)
const diagnostics = formatter.getConfigDiagnostics()
if (diagnostics.length > 0) {
  for (const d of diagnostics) console.error(`dprint.json: typescript.${d.propertyName}: ${d.message}`)
  process.exit(2)
}

// "src/**/*.ts" → files under src/ ending in .ts; a plain name matches itself.
const matchers = config.includes.map((pattern) => {
  const [base, ext] = pattern.split("/**/*")
  return ext === undefined ? (f) => f === pattern : (f) => f.startsWith(`${base}/`) && f.endsWith(ext)
})
const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
  cwd: root,
  encoding: "utf8"
})
  .split("\n")
  .filter((f) => f !== "" && matchers.some((m) => m(f)))

const unformatted = []
for (const file of files) {
  const path = join(root, file)
  let text
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    if (error.code === "ENOENT") continue // listed by git but deleted in the working tree
    throw error
  }
  const formatted = formatter.formatText({ filePath: path, fileText: text })
  if (formatted === text) continue
  unformatted.push(file)
  if (!check) writeFileSync(path, formatted)
}

if (check) {
  for (const file of unformatted) console.error(`not formatted: ${file}`)
  console.log(
    `${files.length} files checked, ${unformatted.length} not formatted${
      unformatted.length > 0 ? " (run npm run format)" : ""
    }`
  )
  process.exit(unformatted.length > 0 ? 1 : 0)
}
console.log(`${files.length} files checked, ${unformatted.length} formatted`)

/**
 * The README's tables of environment variables, rendered from the table of settings
 * (src/config/settings.ts). test/config/settings.test.ts checks the README against them;
 * `npx tsx test/support/settingsDoc.ts --write` rewrites the README's tables after a change.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { gatewaySettings, mcpSettings, memorySettings } from "../../src/config.js"
import { entriesOf, type Entry, type Table } from "../../src/config/setting.js"

export const README = fileURLToPath(new URL("../../README.md", import.meta.url))

/** The README's generated blocks: their name and the markdown each holds. */
export const blocks = (): ReadonlyArray<{ readonly name: string; readonly markdown: string }> => [
  { name: "memory", markdown: render(memorySettings, true) },
  { name: "gateway", markdown: render(gatewaySettings, false) },
  { name: "mcp", markdown: render(mcpSettings, false) }
]

const code = (s: string) => `\`${s}\``

const defaultOf = ({ setting }: Entry): string => {
  if (setting.defaultNote !== undefined) return setting.defaultNote
  const value: unknown = setting.default
  return value === undefined ? "—" : typeof value === "string" ? code(value) : String(value)
}

const meaningOf = ({ setting }: Entry): string =>
  `${setting.description}${setting.kind.form === "secret" ? " (secret)" : ""}`

function render(table: Table, withNames: boolean): string {
  const rows = entriesOf(table).map((e) =>
    withNames
      ? [
        code(e.setting.env),
        code(e.path.join(".")),
        e.setting.legacy ?? e.setting.legacyEnv ?? "",
        meaningOf(e),
        defaultOf(e)
      ]
      : [code(e.setting.env), meaningOf(e), defaultOf(e)]
  )
  const head = withNames
    ? ["Variable", "Setting", "Legacy TOML key", "Meaning", "Default"]
    : ["Variable", "Meaning", "Default"]
  const legacyCell = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (withNames && i === 2 && c !== "" ? code(c) : c))
  return [head, head.map(() => "---"), ...rows.map(legacyCell)].map((cells) => `| ${cells.join(" | ")} |`).join("\n")
}

const start = (name: string) => `<!-- settings:${name} (generated from src/config/settings.ts) -->`
const end = (name: string) => `<!-- /settings:${name} -->`

/** The markdown between a block's markers in `text`, or undefined when the markers are missing. */
export const blockIn = (text: string, name: string): string | undefined => {
  const from = text.indexOf(start(name))
  const to = text.indexOf(end(name))
  return from < 0 || to < from ? undefined : text.slice(from + start(name).length, to).trim()
}

/** `text` with every block's markdown replaced by its rendering. */
export const withBlocks = (text: string): string =>
  blocks().reduce((acc, { name, markdown }) => {
    const from = acc.indexOf(start(name))
    const to = acc.indexOf(end(name))
    if (from < 0 || to < from) throw new Error(`README.md has no ${start(name)} … ${end(name)} block`)
    return `${acc.slice(0, from + start(name).length)}\n${markdown}\n${acc.slice(to)}`
  }, text)

if (process.argv.includes("--write") && process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(README, withBlocks(readFileSync(README, "utf8")))
}

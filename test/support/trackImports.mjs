// Loaded with `node --import ./test/support/trackImports.mjs`: registers a resolve hook that appends
// every resolved module URL to the file named by ENGRAM_TRACK_IMPORTS, so a test can tell which
// modules a process actually loaded (ES modules and CommonJS packages imported from them alike).
import { register } from "node:module"

register(
  "data:text/javascript," + encodeURIComponent(`
    import { appendFileSync } from "node:fs"
    const file = process.env.ENGRAM_TRACK_IMPORTS
    export async function resolve(specifier, context, next) {
      const result = await next(specifier, context)
      if (file) appendFileSync(file, result.url + "\\n")
      return result
    }
  `),
  import.meta.url
)

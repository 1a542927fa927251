/** The `engram` command run from the sources (through tsx), for tests that spawn it without a build. */
import { run } from "../../src/cli/main.js"

run(process.argv.slice(2))

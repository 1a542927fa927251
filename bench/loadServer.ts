/** `engram serve` from the sources, for bench/load.ts (which starts it in a process of its own). */
import { run } from "../src/cli/main.js"

run(process.argv.slice(2))

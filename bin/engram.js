#!/usr/bin/env node
// The `engram` command: the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs).
import { run } from "../dist/cli/main.js"

run(process.argv.slice(2))

#!/usr/bin/env node
// The `engram` command: runs the TypeScript sources through tsx's loader (no build step).
import { register } from "tsx/esm/api"

register()
const { NodeRuntime } = await import("@effect/platform-node")
const { main } = await import("../src/cli/main.ts")
NodeRuntime.runMain(main(process.argv.slice(2)))

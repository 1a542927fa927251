#!/usr/bin/env bash
# Prove the packed package works as a user gets it: pack the tarball, install it into a fresh
# consumer project outside the repository (from npm's cache where it can), typecheck the README's
# "Using it from Effect" example, its SQLite "Inside your application's transactions" example (with
# @effect/sql as the application's own dependency) and a file importing every entry point under strict
# settings (skipLibCheck off, exactOptionalPropertyTypes, NodeNext, lib ES2022, declaration emit),
# compile them with tsc, run both examples with plain node, and run engram/testing's suites against
# MemoryTest with vitest.
#
# Usage: scripts/consumer-check.sh [work-dir]   (default: a new temporary directory, removed afterwards)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
say() { printf '[consumer-check] %s\n' "$*"; }

if [ $# -ge 1 ]; then work="$1"; mkdir -p "$work"; keep=1; else work="$(mktemp -d /tmp/engram-consumer.XXXXXX)"; keep=0; fi
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

# The versions the consumer uses are the ones engram itself is built and tested with.
dev() { node -e "const p=require('$repo/package.json'); process.stdout.write(p.devDependencies['$1'])"; }

say "packing"
tarball="$(cd "$repo" && npm pack --silent --ignore-scripts --pack-destination "$work" | tail -n 1)"
[ -f "$repo/dist/index.js" ] || { say "dist/ is missing: run npm run build first" >&2; exit 1; }
files="$(tar -tzf "$work/$tarball" | wc -l)"
say "$tarball: $files files, $(du -h "$work/$tarball" | cut -f1)"
if tar -tzf "$work/$tarball" | grep -E '^package/(test|bench|scripts|\.ci)/' >/dev/null; then
  say "the tarball ships test/, bench/, scripts/ or .ci/: the files allowlist is wrong" >&2
  exit 1
fi

app="$work/app"
rm -rf "$app"; mkdir -p "$app/src" "$app/test"
cp "$repo/.npmrc" "$app/.npmrc"
# A tarball dependency's `prepare` counts as an install script (it would not for a registry
# install); its dist/ is already built, so it is denied, by the tarball's absolute path as npm wants.
cat > "$app/package.json" <<JSON
{
  "name": "engram-consumer",
  "private": true,
  "type": "module",
  "scripts": { "build": "tsc", "start": "node dist/main.js" },
  "dependencies": {
    "engram": "file:../$tarball",
    "effect": "$(dev effect)",
    "@effect/sql": "$(dev @effect/sql)",
    "@effect/experimental": "$(dev @effect/experimental)",
    "@effect/platform": "$(dev @effect/platform)"
  },
  "devDependencies": {
    "typescript": "$(dev typescript)",
    "@types/node": "$(dev @types/node)",
    "vitest": "$(dev vitest)",
    "@effect/vitest": "$(dev @effect/vitest)"
  },
  "allowScripts": { "better-sqlite3": true, "file:$work/$tarball": false, "@parcel/watcher": false, "msgpackr-extract": false, "esbuild": false }
}
JSON
cat > "$app/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022"],
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "types": ["node"],
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "noUncheckedIndexedAccess": true,
    "skipLibCheck": false,
    "declaration": true,
    "outDir": "dist",
    "rootDir": "src"
  },
  "include": ["src"],
  "exclude": ["src/checkout.ts"]
}
JSON
# The transaction example imports @effect/sql, whose own declarations (through @effect/experimental
# and @effect/platform) name the DOM's Crypto and Storage types: it is compiled with the DOM library.
cat > "$app/tsconfig.sql.json" <<'JSON'
{
  "extends": "./tsconfig.json",
  "compilerOptions": { "lib": ["ES2022", "DOM"] },
  "include": ["src/checkout.ts"],
  "exclude": []
}
JSON

# The README's example, verbatim: the first ts block after the "Using it from Effect" heading.
awk '/^## Using it from Effect/ { on = 1; next } on && /^```ts/ { grab = 1; next } grab && /^```/ { exit } grab { print }' \
  "$repo/README.md" > "$app/src/main.ts"
if [ ! -s "$app/src/main.ts" ]; then say "no example found in the README" >&2; exit 1; fi
# The SQLite transaction example: the first ts block after "Inside your application's transactions".
awk '/^## Inside your application.s transactions/ { on = 1; next } on && /^```ts/ { grab = 1; next } grab && /^```/ { exit } grab { print }' \
  "$repo/README.md" > "$app/src/checkout.ts"
if [ ! -s "$app/src/checkout.ts" ]; then say "no transaction example found in the README" >&2; exit 1; fi

# Every entry point, with exported layers whose types the consumer's declaration emit must name.
cat > "$app/src/entries.ts" <<'TS'
import { Effect, Layer, Redacted } from "effect"
import { layer, SemanticStore, StructuredStore } from "engram"
import { HttpSemanticLive } from "engram/http"
import { MemoryTest } from "engram/memory"
import { PgLive } from "engram/postgres"
import { QdrantSemanticLive } from "engram/qdrant"
import { SqliteLive } from "engram/sqlite"
import { GatewayLive } from "engram/gateway"
import type * as Testing from "engram/testing"

const embedding = { model: "m", dimensions: 8 }
export const sqlite = SqliteLive({ path: "./consumer.db", embedding })
export const pg = PgLive({ url: Redacted.make("postgres://127.0.0.1/none"), embedding })
export const qdrant = QdrantSemanticLive({ url: "http://127.0.0.1:6333", collection: "c", embedding })
export const http = HttpSemanticLive({ url: "http://127.0.0.1:5500", embedding })
export const composed = layer({ backend: "sqlite", sqlite: { path: "./consumer.db" } })
export const memory = MemoryTest
export const gateway = GatewayLive
export const both = Layer.merge(sqlite, memory)
export const program = Effect.gen(function*() {
  const kv = yield* StructuredStore
  const semantic = yield* SemanticStore
  return [yield* kv.get("a", "k"), semantic.embeddingSpace] as const
})
export type Suite = typeof Testing.semanticStoreSuite
TS

# The optional drivers are not installed here: building their layers must say what to install.
cat > "$app/src/missingDriver.ts" <<'TS'
import { Effect, Layer, Redacted } from "effect"
import { PgLive } from "engram/postgres"
import { QdrantSemanticLive } from "engram/qdrant"

const embedding = { model: "m", dimensions: 8 }
for (const [name, layer] of [
  ["pg", PgLive({ url: Redacted.make("postgres://127.0.0.1:1/none"), embedding })],
  ["@qdrant/js-client-rest", QdrantSemanticLive({ url: "http://127.0.0.1:1", collection: "c", embedding })]
] as const) {
  const error = await Effect.runPromise(Effect.flip(Effect.scoped(Layer.build(layer))))
  if (error._tag !== "ConfigError" || !error.message.includes(`npm install ${name}`)) {
    throw new Error(`expected a ConfigError naming ${name}, got ${error._tag}: ${error.message}`)
  }
  console.log(`${error._tag}: ${error.message}`)
}
TS

cat > "$app/test/conformance.test.ts" <<'TS'
import { DEFAULT_TEST_SPACE, MemoryTest } from "engram/memory"
import { mainStoreSuites, memoryStoreWithTamper, semanticStoreSuites } from "engram/testing"

mainStoreSuites("MemoryTest from a consumer", MemoryTest, memoryStoreWithTamper({ embedding: DEFAULT_TEST_SPACE }))
semanticStoreSuites("MemoryTest from a consumer", MemoryTest)
TS

say "installing into $app (prefer npm's cache)"
(cd "$app" && npm install --prefer-offline --no-audit --no-fund --loglevel=error)

say "typechecking and compiling (strict, skipLibCheck off, lib ES2022, declaration emit)"
(cd "$app" && npx tsc -p tsconfig.json && npx tsc -p tsconfig.sql.json)

say "running the README example with plain node"
out="$(cd "$app" && node dist/main.js)"
printf '%s\n' "$out"
case "$out" in *"Ada prefers dark mode"*) ;; *) say "the example did not recall its memory" >&2; exit 1 ;; esac

say "running the README's SQLite transaction example, then reading what it committed"
(cd "$app" && rm -f shop.db shop.db-wal shop.db-shm && node dist/checkout.js)
(cd "$app" && node --input-type=module -e '
import Database from "better-sqlite3"
const db = new Database("shop.db", { readonly: true })
const count = (sql) => db.prepare(sql).pluck().get()
const orders = count("SELECT count(*) FROM orders"), audit = count("SELECT count(*) FROM audit_log")
const memories = count("SELECT count(*) FROM memories")
console.log(`orders: ${orders}, memories: ${memories}, audit entries: ${audit}`)
if (orders !== 1 || memories !== 1 || audit !== 1) { console.error("the transaction example did not commit its unit"); process.exit(1) }
')

say "building a backend whose driver is not installed"
(cd "$app" && node dist/missingDriver.js)

say "running engram/testing against MemoryTest from the consumer"
(cd "$app" && npx vitest run --reporter=dot)

say "install size: $(du -sh "$app/node_modules" | cut -f1) in $(find "$app/node_modules" -name package.json -path '*/node_modules/*/package.json' -not -path '*/node_modules/*/node_modules/*/node_modules/*' | wc -l) package.json files"
say "ok"

/**
 * Shared pieces of the conformance suites. Every suite is a function of a Layer; each test builds the
 * layer afresh (a new database, schema or collection), so tests never see each other's data and a
 * backend passes exactly when it behaves like the contract, whatever order the tests run in.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer, type Scope } from "effect"

/** A store factory: every build must give an empty, independent store. */
export type FreshLayer<S> = Layer.Layer<S, unknown, never>

/** Define a test that runs `body` against a fresh build of `layer` (under TestClock at epoch 0). */
export const storeTest =
  <S>(layer: FreshLayer<S>) =>
  (name: string, body: () => Effect.Effect<unknown, unknown, S | Scope.Scope>, timeout?: number) =>
    it.effect(name, () => Effect.scoped(Effect.provide(Effect.scoped(Effect.suspend(body)), layer)), timeout)

/** A test of a suite: see `storeTest`. */
export type StoreTest<S> = ReturnType<typeof storeTest<S>>

/**
 * A conformance suite of `service`: for a backend's `name` and `layer`, a vitest suite whose tests
 * (defined by `tests` with the `test` of `storeTest`) each run on a fresh build of the layer.
 */
export const conformance =
  <S>(service: string, tests: (test: StoreTest<S>, layer: FreshLayer<S>) => void) =>
  (name: string, layer: FreshLayer<S>) =>
    describe(`${service} conformance: ${name}`, () => tests(storeTest(layer), layer))

/** A unit vector along axis `i` (mod dims). */
export const axis = (i: number, dims: number): Array<number> =>
  Array.from({ length: dims }, (_, j) => (j === i % dims ? 1 : 0))

/** A vector from its first components; the rest are 0. */
export const vec = (dims: number, ...head: ReadonlyArray<number>): Array<number> =>
  Array.from({ length: dims }, (_, j) => head[j] ?? 0)

/** A vector at `angle` radians from axis 0 towards axis 1 (cosine with axis 0 = cos(angle)). */
export const angled = (dims: number, angle: number): Array<number> => vec(dims, Math.cos(angle), Math.sin(angle))

/** Sort helper for comparing id sets. */
export const sorted = <A extends string>(xs: Iterable<A>): Array<A> => [...xs].sort()

/** The error `effect` fails with, which must carry `tag`; success or another error fails the test. */
export const failsWith = <E extends { readonly _tag: string }, T extends E["_tag"], R>(
  effect: Effect.Effect<unknown, E, R>,
  tag: T
): Effect.Effect<Extract<E, { readonly _tag: T }>, never, R> =>
  Effect.matchEffect(effect, {
    onSuccess: () => Effect.dieMessage(`expected ${tag}, but the call succeeded`),
    onFailure: (e) =>
      e._tag === tag
        ? Effect.succeed(e as Extract<E, { readonly _tag: T }>)
        : Effect.dieMessage(`expected ${tag}, got ${e._tag}: ${String(e)}`)
  })

/** What a refused call fails with, as far as the refusal checks read it. */
export type Refusal = { readonly _tag: string; readonly field?: string }

/**
 * Each call, in order, fails with `InvalidInput` naming `field` (a call that succeeds fails the
 * test): the table every suite's "invalid input is InvalidInput naming the field" test checks.
 */
export const expectInvalidInputs = <R>(cases: ReadonlyArray<readonly [Effect.Effect<unknown, Refusal, R>, string]>) =>
  Effect.gen(function*() {
    for (const [effect, field] of cases) {
      const error = yield* Effect.flip(effect)
      assert.strictEqual(error._tag, "InvalidInput", `expected InvalidInput for ${field}`)
      assert.strictEqual(error.field, field)
    }
  })

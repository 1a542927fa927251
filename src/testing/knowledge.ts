/** KnowledgeStore conformance (the contract is the JSDoc of src/services/KnowledgeStore.ts). */
import { assert } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import type { AgentId, EntityId, RelationId } from "../domain/ids.js"
import type { Entity, GraphMatch, GraphQuery } from "../domain/knowledge.js"
import { KnowledgeStore } from "../services/KnowledgeStore.js"
import { conformance, expectInvalidInputs } from "./harness.js"

type Graph = KnowledgeStore["Type"]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Add entities with these ids (their names are the ids in upper case) for `agentId`. */
const entities = (g: Graph, agentId: string, ids: ReadonlyArray<string>) =>
  Effect.forEach(ids, (id) => g.upsertEntity({ agentId, id, type: "concept", name: id.toUpperCase() }), {
    discard: true
  })

/** Add a relation one millisecond after the previous one, so creation order is unambiguous. */
const relate = (g: Graph, agentId: string, source: string, relation: string, target: string) =>
  Effect.zipRight(TestClock.adjust(1), g.addRelation({ agentId, source, relation, target }))

/** A match as "src -rel-> … -rel-> dst" over entity ids, for readable comparisons. */
const show = (m: GraphMatch): string => [m.source.id, ...m.path.map((r) => `-${r.relation}-> ${r.target}`)].join(" ")

const shows = (g: Graph, query: GraphQuery) => Effect.map(g.query(query), (ms) => ms.map(show))

/**
 * An entity with every field given (non-ASCII text, nested properties), as the store must keep it
 * but for its times; a fresh copy on each call, so what is stored and what is expected never alias.
 */
const alice = (): Omit<Entity, "createdAt" | "updatedAt"> => ({
  agentId: "agent-1" as AgentId,
  id: "alice" as EntityId,
  type: "person",
  name: "Alice Ünger",
  properties: { age: 34, tags: ["eng", "ops"], address: { city: "Zürich" } }
})

export const knowledgeStoreSuite = conformance<KnowledgeStore>("KnowledgeStore", (test) => {
  test("upsertEntity with an id stores the entity under that id; getEntity returns it whole", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* TestClock.setTime(1_000)
      const id = yield* g.upsertEntity(alice())
      assert.strictEqual(id, "alice")
      const expected: Entity = { ...alice(), createdAt: 1_000, updatedAt: 1_000 }
      assert.deepStrictEqual(yield* g.getEntity("agent-1", "alice"), Option.some(expected))
    }))

  test("upsertEntity without an id mints a new id each time and returns it", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      const a = yield* g.upsertEntity({ agentId: "agent-1", type: "organization", name: "Acme" })
      const b = yield* g.upsertEntity({ agentId: "agent-1", type: "organization", name: "Acme" })
      assert.match(a, UUID)
      assert.notStrictEqual(a, b, "the same name is not a key: two calls are two entities")
      const stored = Option.getOrThrow(yield* g.getEntity("agent-1", a))
      assert.deepStrictEqual([stored.id, stored.type, stored.name, stored.properties], [a, "organization", "Acme", {}])
      assert.isTrue(Option.isSome(yield* g.getEntity("agent-1", b)))
    }))

  test("upserting an existing id replaces type, name and properties and keeps createdAt", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      const x = { agentId: "agent-1", id: "x" }
      yield* TestClock.setTime(1_000)
      yield* g.upsertEntity({ ...x, type: "concept", name: "Old", properties: { a: 1, b: 2 } })
      yield* TestClock.setTime(5_000)
      const id = yield* g.upsertEntity({ ...x, type: "my_custom_type", name: "New", properties: { c: 3 } })
      assert.strictEqual(id, "x")
      const stored = Option.getOrThrow(yield* g.getEntity("agent-1", "x"))
      assert.deepStrictEqual(
        [stored.type, stored.name, stored.properties, stored.createdAt, stored.updatedAt],
        ["my_custom_type", "New", { c: 3 }, 1_000, 5_000]
      )
    }))

  test("getEntity of an unknown id is None", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["a"])
      assert.isTrue(Option.isNone(yield* g.getEntity("agent-1", "b")))
      assert.isTrue(Option.isNone(yield* g.getEntity("agent-1", "A")), "ids are compared exactly")
    }))

  test("entities belong to their agent: the same id under two agents is two entities", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* g.upsertEntity({ agentId: "acme", id: "project", type: "project", name: "Acme's" })
      yield* g.upsertEntity({ agentId: "acme-corp", id: "project", type: "project", name: "Corp's" })
      assert.strictEqual(Option.getOrThrow(yield* g.getEntity("acme", "project")).name, "Acme's")
      assert.strictEqual(Option.getOrThrow(yield* g.getEntity("acme-corp", "project")).name, "Corp's")
      assert.isTrue(Option.isNone(yield* g.getEntity("acme-cor", "project")))
      assert.isTrue(yield* g.deleteEntity("acme", "project"))
      assert.isTrue(Option.isNone(yield* g.getEntity("acme", "project")))
      assert.strictEqual(Option.getOrThrow(yield* g.getEntity("acme-corp", "project")).name, "Corp's")
    }))

  test("addRelation returns a minted RelationId; the query returns the relation with it", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["alice", "acme"])
      yield* TestClock.setTime(2_000)
      const id: RelationId = yield* g.addRelation({
        agentId: "agent-1",
        source: "alice",
        relation: "works_at",
        target: "acme",
        properties: { since: 2020 },
        confidence: 0.75
      })
      const plain = yield* g.addRelation({ agentId: "agent-1", source: "acme", relation: "employs", target: "alice" })
      assert.match(id, UUID)
      assert.notStrictEqual(id, plain)
      const [first, second] = yield* g.query({ agentId: "agent-1" })
      assert.deepStrictEqual(first!.relation, {
        agentId: "agent-1" as AgentId,
        id,
        source: "alice" as EntityId,
        relation: "works_at",
        target: "acme" as EntityId,
        properties: { since: 2020 },
        confidence: 0.75,
        createdAt: 2_000
      })
      assert.deepStrictEqual(
        [first!.source.id, first!.target.id, first!.depth, first!.path],
        ["alice", "acme", 1, [first!.relation]]
      )
      assert.deepStrictEqual(
        [second!.relation.id, second!.relation.confidence, second!.relation.properties],
        [plain, 1, {}]
      )
    }))

  test("a relation to or from an unknown entity is EntityNotFound and is not stored", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["alice"])
      const noTarget = yield* Effect.flip(
        g.addRelation({ agentId: "agent-1", source: "alice", relation: "knows", target: "ghost" })
      )
      assert.strictEqual(noTarget._tag, "EntityNotFound")
      if (noTarget._tag === "EntityNotFound") {
        assert.deepStrictEqual([noTarget.agentId, noTarget.entityId], ["agent-1", "ghost"])
      }
      const noSource = yield* Effect.flip(
        g.addRelation({ agentId: "agent-1", source: "ghost", relation: "knows", target: "alice" })
      )
      assert.strictEqual(noSource._tag, "EntityNotFound")
      if (noSource._tag === "EntityNotFound") assert.strictEqual(noSource.entityId, "ghost")
      assert.deepStrictEqual(yield* g.query({ agentId: "agent-1" }), [])
    }))

  test("another agent's entity counts as unknown for addRelation", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "acme", ["alice"])
      yield* entities(g, "acme-corp", ["bob"])
      const error = yield* Effect.flip(
        g.addRelation({ agentId: "acme", source: "alice", relation: "knows", target: "bob" })
      )
      assert.strictEqual(error._tag, "EntityNotFound")
      if (error._tag === "EntityNotFound") assert.deepStrictEqual([error.agentId, error.entityId], ["acme", "bob"])
      const reverse = yield* Effect.flip(
        g.addRelation({ agentId: "acme-corp", source: "bob", relation: "knows", target: "alice" })
      )
      assert.strictEqual(reverse._tag, "EntityNotFound")
      assert.deepStrictEqual(yield* g.query({ agentId: "acme" }), [])
      assert.deepStrictEqual(yield* g.query({ agentId: "acme-corp" }), [])
    }))

  test("the empty pattern returns every relation of the agent, createdAt ascending then id, and no other agent's", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "acme", ["a", "b", "c"])
      yield* entities(g, "acme-corp", ["a", "b"])
      // Created out of time order: the first relation minted is the newest.
      yield* TestClock.setTime(3_000)
      const late = yield* g.addRelation({ agentId: "acme", source: "a", relation: "r", target: "b" })
      yield* TestClock.setTime(1_000)
      const early = yield* g.addRelation({ agentId: "acme", source: "b", relation: "r", target: "c" })
      yield* TestClock.setTime(2_000)
      const sameTime = [
        yield* g.addRelation({ agentId: "acme", source: "c", relation: "r", target: "a" }),
        yield* g.addRelation({ agentId: "acme", source: "a", relation: "s", target: "c" })
      ]
      yield* g.addRelation({ agentId: "acme-corp", source: "a", relation: "r", target: "b" })
      const ids = (yield* g.query({ agentId: "acme" })).map((m) => m.relation.id)
      assert.deepStrictEqual(ids, [early, ...[...sameTime].sort(), late])
      assert.strictEqual((yield* g.query({ agentId: "acme-corp" })).length, 1)
      assert.deepStrictEqual(yield* g.query({ agentId: "acme-co" }), [])
    }))

  test("source matches an entity id, or its name case-insensitively (Unicode)", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* g.upsertEntity({ agentId: "agent-1", id: "e1", type: "location", name: "école" })
      yield* g.upsertEntity({ agentId: "agent-1", id: "e2", type: "location", name: "Straße" })
      yield* g.upsertEntity({ agentId: "agent-1", id: "e3", type: "person", name: "Ωmega" })
      yield* relate(g, "agent-1", "e1", "located_in", "e2")
      yield* relate(g, "agent-1", "e2", "part_of", "e3")
      yield* relate(g, "agent-1", "e3", "knows_about", "e1")
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "e1" }), ["e1 -located_in-> e2"])
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "ÉCOLE" }), ["e1 -located_in-> e2"])
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "straße" }), ["e2 -part_of-> e3"])
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "ωMEGA" }), ["e3 -knows_about-> e1"])
      assert.deepStrictEqual(
        yield* shows(g, { agentId: "agent-1", source: "E1" }),
        [],
        "ids are exact; E1 is no name either"
      )
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "ecole" }), [], "no accent folding")
      assert.deepStrictEqual(
        yield* shows(g, { agentId: "agent-1", source: "éco" }),
        [],
        "names match whole, not as a prefix"
      )
    }))

  test("relation and target filter the matches, alone and combined with source", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["alice", "bob", "acme", "ts"])
      yield* relate(g, "agent-1", "alice", "works_at", "acme")
      yield* relate(g, "agent-1", "bob", "works_at", "acme")
      yield* relate(g, "agent-1", "alice", "knows_about", "ts")
      yield* relate(g, "agent-1", "bob", "knows_about", "alice")
      const q = (pattern: Omit<GraphQuery, "agentId">) => shows(g, { agentId: "agent-1", ...pattern })
      assert.deepStrictEqual(yield* q({ relation: "works_at" }), ["alice -works_at-> acme", "bob -works_at-> acme"])
      assert.deepStrictEqual(yield* q({ relation: "Works_At" }), [], "relation types are exact")
      assert.deepStrictEqual(yield* q({ target: "acme" }), ["alice -works_at-> acme", "bob -works_at-> acme"])
      assert.deepStrictEqual(yield* q({ target: "Alice" }), ["bob -knows_about-> alice"], "target by name")
      assert.deepStrictEqual(yield* q({ source: "alice", relation: "knows_about" }), ["alice -knows_about-> ts"])
      assert.deepStrictEqual(yield* q({ source: "BOB", target: "ACME" }), ["bob -works_at-> acme"])
      assert.deepStrictEqual(yield* q({ source: "bob", relation: "works_at", target: "alice" }), [])
      assert.deepStrictEqual(yield* q({ source: "nobody" }), [])
    }))

  test("a source name shared by several entities starts from each of them", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* g.upsertEntity({ agentId: "agent-1", id: "p1", type: "person", name: "Sam" })
      yield* g.upsertEntity({ agentId: "agent-1", id: "p2", type: "person", name: "SAM" })
      yield* entities(g, "agent-1", ["x"])
      yield* relate(g, "agent-1", "p2", "uses", "x")
      yield* relate(g, "agent-1", "p1", "uses", "x")
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "sam" }), ["p2 -uses-> x", "p1 -uses-> x"])
    }))

  test("maxDepth 2 and 3 follow outgoing relations as paths, by depth then hop order", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["alice", "acme", "berlin", "germany", "ts", "js"])
      const r1 = yield* relate(g, "agent-1", "alice", "works_at", "acme")
      const r2 = yield* relate(g, "agent-1", "acme", "located_in", "berlin")
      yield* relate(g, "agent-1", "alice", "knows_about", "ts")
      const r4 = yield* relate(g, "agent-1", "berlin", "part_of", "germany")
      yield* relate(g, "agent-1", "ts", "depends_on", "js")
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "alice", maxDepth: 2 }), [
        "alice -works_at-> acme",
        "alice -knows_about-> ts",
        "alice -works_at-> acme -located_in-> berlin",
        "alice -knows_about-> ts -depends_on-> js"
      ])
      const three = yield* g.query({ agentId: "agent-1", source: "alice", maxDepth: 3 })
      assert.deepStrictEqual(three.map(show).slice(4), [
        "alice -works_at-> acme -located_in-> berlin -part_of-> germany"
      ])
      const deepest = three[4]!
      assert.deepStrictEqual(
        [deepest.depth, deepest.source.id, deepest.target.id, deepest.relation.id, deepest.path.map((r) => r.id)],
        [3, "alice", "germany", r4, [r1, r2, r4]]
      )
      assert.deepStrictEqual(three.map((m) => m.depth), [1, 1, 2, 2, 3])
      assert.strictEqual(deepest.target.name, "GERMANY", "the ends are whole entities")
    }))

  test("paths never revisit an entity: a→b→a and longer cycles are not returned", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["a", "b", "c"])
      yield* relate(g, "agent-1", "a", "r", "b")
      yield* relate(g, "agent-1", "b", "r", "a")
      yield* relate(g, "agent-1", "b", "r", "c")
      yield* relate(g, "agent-1", "c", "r", "a")
      const paths = yield* g.query({ agentId: "agent-1", source: "a", maxDepth: 5 })
      assert.deepStrictEqual(paths.map(show), ["a -r-> b", "a -r-> b -r-> c"])
      for (const m of paths) {
        const visited = [m.source.id, ...m.path.map((r) => r.target)]
        assert.strictEqual(new Set(visited).size, visited.length, `${show(m)} repeats an entity`)
      }
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", source: "a", target: "a", maxDepth: 5 }), [])
    }))

  test("a self-relation is a depth-1 match but is never extended", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["me", "you"])
      yield* relate(g, "agent-1", "me", "knows_about", "me")
      yield* relate(g, "agent-1", "me", "knows", "you")
      assert.deepStrictEqual(
        yield* shows(g, { agentId: "agent-1", source: "me", maxDepth: 3 }),
        ["me -knows_about-> me", "me -knows-> you"]
      )
    }))

  test("the relation filter applies to every hop; the target filter to the end of the path", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["a", "b", "c", "d", "e"])
      yield* relate(g, "agent-1", "a", "uses", "b")
      yield* relate(g, "agent-1", "b", "uses", "c")
      yield* relate(g, "agent-1", "b", "knows_about", "d")
      yield* relate(g, "agent-1", "a", "knows_about", "e")
      yield* relate(g, "agent-1", "d", "uses", "e")
      assert.deepStrictEqual(
        yield* shows(g, { agentId: "agent-1", source: "a", relation: "uses", maxDepth: 3 }),
        ["a -uses-> b", "a -uses-> b -uses-> c"]
      )
      assert.deepStrictEqual(
        yield* shows(g, { agentId: "agent-1", source: "a", target: "e", maxDepth: 4 }),
        ["a -knows_about-> e", "a -uses-> b -knows_about-> d -uses-> e"]
      )
    }))

  test("limit caps the number of matches, keeping the first in order", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["hub", "s0", "s1", "s2", "s3", "s4"])
      for (let i = 0; i < 5; i++) yield* relate(g, "agent-1", "hub", "has", `s${i}`)
      yield* relate(g, "agent-1", "s0", "has", "s1")
      const all = yield* shows(g, { agentId: "agent-1", maxDepth: 2 })
      assert.strictEqual(all.length, 7)
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", limit: 2 }), all.slice(0, 2))
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", maxDepth: 2, limit: 7 }), all)
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", maxDepth: 2, limit: 6 }), all.slice(0, 6))
      assert.deepStrictEqual(all.slice(5), ["s0 -has-> s1", "hub -has-> s0 -has-> s1"])
    }))

  test("deleteEntity removes the entity and every relation touching it; true once, then false", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["a", "b", "c"])
      yield* entities(g, "agent-2", ["b", "c"])
      yield* relate(g, "agent-1", "a", "r", "b")
      yield* relate(g, "agent-1", "b", "r", "c")
      yield* relate(g, "agent-1", "a", "r", "c")
      yield* relate(g, "agent-2", "b", "r", "c")
      assert.isTrue(yield* g.deleteEntity("agent-1", "b"))
      assert.isFalse(yield* g.deleteEntity("agent-1", "b"))
      assert.isTrue(Option.isNone(yield* g.getEntity("agent-1", "b")))
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1", maxDepth: 3 }), ["a -r-> c"])
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-2" }), ["b -r-> c"], "another agent's b is untouched")
      // Re-creating the id does not bring the old relations back.
      yield* entities(g, "agent-1", ["b"])
      assert.deepStrictEqual(yield* shows(g, { agentId: "agent-1" }), ["a -r-> c"])
      assert.isFalse(yield* g.deleteEntity("agent-3", "a"))
    }))

  test("invalid input is a typed InvalidInput naming the field", () =>
    Effect.gen(function*() {
      const g = yield* KnowledgeStore
      yield* entities(g, "agent-1", ["a", "b"])
      yield* expectInvalidInputs([
        [g.upsertEntity({ agentId: "agent-1", type: "", name: "x" }), "input.type"],
        [g.upsertEntity({ agentId: "agent-1", type: "person", name: "" }), "input.name"],
        [g.upsertEntity({ agentId: "agent-1", id: "", type: "person", name: "x" }), "input.id"],
        [g.upsertEntity({ agentId: "", type: "person", name: "x" }), "input.agentId"],
        [
          g.upsertEntity({ agentId: "agent-1", type: "person", name: "x", properties: { n: Number.NaN } }),
          "input.properties"
        ],
        [
          g.addRelation({ agentId: "agent-1", source: "a", relation: "r", target: "b", confidence: 1.5 }),
          "input.confidence"
        ],
        [
          g.addRelation({ agentId: "agent-1", source: "a", relation: "r", target: "b", confidence: -0.1 }),
          "input.confidence"
        ],
        [g.addRelation({ agentId: "agent-1", source: "a", relation: "", target: "b" }), "input.relation"],
        [g.addRelation({ agentId: "agent-1", source: "a\u0000", relation: "r", target: "b" }), "input.source"],
        [g.query({ agentId: "agent-1", maxDepth: 6 }), "query.maxDepth"],
        [g.query({ agentId: "agent-1", maxDepth: 0 }), "query.maxDepth"],
        [g.query({ agentId: "agent-1", limit: 0 }), "query.limit"],
        [g.query({ agentId: "agent-1", source: "" }), "query.source"],
        [g.query({ agentId: "" }), "query.agentId"],
        [g.getEntity("agent-1", ""), "id"],
        [g.getEntity("", "a"), "agentId"],
        [g.deleteEntity("agent-1", "x".repeat(257)), "id"]
      ])
      assert.deepStrictEqual(yield* g.query({ agentId: "agent-1" }), [], "no rejected relation was stored")
    }))
})

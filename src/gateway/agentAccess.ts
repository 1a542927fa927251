/** Agent confinement: every request is confined to the agents its token may use. */
import { Effect, Option } from "effect"
import { Caller, Forbidden } from "./Api.js"

/** Fail with Forbidden unless the request's token may use `agentId`. */
export const allowAgent = (agentId: string) =>
  Effect.flatMap(Caller, (caller) =>
    Option.match(caller.agents, {
      onNone: () => Effect.void,
      onSome: (agents) =>
        agents.has(agentId)
          ? Effect.void
          : Effect.fail(new Forbidden({ message: `this token may not use agent ${JSON.stringify(agentId)}` }))
    }))

/**
 * Fail with Forbidden unless the token may use every agent: consolidation, export and import touch
 * every agent's memories.
 */
export const allowEveryAgent = (what: string) =>
  Effect.flatMap(Caller, (caller) =>
    Option.isNone(caller.agents)
      ? Effect.void
      : Effect.fail(
        new Forbidden({ message: `${what} runs over every agent: it needs a token not limited to agents` })
      ))

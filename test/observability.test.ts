/**
 * The README's Observability example works: its layer (the same code, with recording exporters in
 * place of a collector's) receives engram's spans, named `<Service>.<method>` and parented to the
 * caller's span, and its metrics `engram_calls_total` and `engram_call_duration_seconds`.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { assert, describe, it } from "@effect/vitest"
import {
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics
} from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import * as Memory from "../src/backends/memory/index.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { StructuredStore } from "../src/services/StructuredStore.js"

// The README's example, verbatim (the first test checks that the README still holds these lines).
const Observability = (spans: SpanExporter, metrics: PushMetricExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "my-agent" },
    spanProcessor: new BatchSpanProcessor(spans),
    metricReader: new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 10_000 })
  }))

const EXAMPLE = `const Observability = (spans: SpanExporter, metrics: PushMetricExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "my-agent" },
    spanProcessor: new BatchSpanProcessor(spans),
    metricReader: new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 10_000 })
  }))`

/** `ExportResultCode.SUCCESS` of @opentelemetry/core. */
const SUCCESS = 0

/** Keeps every exported span (the SDK's in-memory exporter forgets them when it shuts down). */
class RecordingSpans implements SpanExporter {
  readonly spans: Array<ReadableSpan> = []
  export(spans: Array<ReadableSpan>, done: (result: { code: number }) => void): void {
    this.spans.push(...spans)
    done({ code: SUCCESS })
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** Keeps every exported batch of metrics (the reader exports once more when the layer closes). */
class RecordingMetrics implements PushMetricExporter {
  readonly batches: Array<ResourceMetrics> = []
  export(metrics: ResourceMetrics, done: (result: { code: number }) => void): void {
    this.batches.push(metrics)
    done({ code: SUCCESS })
  }
  forceFlush(): Promise<void> {
    return Promise.resolve()
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

const embedding = { model: "observability", dimensions: 4 }

describe("README: Observability", () => {
  it("the README shows the example this test runs", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    assert.include(readme, EXAMPLE)
  })

  it.live("engram's spans and metrics reach the exporters of NodeSdk.layer", () =>
    Effect.gen(function*() {
      const spans = new RecordingSpans()
      const metrics = new RecordingMetrics()
      yield* Effect.gen(function*() {
        yield* (yield* StructuredStore).set("agent-1", "k", 1)
        yield* (yield* SemanticStore).remember({ agentId: "agent-1", content: "hello", source: "system" })
      }).pipe(
        Effect.withSpan("app.handle"),
        Effect.provide(Layer.merge(Memory.layer({ embedding }), Observability(spans, metrics)))
      )
      // The layer has closed: the batch processor and the metric reader have flushed.
      const byName = new Map(spans.spans.map((s) => [s.name, s]))
      const app = byName.get("app.handle")
      const set = byName.get("StructuredStore.set")
      assert.isDefined(app, `spans: ${[...byName.keys()].join(", ")}`)
      assert.isDefined(set, `spans: ${[...byName.keys()].join(", ")}`)
      assert.isDefined(byName.get("SemanticStore.remember"))
      assert.strictEqual(set!.parentSpanContext?.spanId, app!.spanContext().spanId)
      assert.strictEqual(set!.attributes["engram.backend"], "memory")
      assert.strictEqual(set!.attributes["engram.agent_id"], "agent-1")
      const names = new Set(
        metrics.batches.flatMap((b) => b.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name)))
      )
      assert.isTrue(names.has("engram_calls_total"), `metrics: ${[...names].join(", ")}`)
      assert.isTrue(names.has("engram_call_duration_seconds"), `metrics: ${[...names].join(", ")}`)
    }))
})

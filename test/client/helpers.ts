import { FileSystem } from "@effect/platform"
import { Effect, Either, Fiber, Layer, Option, TestClock } from "effect"
import type { Duration } from "effect"
import * as Output from "../../src/client/Output.ts"
import { type ClientConfig, runClient } from "../../src/client/Run.ts"
import { parseTargets } from "../../src/client/Target.ts"
import * as MemoryConnector from "../../src/net/MemoryConnector.ts"
import type { Peer } from "../../src/net/MemoryPipe.ts"

const decoder = new TextDecoder()

/**
 * The requests arriving on one scripted connection, one at a time: head plus
 * a Content-Length body. None once the client has closed or ended.
 */
export const requestReader = (peer: Peer) => {
  let buffered = ""
  const next: Effect.Effect<Option.Option<string>> = Effect.gen(function*() {
    while (true) {
      const end = buffered.indexOf("\r\n\r\n")
      if (end >= 0) {
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buffered.slice(0, end + 4))?.[1] ?? 0)
        if (buffered.length >= end + 4 + length) {
          const request = buffered.slice(0, end + 4 + length)
          buffered = buffered.slice(end + 4 + length)
          return Option.some(request)
        }
      }
      const chunk = yield* Effect.orElseSucceed(peer.read, () => Option.none<Uint8Array>())
      if (Option.isNone(chunk)) return Option.none()
      buffered += decoder.decode(chunk.value)
    }
  })
  return { next }
}

/** Reads one request and returns it (empty string if none came). */
export const readRequest = (peer: Peer) => Effect.map(requestReader(peer).next, Option.getOrElse(() => ""))

export const defaults: Omit<ClientConfig, "targets"> = {
  fetch: {
    spec: { method: "GET", headers: [], body: undefined },
    followRedirects: false,
    maxRedirects: 10,
    connectTimeout: undefined,
    insecure: false,
    locationTrusted: false,
    resolve: [],
    connectTo: [],
    ca: undefined
  },
  mode: "full",
  outputFile: undefined,
  include: false,
  stdoutAsked: false,
  fail: false,
  retry: 0,
  compressed: false,
  resumeFrom: undefined,
  ttl: false,
  timing: false,
  count: 1,
  interval: 0,
  parallel: 4,
  maxTime: undefined
}

export interface Outcome {
  readonly code: number
  readonly stdout: string
  readonly stdoutBytes: Uint8Array
  readonly stderr: string
  /** Clock milliseconds from start to the end of the run. */
  readonly elapsed: number
}

/**
 * Runs the client on `args` against in-memory servers under TestClock,
 * moving the clock `advance` forward, and returns what it printed.
 */
export const runAgainst = (
  servers: MemoryConnector.MemoryConnectorOptions["servers"],
  args: ReadonlyArray<string>,
  overrides: Partial<Omit<ClientConfig, "targets">> = {},
  options: {
    readonly advance?: Duration.DurationInput
    readonly fs?: Layer.Layer<FileSystem.FileSystem>
    readonly stderrIsTTY?: boolean
    readonly stdoutIsTTY?: boolean
    /** stdout's reader goes away after this many bytes (`| head -c N`). */
    readonly stdoutClosesAfter?: number
  } = {}
) =>
  Effect.gen(function*() {
    const targets = Either.getOrThrow(parseTargets(args))
    const { captured, layer } = Output.makeCapture({
      stderrIsTTY: options.stderrIsTTY ?? false,
      stdoutIsTTY: options.stdoutIsTTY ?? false,
      stderrColumns: 60,
      ...(options.stdoutClosesAfter === undefined ? {} : { stdoutClosesAfter: options.stdoutClosesAfter })
    })
    const environment = Layer.mergeAll(
      MemoryConnector.layer({ servers }),
      layer,
      options.fs ?? FileSystem.layerNoop({})
    )
    const started = yield* TestClock.currentTimeMillis
    const fiber = yield* Effect.fork(
      runClient({ ...defaults, ...overrides, targets }).pipe(
        Effect.flatMap((code) => Effect.map(TestClock.currentTimeMillis, (now) => ({ code, elapsed: now - started }))),
        Effect.provide(environment)
      )
    )
    yield* TestClock.adjust(options.advance ?? "10 seconds")
    const { code, elapsed } = yield* Fiber.join(fiber)
    return {
      code,
      elapsed,
      stdout: captured.stdout(),
      stdoutBytes: captured.stdoutBytes(),
      stderr: captured.stderr()
    } satisfies Outcome
  })

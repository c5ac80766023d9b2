import { FileSystem } from "@effect/platform"
import { Clock, Effect, Fiber, Queue, type Scope } from "effect"
import type { Connector } from "../net/Connector.ts"
import { LocalIoError, type RequestError, TimeoutError } from "./errors.ts"
import type { BodySink } from "./Exchange.ts"
import { describe, exitCodeOf } from "./exitCodes.ts"
import { type FetchOptions, type HeadInfo, type Hop, makeSession } from "./Fetch.ts"
import { Output } from "./Output.ts"
import * as Render from "./Render.ts"
import { summarize } from "./Stats.ts"
import type { Target } from "./Target.ts"
import { phases, type Timings } from "./Timings.ts"

/** What the client command asked for, validated. */
export interface ClientConfig {
  readonly targets: ReadonlyArray<Target>
  readonly fetch: FetchOptions
  /** full: status line, headers, body; body: the body alone; json: one object per target. */
  readonly mode: "full" | "body" | "json"
  /** -o: the body goes to this file (one target only). */
  readonly outputFile: string | undefined
  readonly ttl: boolean
  readonly timing: boolean
  readonly count: number
  /** Milliseconds between --count rounds. */
  readonly interval: number
  readonly parallel: number
  /** --max-time in milliseconds, for each target (each round with --count). */
  readonly maxTime: number | undefined
}

/** One target's share of the terminal: what it prints goes out in target order. */
interface Printer {
  readonly out: (chunk: Uint8Array | string) => Effect.Effect<void>
  readonly err: (chunk: Uint8Array | string) => Effect.Effect<void>
}

type Item = { readonly stream: "out" | "err"; readonly chunk: Uint8Array | string } | undefined

/**
 * Several targets run concurrently but print in the order given: each writes
 * into a small bounded queue that the printer drains one target after the
 * other. A target further down waits (its socket with it) when its queue is
 * full, so memory stays bounded however large the bodies are. Targets start
 * in order, so the one being printed is always running: no deadlock.
 */
const orderedPrinters = (count: number) =>
  Effect.gen(function*() {
    const output = yield* Output
    const queues = yield* Effect.forEach(Array.from({ length: count }), () => Queue.bounded<Item>(32))
    const drain = Effect.forEach(queues, (queue) =>
      Effect.gen(function*() {
        while (true) {
          const item = yield* Queue.take(queue)
          if (item === undefined) return
          yield* item.stream === "out" ? output.stdout(item.chunk) : output.stderr(item.chunk)
        }
      }), { discard: true })
    const printers = queues.map((queue) => ({
      printer: {
        out: (chunk: Uint8Array | string) => Queue.offer(queue, { stream: "out", chunk }),
        err: (chunk: Uint8Array | string) => Queue.offer(queue, { stream: "err", chunk })
      } satisfies Printer,
      close: Queue.offer(queue, undefined)
    }))
    return { printers, drain }
  })

const discardBody: BodySink = () => Effect.void

/** Fails once stdout's reader has gone: nothing more of the response can be shown (curl exit 23). */
const stdoutGone = (output: Output["Type"]): Effect.Effect<void, LocalIoError> =>
  Effect.suspend(() => {
    const why = output.stdoutClosed()
    return why === undefined
      ? Effect.void
      : Effect.fail(new LocalIoError({ direction: "write", path: "stdout", message: why }))
  })

/** The body to stdout (through the target's printer), stopped when stdout's reader has gone. */
const stdoutSink = (printer: Printer, output: Output["Type"]): BodySink<LocalIoError> => (chunk) =>
  Effect.zipRight(printer.out(chunk), stdoutGone(output))

const withMaxTime = <A, E, R>(config: ClientConfig, effect: Effect.Effect<A, E, R>) =>
  config.maxTime === undefined
    ? effect
    : Effect.timeoutFail(effect, {
      duration: config.maxTime,
      onTimeout: () => new TimeoutError({ phase: "transfer", millis: config.maxTime! })
    })

const headersJson = (hop: Hop) => hop.head.headers.entries.map(([name, value]) => [name, value])

const micros = (ms: number) => Math.round(ms * 1000) / 1000

/** The waterfall's phases as durations in milliseconds (absent phases left out), plus the total. */
const timingsJson = (t: Timings) => {
  const out: Record<string, number> = {}
  for (const phase of phases(t)) out[`${phase.key}Ms`] = micros(phase.duration)
  out.firstByteMs = micros(t.firstByte)
  out.totalMs = micros(t.done)
  return out
}

/** Opens -o's file when the final head arrives and writes the body to it, drawing progress on a terminal. */
const fileSink = (path: string, info: HeadInfo) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const output = yield* Output
    const file = yield* fs.open(path, { flag: "w" }).pipe(
      Effect.mapError((e) => new LocalIoError({ direction: "write", path, message: e.message }))
    )
    const framing = info.head.framing
    const total = framing._tag === "ContentLength" ? framing.length : undefined
    const started = yield* Clock.currentTimeMillis
    let bytes = 0
    let drawnAt = Number.NEGATIVE_INFINITY
    let drawnBytes = -1
    const draw = (now: number) => {
      drawnBytes = bytes
      return output.stderr(
        Render.progressLine({ bytes, total, elapsedMs: now - started, columns: output.stderrColumns })
      )
    }
    const sink: BodySink<LocalIoError> = (chunk) =>
      Effect.gen(function*() {
        yield* file.writeAll(chunk).pipe(
          Effect.mapError((e) => new LocalIoError({ direction: "write", path, message: e.message }))
        )
        bytes += chunk.length
        if (!output.stderrIsTTY) return
        const now = yield* Clock.currentTimeMillis
        if (now - drawnAt >= 100 || bytes === total) {
          drawnAt = now
          yield* draw(now)
        }
      })
    // the last frame stays on screen, complete, with its line ended
    const finish = output.stderrIsTTY
      ? Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => Effect.zipRight(drawnBytes === bytes ? Effect.void : draw(now), output.stderr("\n"))
      )
      : Effect.void
    return { sink, finish }
  })

/** One target, once: prints as the mode says and returns the hops. */
const fetchOnce = (config: ClientConfig, target: Target, printer: Printer) =>
  Effect.gen(function*() {
    const session = yield* makeSession(config.fetch)
    let finishFile: Effect.Effect<void> = Effect.void
    const onHead = (
      info: HeadInfo
    ): Effect.Effect<BodySink<LocalIoError>, LocalIoError, FileSystem.FileSystem | Output | Scope.Scope> =>
      Effect.gen(function*() {
        if (config.ttl && config.mode !== "json") yield* printer.out(Render.ttlText(info.timings))
        if (config.mode === "full") yield* printer.out(Render.wireBytes(Render.headText(info.head)))
        if (info.redirecting) return discardBody
        if (config.outputFile !== undefined) {
          const file = yield* fileSink(config.outputFile, info)
          finishFile = file.finish
          return file.sink
        }
        return config.mode === "json" ? discardBody : stdoutSink(printer, yield* Output)
      })
    const hops = yield* withMaxTime(config, session.fetch(target, onHead)).pipe(
      Effect.ensuring(Effect.suspend(() => finishFile))
    )
    const final = hops[hops.length - 1]!
    if (config.mode === "full" && config.outputFile === undefined) {
      yield* printer.out(Render.wireBytes(Render.trailerText(final.trailers)))
    }
    if (config.timing) yield* printer.err(Render.waterfall(final.timings))
    if (config.mode === "json") {
      yield* printer.out(
        JSON.stringify({
          url: target.url,
          finalUrl: final.target.url,
          remoteAddress: final.remoteAddress,
          httpVersion: `${final.head.version.major}.${final.head.version.minor}`,
          status: final.head.status,
          reason: final.head.reason,
          headers: headersJson(final),
          bodyBytes: final.bodyBytes,
          redirects: hops.length - 1,
          timings: timingsJson(final.timings)
        }) + "\n"
      )
    }
  }).pipe(Effect.scoped)

/** --count: the same request N times on one session, each round trip printed, then the summary. */
const fetchRounds = (config: ClientConfig, target: Target, printer: Printer) =>
  Effect.gen(function*() {
    const session = yield* makeSession(config.fetch)
    const totals: Array<number> = []
    const rounds: Array<unknown> = []
    let firstError: RequestError | undefined
    for (let round = 1; round <= config.count; round++) {
      if (round > 1 && config.interval > 0) yield* Effect.sleep(config.interval)
      const result = yield* Effect.either(withMaxTime(config, session.fetch(target, () => Effect.succeed(discardBody))))
      if (result._tag === "Left") {
        firstError ??= result.left
        if (config.mode === "json") rounds.push({ round, error: describe(result.left) })
        else yield* printer.out(`${round}: ${describe(result.left)}\n`)
        continue
      }
      const final = result.right[result.right.length - 1]!
      const elapsed = result.right.reduce((sum, hop) => sum + hop.timings.done, 0)
      totals.push(elapsed)
      if (config.mode === "json") {
        rounds.push({
          round,
          status: final.head.status,
          bodyBytes: final.bodyBytes,
          reused: final.reused,
          timings: timingsJson(final.timings)
        })
      } else {
        yield* printer.out(Render.roundLine(round, final.head, { ...final.timings, done: elapsed }, final.bodyBytes))
        // `--count 1000 ... | head -3` stops after three rounds, not 997 later
        yield* stdoutGone(yield* Output)
      }
    }
    const summary = summarize(totals)
    if (config.mode === "json") {
      yield* printer.out(
        JSON.stringify({ url: target.url, requests: config.count, rounds, stats: summary ?? null }) + "\n"
      )
    } else {
      yield* printer.out(Render.summaryText(target.url, config.count, summary))
    }
    if (firstError !== undefined) return yield* Effect.fail(firstError)
  }).pipe(Effect.scoped)

/** A target's whole turn: heading, request(s), and its error line. Returns its exit code. */
const runTarget = (config: ClientConfig, target: Target, index: number, printer: Printer) =>
  Effect.gen(function*() {
    if (config.targets.length > 1 && config.mode !== "json") yield* printer.out(Render.heading(target.url, index === 0))
    const work = config.count > 1 ? fetchRounds(config, target, printer) : fetchOnce(config, target, printer)
    return yield* work.pipe(
      Effect.as(0),
      Effect.catchAll((error) =>
        Effect.gen(function*() {
          // Only the command line's own errors are not RequestErrors; none reach here.
          const message = describe(error)
          if (config.mode === "json" && config.count === 1) {
            yield* printer.out(JSON.stringify({ url: target.url, error: message, exitCode: exitCodeOf(error) }) + "\n")
          }
          yield* printer.err(`fiberhttp: ${target.url}: ${message}\n`)
          return exitCodeOf(error)
        })
      )
    )
  })

/**
 * Runs every target (up to --parallel at a time), prints each in the order
 * given, and returns the exit status: 0, or the first failing target's code.
 */
export const runClient = (
  config: ClientConfig
): Effect.Effect<number, never, Connector | Output | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const output = yield* Output
    if (config.targets.length === 1) {
      const printer: Printer = { out: output.stdout, err: output.stderr }
      return yield* runTarget(config, config.targets[0]!, 0, printer)
    }
    const { printers, drain } = yield* orderedPrinters(config.targets.length)
    const printing = yield* Effect.fork(drain)
    const codes = yield* Effect.forEach(
      config.targets,
      (target, index) => {
        const { printer, close } = printers[index]!
        return runTarget(config, target, index, printer).pipe(Effect.ensuring(close))
      },
      { concurrency: config.parallel }
    )
    yield* Fiber.join(printing)
    return codes.find((code) => code !== 0) ?? 0
  })

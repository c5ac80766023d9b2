import { FileSystem } from "@effect/platform"
import { Clock, Effect, Fiber, Queue, type Scope } from "effect"
import { parseHttpDate } from "../http/date.ts"
import type { ResponseHead } from "../http/message.ts"
import type { Connector } from "../net/Connector.ts"
import { decoderFor } from "./ContentDecoding.ts"
import {
  BinaryToTerminal,
  HttpStatusError,
  LocalIoError,
  type RequestError,
  ResumeError,
  TimeoutError
} from "./errors.ts"
import type { BodySink } from "./Exchange.ts"
import { describe, exitCodeOf } from "./exitCodes.ts"
import { type FetchOptions, type HeadInfo, type Hop, makeSession } from "./Fetch.ts"
import { fileProblem } from "./fileProblem.ts"
import { Output } from "./Output.ts"
import * as Render from "./Render.ts"
import { summarize, summarizePhases } from "./Stats.ts"
import type { Target } from "./Target.ts"
import { firstByteTime, phases, type Timings, totalTime } from "./Timings.ts"

/** What the client command asked for, validated. */
export interface ClientConfig {
  readonly targets: ReadonlyArray<Target>
  readonly fetch: FetchOptions
  /** full: status line, headers, body; body: the body alone; json: one object per target. */
  readonly mode: "full" | "body" | "json"
  /** -o: the body goes to this file (one target only); `-o -` is stdout, given as undefined. */
  readonly outputFile: string | undefined
  /** -i: with -o, the status line and headers still go to stdout. */
  readonly include: boolean
  /** `-o -`: the body goes to stdout even when it is binary and stdout a terminal. */
  readonly stdoutAsked: boolean
  /** -f: a status of 400 or more is a failure (exit 22), its body not shown. */
  readonly fail: boolean
  /** --retry: transient failures are tried again this many times at most. */
  readonly retry: number
  /** --compressed: decode the Content-Encoding the request asked for. */
  readonly compressed: boolean
  /** -C: the -o file is resumed at this offset (the request carries its Range). */
  readonly resumeFrom: number | undefined
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
    // A queued body chunk is copied (a Buffer's slice would be a view): the
    // connection reads into its memory again.
    const own = (chunk: Uint8Array | string) => (typeof chunk === "string" ? chunk : new Uint8Array(chunk))
    const printers = queues.map((queue) => ({
      printer: {
        out: (chunk: Uint8Array | string) => Queue.offer(queue, { stream: "out", chunk: own(chunk) }),
        err: (chunk: Uint8Array | string) => Queue.offer(queue, { stream: "err", chunk: own(chunk) })
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

const headersJson = (head: ResponseHead) => head.headers.entries.map(([name, value]) => [name, value])

const micros = (ms: number) => Math.round(ms * 1000) / 1000

/** The waterfall's phases as durations in milliseconds (absent phases left out), the first byte and the total. */
const timingsJson = (t: Timings) => {
  const out: Record<string, number> = {}
  for (const phase of phases(t)) out[`${phase.key}Ms`] = micros(phase.duration)
  out.firstByteMs = micros(firstByteTime(t))
  out.totalMs = micros(totalTime(t))
  return out
}

/** Each response of a request, redirects first: where it came from and its timings. */
const hopsJson = (hops: ReadonlyArray<Hop>) =>
  hops.map((hop) => ({
    url: hop.target.url,
    status: hop.head.status,
    remoteAddress: hop.remoteAddress,
    reused: hop.reused,
    timings: timingsJson(hop.timings)
  }))

/** Opens -o's file when the final head arrives and writes the body to it, drawing progress on a terminal. */
const fileSink = (path: string, info: HeadInfo, append: boolean) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const output = yield* Output
    const file = yield* fs.open(path, { flag: append ? "a" : "w" }).pipe(
      Effect.mapError((e) => new LocalIoError({ direction: "write", path, message: fileProblem(e) }))
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
    const writeFailed = (e: Parameters<typeof fileProblem>[0]) =>
      new LocalIoError({ direction: "write", path, message: fileProblem(e) })
    const counted = (chunk: Uint8Array) => Effect.sync(() => void (bytes += chunk.length))
    const progress = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now - drawnAt < 100 && bytes !== total) return Effect.void
      drawnAt = now
      return draw(now)
    })
    // one write per chunk (a read brings up to the connection's whole buffer), nothing else when not drawing
    const sink: BodySink<LocalIoError> = output.stderrIsTTY
      ? (chunk) =>
        Effect.zipRight(Effect.zipRight(Effect.mapError(file.writeAll(chunk), writeFailed), counted(chunk)), progress)
      : (chunk) => Effect.mapError(file.writeAll(chunk), writeFailed)
    // the last frame stays on screen, complete, with its line ended
    const finish = output.stderrIsTTY
      ? Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => Effect.zipRight(drawnBytes === bytes ? Effect.void : draw(now), output.stderr("\n"))
      )
      : Effect.void
    return { sink, finish }
  })

/** HTTP statuses --retry tries again (curl's list). */
const transientStatuses = new Set([408, 429, 500, 502, 503, 504])

/** Longest wait between --retry attempts (curl's cap on its doubling). */
const MAX_RETRY_WAIT = 10 * 60 * 1000

/** Retry-After in milliseconds (seconds or an HTTP-date), or undefined. */
const retryAfterMillis = (head: ResponseHead, now: number): number | undefined => {
  const value = head.headers.get("retry-after")?.trim()
  if (value === undefined || value === "") return undefined
  if (/^[0-9]+$/.test(value)) return Math.min(Number(value) * 1000, MAX_RETRY_WAIT)
  const date = parseHttpDate(value, now)
  return date === undefined ? undefined : Math.min(Math.max(0, date - now), MAX_RETRY_WAIT)
}

/** A body chunk holds a NUL byte: binary, as curl judges it. */
const looksBinary = (chunk: Uint8Array) => chunk.indexOf(0) >= 0

/** Content-Encoding other than identity. */
const encodingOf = (head: ResponseHead) => {
  const value = head.headers.get("content-encoding")?.trim().toLowerCase()
  return value === undefined || value === "" || value === "identity" ? undefined : value
}

const interimText = (heads: ReadonlyArray<ResponseHead>) => heads.map((head) => Render.headText(head)).join("")

/** Why a try of --retry failed, when it is worth another: curl's transient failures. */
type Retryable = { readonly why: string; readonly waitMs: number | undefined }

/** One try of one target: prints as the mode says and returns the hops, or that a retry is wanted. */
const fetchOnceTry = (
  config: ClientConfig,
  target: Target,
  printer: Printer,
  session: Effect.Effect.Success<ReturnType<typeof makeSession>>,
  retriesLeft: number
) =>
  Effect.gen(function*() {
    let finish: Effect.Effect<void, RequestError> = Effect.void
    let retry: Retryable | undefined
    // with -b or -o the saved or printed body stays the body alone: --ttl goes to stderr
    const ttlOut = config.mode === "body" || config.outputFile !== undefined ? printer.err : printer.out
    const showHead = config.mode === "full" && (config.outputFile === undefined || config.include)
    const onHead = (
      info: HeadInfo
    ): Effect.Effect<BodySink<RequestError>, RequestError, FileSystem.FileSystem | Output | Scope.Scope> =>
      Effect.gen(function*() {
        const status = info.head.status
        if (!info.redirecting && retriesLeft > 0 && transientStatuses.has(status)) {
          const now = yield* Clock.currentTimeMillis
          retry = {
            why: `${status}${info.head.reason === "" ? "" : ` ${info.head.reason}`}`,
            waitMs: retryAfterMillis(info.head, now)
          }
          return discardBody
        }
        if (config.ttl && config.mode !== "json") yield* ttlOut(Render.ttlText(info.timings))
        if (config.fail && status >= 400 && !info.redirecting) {
          return yield* Effect.fail(new HttpStatusError({ status, reason: info.head.reason }))
        }
        if (showHead) yield* printer.out(Render.wireBytes(interimText(info.interims) + Render.headText(info.head)))
        if (info.redirecting) return discardBody
        let sink: BodySink<RequestError>
        if (config.outputFile !== undefined) {
          let append = false
          if (config.resumeFrom !== undefined) {
            // 416: the file is already whole (curl's rule); 206: the rest follows
            if (status === 416) return discardBody
            if (status !== 206) return yield* Effect.fail(new ResumeError({ status }))
            append = true
          }
          const file = yield* fileSink(config.outputFile, info, append)
          finish = file.finish
          sink = file.sink
        } else if (config.mode === "json") {
          return discardBody
        } else {
          const output = yield* Output
          const toStdout = stdoutSink(printer, output)
          const encoding = encodingOf(info.head)
          const guarded = output.stdoutIsTTY && !config.stdoutAsked
          if (guarded && encoding !== undefined && !(config.compressed && decoderFor(encoding) !== undefined)) {
            return yield* Effect.fail(new BinaryToTerminal())
          }
          sink = guarded
            ? (chunk) => (looksBinary(chunk) ? Effect.fail(new BinaryToTerminal()) : toStdout(chunk))
            : toStdout
        }
        const decoder = config.compressed ? decoderFor(encodingOf(info.head)) : undefined
        if (decoder === undefined) return sink
        const written = finish
        // a response without body bytes (HEAD, 204, 304, an empty body) has nothing to decode
        let encoded = false
        finish = Effect.zipRight(
          Effect.suspend(() =>
            encoded
              ? Effect.flatMap(decoder.end, (chunks) => Effect.forEach(chunks, sink, { discard: true }))
              : Effect.void
          ),
          written
        )
        return (chunk) => {
          encoded = true
          return Effect.flatMap(decoder.push(chunk), (chunks) => Effect.forEach(chunks, sink, { discard: true }))
        }
      })
    const fetched = yield* withMaxTime(config, session.fetch(target, onHead)).pipe(
      Effect.tap(() => Effect.suspend(() => finish)),
      Effect.either
    )
    if (fetched._tag === "Left") {
      const error = fetched.left
      // curl's transient failures: a timeout, a name that did not resolve
      if (retriesLeft > 0 && (error._tag === "TimeoutError" || error._tag === "ResolveError")) {
        return { _tag: "Retry" as const, retry: { why: describe(error), waitMs: undefined } }
      }
      return yield* Effect.fail(error)
    }
    if (retry !== undefined) return { _tag: "Retry" as const, retry }
    return { _tag: "Done" as const, hops: fetched.right, showHead }
  })

/** One target, once (with --retry, until a try is not transient): prints as the mode says. */
const fetchOnce = (config: ClientConfig, target: Target, printer: Printer) =>
  Effect.gen(function*() {
    const session = yield* makeSession(config.fetch)
    let retriesLeft = config.retry
    let backoff = 1000
    let outcome = yield* fetchOnceTry(config, target, printer, session, retriesLeft)
    while (outcome._tag === "Retry") {
      const wait = outcome.retry.waitMs ?? backoff
      backoff = Math.min(backoff * 2, MAX_RETRY_WAIT)
      yield* printer.err(
        `fiberhttp: ${target.url}: ${outcome.retry.why}; retrying in ${Number((wait / 1000).toFixed(3))} s (${
          retriesLeft === 1 ? "1 retry" : `${retriesLeft} retries`
        } left)\n`
      )
      yield* Effect.sleep(wait)
      retriesLeft--
      outcome = yield* fetchOnceTry(config, target, printer, session, retriesLeft)
    }
    const hops = outcome.hops
    const final = hops[hops.length - 1]!
    if (config.mode === "full" && config.outputFile === undefined) {
      yield* printer.out(Render.wireBytes(Render.trailerText(final.trailers)))
    }
    if (config.timing) {
      // with -L, each response's own waterfall under its URL
      for (const hop of hops) {
        if (hops.length > 1) yield* printer.err(`${hop.target.url} (${hop.head.status}):\n`)
        yield* printer.err(Render.waterfall(hop.timings))
      }
    }
    if (config.mode === "json") {
      yield* printer.out(
        JSON.stringify({
          url: target.url,
          finalUrl: final.target.url,
          remoteAddress: final.remoteAddress,
          httpVersion: `${final.head.version.major}.${final.head.version.minor}`,
          status: final.head.status,
          reason: final.head.reason,
          headers: headersJson(final.head),
          interim: final.interims.map((head) => ({ status: head.status, headers: headersJson(head) })),
          trailers: final.trailers.entries.map(([name, value]) => [name, value]),
          bodyBytes: final.bodyBytes,
          redirects: hops.length - 1,
          timings: timingsJson(final.timings),
          hops: hopsJson(hops)
        }) + "\n"
      )
    }
  }).pipe(Effect.scoped)

/** --count: the same request N times on one session, each round trip printed, then the summary. */
const fetchRounds = (config: ClientConfig, target: Target, printer: Printer) =>
  Effect.gen(function*() {
    const session = yield* makeSession(config.fetch)
    const totals: Array<number> = []
    const answered: Array<{ readonly timings: Timings; readonly total: number }> = []
    const rounds: Array<unknown> = []
    // rounds finished, answered or failed: a round cut short by Ctrl-C is not counted
    let sent = 0
    let firstError: RequestError | undefined
    // the summary of the rounds so far, also when Ctrl-C ends the run (as httping does)
    const summaryOut = (interrupted: boolean) => {
      const summary = summarize(totals)
      const phases = config.timing && answered.length > 0
        ? printer.err(Render.phaseSummaryText(summarizePhases(answered)))
        : Effect.void
      const text = config.mode === "json"
        ? printer.out(
          JSON.stringify({
            url: target.url,
            requests: sent,
            ...(interrupted ? { interrupted: true } : {}),
            rounds,
            stats: summary ?? null
          }) + "\n"
        )
        : printer.out(Render.summaryText(target.url, sent, summary))
      return Effect.zipRight(text, phases)
    }
    const loop = Effect.gen(function*() {
      for (let round = 1; round <= config.count; round++) {
        if (round > 1 && config.interval > 0) yield* Effect.sleep(config.interval)
        const result = yield* Effect.either(
          withMaxTime(config, session.fetch(target, () => Effect.succeed(discardBody)))
        )
        sent = round
        if (result._tag === "Left") {
          firstError ??= result.left
          if (config.mode === "json") rounds.push({ round, error: describe(result.left) })
          else yield* printer.out(`${round}: ${describe(result.left)}\n`)
          continue
        }
        const final = result.right[result.right.length - 1]!
        const elapsed = result.right.reduce((sum, hop) => sum + totalTime(hop.timings), 0)
        totals.push(elapsed)
        answered.push({ timings: final.timings, total: elapsed })
        if (config.mode === "json") {
          rounds.push({
            round,
            status: final.head.status,
            bodyBytes: final.bodyBytes,
            reused: final.reused,
            timings: timingsJson(final.timings)
          })
        } else {
          yield* printer.out(Render.roundLine(round, final.head, final.timings, final.bodyBytes, elapsed))
          // `--count 1000 ... | head -3` stops after three rounds, not 997 later
          yield* stdoutGone(yield* Output)
        }
      }
    })
    yield* loop.pipe(Effect.onInterrupt(() => summaryOut(true)))
    yield* summaryOut(false)
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

import { Cause, Clock, Duration, Effect, Exit, Option, Stream } from "effect"
import type { HttpParseError } from "../http/errors.ts"
import { Headers } from "../http/Headers.ts"
import type { RequestHead } from "../http/message.ts"
import { RequestParser } from "../http/RequestParser.ts"
import { serializeResponseHead } from "../http/serialize.ts"
import type { FileError } from "../files/StaticFiles.ts"
import type { Connection } from "../net/Connection.ts"
import type { SocketError } from "../net/errors.ts"
import { VERSION } from "../version.ts"
import type { AccessEntry } from "./AccessLog.ts"
import { AccessLog } from "./AccessLog.ts"
import { formatHttpDate } from "../http/date.ts"
import * as Response from "./Response.ts"
import type { Handler } from "./StaticHandler.ts"

/** Per-connection limits, in milliseconds and counts. */
export interface ConnectionLimits {
  /** The whole header section (and a discarded body) must arrive within this: 408 otherwise. */
  readonly headerTimeoutMs: number
  /** Between requests on a persistent connection: closed quietly after this. */
  readonly keepAliveTimeoutMs: number
  /** A write that makes no progress for this long means a stalled reader: closed. */
  readonly writeTimeoutMs: number
  /** Requests served on one connection before it is closed. */
  readonly maxRequests: number
}

/** Request bodies up to this size are read and discarded; larger ones close the connection after the response. */
const MAX_DISCARDED_BODY = 1024 * 1024
/** After an error response, unread request bytes are drained this long so the peer gets the response, not a reset. */
const LINGER_MS = 1000

/**
 * What the server sees of a connection while it runs: whether it is between
 * requests (safe to interrupt at shutdown) or writing a response (given the
 * grace period to finish).
 */
export interface ConnectionState {
  phase: "reading" | "responding"
}

export interface ConnectionContext {
  readonly limits: ConnectionLimits
  readonly handler: Handler
  /** The connection fiber's id ("#42"), for logs. */
  readonly fiber: string
  /** The owner, for traces. */
  readonly parent: string
  readonly state: ConnectionState
  /** True once the server is shutting down: finish the current response, then close. */
  readonly draining: () => boolean
}

const EMPTY = new Uint8Array(0)

/** Epoch milliseconds with sub-millisecond precision (the live clock's nanos come from hrtime). */
const nowMs = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos) / 1e6)
const SERVER = `fiberhttp/${VERSION}`

let dateCache = { second: -1, value: "" }
/** The Date header changes once a second; formatting it per response is wasteful. */
const dateHeader = (nowMs: number): string => {
  const second = Math.floor(nowMs / 1000)
  if (dateCache.second !== second) dateCache = { second, value: formatHttpDate(nowMs) }
  return dateCache.value
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** How reading the next request ended. */
type ReadOutcome =
  /** `complete`: the body (if any) was read and discarded, so the connection may be reused. */
  | { readonly _tag: "Request"; readonly head: RequestHead; readonly complete: boolean; readonly startedAt: number }
  /** The peer finished, went idle, or failed: close without a response. */
  | { readonly _tag: "Closed"; readonly reason: string }
  /** Part of a request arrived, not all of it in time: 408. */
  | { readonly _tag: "Timeout"; readonly startedAt: number }
  | { readonly _tag: "Invalid"; readonly error: HttpParseError; readonly startedAt: number }

class WriteStalled {
  readonly _tag = "WriteStalled"
}

/**
 * Serves requests on one connection until it should close: the persistence
 * rules of RFC 9112 section 9, pipelined requests one at a time in order, and
 * the header, keep-alive and write timeouts. Never fails; returns why it
 * stopped. The caller owns the connection and destroys it afterwards.
 */
export const serveConnection = (conn: Connection, ctx: ConnectionContext): Effect.Effect<string, never, AccessLog> =>
  Effect.gen(function*() {
    const log = yield* AccessLog
    const { limits } = ctx
    const parser = new RequestParser()
    /** Bytes read but not yet consumed by the parser (a partial message, or pipelined requests). */
    let pending: Uint8Array = EMPTY
    let served = 0
    const acceptedAt = yield* nowMs

    const writeTimed = (chunk: Uint8Array) =>
      conn.write(chunk).pipe(
        Effect.timeoutFail({ duration: Duration.millis(limits.writeTimeoutMs), onTimeout: () => new WriteStalled() })
      )

    /** Reads until one request's head has arrived and its body has been discarded. */
    const readRequest: Effect.Effect<ReadOutcome> = Effect.gen(function*() {
      let head: RequestHead | undefined
      let ended = false
      let discarded = 0
      const first = served === 0
      // When the request's first byte arrived (the parser keeps partial lines itself, so this is tracked here).
      let startedAt: number | undefined = pending.length > 0 ? yield* nowMs : undefined
      // The header timeout runs from the accept for a new connection, from the first byte after that.
      const deadlineFrom = (): number | undefined => (first ? acceptedAt : startedAt)
      while (true) {
        if (pending.length > 0) {
          const result = parser.execute(pending)
          pending = pending.subarray(result.consumed)
          for (const event of result.events) {
            if (event._tag === "Head") head = event.head
            else if (event._tag === "Body") discarded += event.chunk.length
            else ended = true
          }
          if (result.error !== undefined) return { _tag: "Invalid", error: result.error, startedAt: startedAt! }
          if (head !== undefined) {
            // the response does not depend on the body: answer once it is gone, or at once when
            // the client waits for 100-continue or sends more than is worth reading
            if (ended) return { _tag: "Request", head, complete: true, startedAt: startedAt! }
            if (head.headers.hasToken("Expect", "100-continue") || discarded > MAX_DISCARDED_BODY) {
              return { _tag: "Request", head, complete: false, startedAt: startedAt! }
            }
          }
          if (result.consumed > 0 && pending.length > 0) continue
        }
        const from = deadlineFrom()
        const waitMs = from === undefined ? limits.keepAliveTimeoutMs : from + limits.headerTimeoutMs - (yield* nowMs)
        const chunk = yield* conn.read.pipe(Effect.timeout(Duration.millis(Math.max(0, waitMs))), Effect.either)
        if (chunk._tag === "Left") {
          if (chunk.left._tag === "SocketError") return { _tag: "Closed", reason: `read failed: ${chunk.left.message}` }
          if (startedAt === undefined) return { _tag: "Closed", reason: first ? "no request arrived" : "idle" }
          return { _tag: "Timeout", startedAt }
        }
        if (Option.isNone(chunk.right)) return { _tag: "Closed", reason: "peer closed" }
        if (startedAt === undefined) startedAt = yield* nowMs
        pending = concat(pending, chunk.right.value)
      }
    })

    /** Writes head and body, counting the body bytes sent in `progress`. */
    const writeResponse = (
      head: RequestHead | undefined,
      response: Response.Response,
      keepAlive: boolean,
      now: number,
      progress: { bytes: number }
    ): Effect.Effect<void, WriteStalled | SocketError | FileError> => {
      const status = response.status
      const body = response.body
      const bodyAllowed = status !== 204 && status !== 304
      const sendBody = bodyAllowed && head?.method !== "HEAD"
      const entries: Array<readonly [string, string]> = [
        ["Date", dateHeader(now)],
        ["Server", SERVER],
        ...response.headers.entries
      ]
      if (bodyAllowed) {
        const length = body._tag === "Empty" ? 0 : body._tag === "Bytes" ? body.bytes.length : body.length
        entries.push(["Content-Length", String(length)])
      }
      if (!keepAlive) entries.push(["Connection", "close"])
      else if (head !== undefined && head.version.minor === 0) entries.push(["Connection", "keep-alive"])
      const headBytes = serializeResponseHead({
        version: { major: 1, minor: 1 },
        status,
        headers: new Headers(entries)
      })
      if (!sendBody || body._tag === "Empty") return writeTimed(headBytes)
      if (body._tag === "Bytes") {
        return Effect.map(writeTimed(concat(headBytes, body.bytes)), () => void (progress.bytes = body.bytes.length))
      }
      return writeTimed(headBytes).pipe(
        Effect.zipRight(Stream.runForEach(body.stream, (chunk) =>
          Effect.map(writeTimed(chunk), () => void (progress.bytes += chunk.length))))
      )
    }

    /** Half-closes, then drains what the peer still sends for a moment, so it reads the response rather than a reset. */
    const lingeringClose = conn.end.pipe(
      Effect.timeout(Duration.millis(limits.writeTimeoutMs)),
      Effect.zipRight(
        Effect.iterate(true, { while: (more) => more, body: () => Effect.map(conn.read, Option.isSome) }).pipe(
          Effect.timeout(Duration.millis(LINGER_MS))
        )
      ),
      Effect.ignore
    )

    const accessEntry = (startedAt: number, requestLine: string, status: number, bytes: number, endedAt: number): AccessEntry => ({
      time: new Date(startedAt),
      remoteAddress: conn.remoteAddress,
      remotePort: conn.remotePort,
      connection: conn.id,
      fiber: ctx.fiber,
      requestLine,
      status,
      bytes,
      durationMs: endedAt - startedAt
    })

    const trace = (event: "request-begun" | "request-ended", detail: string) =>
      log.tracing
        ? Effect.flatMap(nowMs, (now) =>
          log.trace({ time: new Date(now), event, connection: conn.id, fiber: ctx.fiber, parent: ctx.parent, detail }))
        : Effect.void

    /** Answers without a request to go on (bad input, timeout), then closes. */
    const refuse = (status: number, startedAt: number) =>
      Effect.gen(function*() {
        ctx.state.phase = "responding"
        const now = yield* nowMs
        const progress = { bytes: 0 }
        const written = yield* writeResponse(undefined, Response.errorPage(status), false, now, progress)
          .pipe(
            Effect.onExit(() =>
              Effect.flatMap(nowMs, (endedAt) =>
                log.request(accessEntry(startedAt, "-", status, progress.bytes, endedAt)))
            ),
            Effect.either
          )
        ctx.state.phase = "reading"
        if (written._tag === "Right") yield* lingeringClose
        return `answered ${status}`
      })

    while (true) {
      const outcome = yield* readRequest
      if (outcome._tag === "Closed") return outcome.reason
      if (outcome._tag === "Timeout") return yield* refuse(408, outcome.startedAt)
      if (outcome._tag === "Invalid") return yield* refuse(outcome.error.status, outcome.startedAt)

      const { head, complete, startedAt } = outcome
      served++
      ctx.state.phase = "responding"
      const requestLine = `${head.method} ${head.target} HTTP/${head.version.major}.${head.version.minor}`
      yield* trace("request-begun", requestLine)
      const response = yield* ctx.handler(head)
      const keepAlive = head.keepAlive && complete && served < limits.maxRequests && !ctx.draining()
      const now = yield* nowMs
      const progress = { bytes: 0 }
      // logged however the response ends: written, failed, or interrupted at shutdown
      const written = yield* writeResponse(head, response, keepAlive, now, progress).pipe(
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            const endedAt = yield* nowMs
            yield* log.request(accessEntry(startedAt, requestLine, response.status, progress.bytes, endedAt))
            const how = Exit.isSuccess(exit) ? "" : Exit.isInterrupted(exit) ? " interrupted" : " failed"
            yield* trace("request-ended", `${response.status} ${progress.bytes}B${how}`)
          })
        ),
        Effect.exit
      )
      ctx.state.phase = "reading"
      if (Exit.isFailure(written)) {
        const failure = Cause.failureOption(written.cause)
        if (Option.isSome(failure) && failure.value._tag === "FileError") {
          yield* log.error(`${requestLine}: reading the file failed mid-response`, written.cause)
          return "file read failed"
        }
        return Option.isSome(failure) && failure.value._tag === "WriteStalled" ? "reader stalled" : "write failed"
      }
      if (!keepAlive) {
        // a body left unread: drain it a moment so the peer sees the response, not a reset
        if (!complete) yield* lingeringClose
        else yield* Effect.ignore(Effect.timeout(conn.end, Duration.millis(limits.writeTimeoutMs)))
        return ctx.draining() ? "server shutting down" : "not persistent"
      }
      if (ctx.draining()) return "server shutting down"
    }
  })

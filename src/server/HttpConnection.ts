import { Cause, type Chunk, Clock, Duration, Effect, Exit, Option, Stream } from "effect"
import type { FileError } from "../files/StaticFiles.ts"
import type { HttpParseError } from "../http/errors.ts"
import { Headers } from "../http/Headers.ts"
import type { RequestHead } from "../http/message.ts"
import { RequestParser } from "../http/RequestParser.ts"
import { serializeResponseHead } from "../http/serialize.ts"
import type { Connection } from "../net/Connection.ts"
import type { SocketError } from "../net/errors.ts"
import { type AccessEntry, AccessLog } from "./AccessLog.ts"
import * as ServerResponse from "./ServerResponse.ts"
import type { Watchdogs } from "./Watchdog.ts"

/** Per-connection limits, in milliseconds and counts. */
export interface ConnectionLimits {
  /** The whole header section (and a discarded body) must arrive within this: 408 otherwise. */
  readonly headerTimeoutMs: number
  /** Between requests on a persistent connection: closed quietly after this. */
  readonly keepAliveTimeoutMs: number
  /**
   * A response whose peer takes no byte during a whole period this long has a
   * stalled reader: closed (between one and two periods after the last byte moved).
   */
  readonly writeTimeoutMs: number
  /** Requests served on one connection before it is closed. */
  readonly maxRequests: number
}

/** Request bodies up to this size are read and discarded; larger ones close the connection after the response. */
const MAX_DISCARDED_BODY = 1024 * 1024
/** After an error response, unread request bytes are drained this long so the peer reads the response, not a reset. */
const LINGER_MS = 1000
/** During shutdown, a response whose peer takes no byte for this long has a client that will not read: give up on it. */
export const SHUTDOWN_STALL_MS = 500

/**
 * What the server sees of a connection while it runs: whether it is between
 * requests (safe to interrupt at shutdown) or writing a response (given the
 * grace period to finish).
 */
export interface ConnectionState {
  phase: "reading" | "responding"
  /**
   * Called when the server starts shutting down: from then on a response
   * whose bytes stop moving for SHUTDOWN_STALL_MS ends the connection, so a
   * client that never reads does not hold the exit for the whole grace period
   * (one that reads, however slowly, gets all of it).
   */
  onDrain?: () => Effect.Effect<void>
}

export interface ConnectionContext {
  readonly limits: ConnectionLimits
  /** The server's deadlines: this connection's timeouts are one entry there, not a fiber. */
  readonly watchdogs: Watchdogs
  readonly handler: ServerResponse.Handler
  /** The connection fiber's id ("#42"), for logs. */
  readonly fiber: string
  /** The owner, for traces. */
  readonly parent: string
  readonly state: ConnectionState
  /** True once the server is shutting down: finish the current response, then close. */
  readonly draining: () => boolean
}

const EMPTY = new Uint8Array(0)

/** Bodies up to this size are copied behind their head and written with it at once; larger ones follow it. */
const COALESCE_LIMIT = 64 * 1024

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * Whether `bytes` hold more than line breaks. Empty lines before a request
 * line are ignored (RFC 9112 section 2.2; some clients send a CRLF after a
 * body): they do not start a request, its header timeout, or a 408.
 */
const startsRequest = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 13 && bytes[i] !== 10) return true
  return false
}

/** Whether a body of unknown length goes out chunked: to HTTP/1.1 clients (HTTP/1.0 ones read until close). */
const chunked = (head: RequestHead | undefined): boolean => head !== undefined && head.version.minor >= 1

const CRLF = new Uint8Array([13, 10])
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n")

/** One chunk of a chunked body: size in hex, CRLF, the bytes, CRLF (RFC 9112 7.1), in one buffer for one write. */
const frameChunk = (chunk: Uint8Array): Uint8Array => {
  const size = new TextEncoder().encode(`${chunk.length.toString(16)}\r\n`)
  const framed = new Uint8Array(size.length + chunk.length + 2)
  framed.set(size)
  framed.set(chunk, size.length)
  framed.set(CRLF, size.length + chunk.length)
  return framed
}

/** How reading the next request ended. */
type ReadOutcome =
  /** `complete`: the body (if any) was read and discarded, so the connection may be reused. */
  | { readonly _tag: "Request"; readonly head: RequestHead; readonly complete: boolean; readonly startedAt: Instant }
  /** The peer finished or failed: close without a response. */
  | { readonly _tag: "Closed"; readonly reason: string }
  /** The watchdog fired while waiting: it answers or closes; the loop only waits for the end. */
  | { readonly _tag: "Expired" }
  | {
    readonly _tag: "Invalid"
    readonly error: HttpParseError
    readonly startedAt: Instant
    /** The request line, when it was read before the input was refused. */
    readonly requestLine: string | undefined
  }

/** A moment on both clocks: the monotonic one for deadlines and durations, the wall clock for what is shown. */
interface Instant {
  readonly monotonic: number
  readonly wall: number
}

/** What a connection's watchdog guards: a read (idle or mid-request), a write, or the drain after an error. */
type Wait = "read" | "write" | "linger"

/**
 * Serves requests on one connection until it should close: the persistence
 * rules of RFC 9112 section 9, pipelined requests one at a time in order, and
 * the header, keep-alive and write timeouts. Never fails; returns why it
 * stopped. The caller owns the connection and destroys it afterwards.
 */
export const serveConnection = (conn: Connection, ctx: ConnectionContext): Effect.Effect<string, never, AccessLog> =>
  Effect.gen(function*() {
    const log = yield* AccessLog
    const clock = yield* Effect.clock
    const { limits } = ctx
    const parser = new RequestParser()
    /** For deadlines and durations: milliseconds, sub-millisecond precise, never stepped (the live clock's hrtime). */
    const monotonic = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    /** For what people and peers see (Date headers, log times): the wall clock, as it is now. */
    const wall = () => clock.unsafeCurrentTimeMillis()
    const instant = (): Instant => ({ monotonic: monotonic(), wall: wall() })
    /** Bytes read but not yet consumed by the parser (a partial message, or pipelined requests). */
    let pending: Uint8Array = EMPTY
    let served = 0
    /** When the current request's first byte arrived (the parser keeps partial lines itself). */
    let startedAt: Instant | undefined
    const acceptedAt = monotonic()

    const accessEntry = (begun: Instant, requestLine: string, status: number, bytes: number): AccessEntry => ({
      time: new Date(begun.wall),
      remoteAddress: conn.remoteAddress,
      remotePort: conn.remotePort,
      connection: conn.id,
      fiber: ctx.fiber,
      requestLine,
      status,
      bytes,
      durationMs: monotonic() - begun.monotonic
    })

    /** The header section did not arrive in time: 408, a moment to read it, then the end. */
    const headerTimeout = (begun: Instant) =>
      Effect.gen(function*() {
        const { bodyLength, bytes } = ServerResponse.encodeClosingError(408, wall())
        const sent = yield* Effect.either(
          Effect.timeout(Effect.zipRight(conn.write(bytes), conn.end), Duration.millis(limits.writeTimeoutMs))
        )
        if (log.logsRequests) yield* log.request(accessEntry(begun, "-", 408, sent._tag === "Right" ? bodyLength : 0))
        yield* Clock.sleep(Duration.millis(LINGER_MS))
        yield* conn.destroy
      })

    const watchdog = ctx.watchdogs.make<Wait>(
      (wait) => (wait === "read" && startedAt !== undefined ? headerTimeout(startedAt) : conn.destroy)
    )

    /**
     * A write (or end) fails as stalled only after a whole period in which the
     * peer took no byte of it (see Watchdog): a slow reader that keeps reading
     * is served. Armed before the write is issued: bytesFlushed leaves out what
     * a write takes at once, so only the peer's reading counts as progress.
     * While the server shuts down the period is SHUTDOWN_STALL_MS, and the
     * first write guarded then samples the peer's unacknowledged bytes at once,
     * so that a client that does not read is given up one such period later.
     */
    let sampledForDrain = false
    const guardWrite = () => {
      if (!ctx.draining()) return watchdog.armWhileMoving(limits.writeTimeoutMs, "write", conn)
      const armed = watchdog.armWhileMoving(Math.min(limits.writeTimeoutMs, SHUTDOWN_STALL_MS), "write", conn)
      if (sampledForDrain) return armed
      sampledForDrain = true
      return Effect.zipRight(armed, watchdog.sampleNow)
    }
    /** Whether a write (or end) is waiting on the peer now. */
    let writing = false
    const write = (chunk: Uint8Array) =>
      Effect.suspend(() => {
        writing = true
        return Effect.zipRight(guardWrite(), conn.write(chunk))
      }).pipe(Effect.map(() => void (writing = false)))
    ctx.state.onDrain = () => (writing ? guardWrite() : Effect.void)

    /** Reads until one request's head has arrived and its body has been discarded. */
    const readRequest: Effect.Effect<ReadOutcome> = Effect.gen(function*() {
      let head: RequestHead | undefined
      let ended = false
      let discarded = 0
      const first = served === 0
      startedAt = startsRequest(pending) ? instant() : undefined
      while (true) {
        if (pending.length > 0) {
          const result = parser.execute(pending)
          // all consumed: let the read buffer go rather than keep it alive while the connection idles
          pending = result.consumed === pending.length ? EMPTY : pending.subarray(result.consumed)
          for (const event of result.events) {
            if (event._tag === "Head") head = event.head
            else if (event._tag === "Body") discarded += event.chunk.length
            else ended = true
          }
          if (result.error !== undefined) {
            watchdog.disarm()
            return { _tag: "Invalid", error: result.error, startedAt: startedAt!, requestLine: parser.requestLine }
          }
          if (head !== undefined) {
            // the response does not depend on the body: answer once it is gone, or at once when
            // the client waits for 100-continue or sends more than is worth reading
            const complete = ended
            if (complete || head.headers.hasToken("Expect", "100-continue") || discarded > MAX_DISCARDED_BODY) {
              watchdog.disarm()
              return { _tag: "Request", head, complete, startedAt: startedAt! }
            }
          }
          if (result.consumed > 0 && pending.length > 0) continue
        }
        // The header timeout runs from the accept on a new connection, from the first byte after that.
        const from = first ? acceptedAt : startedAt?.monotonic
        yield* watchdog.arm(
          from === undefined ? watchdog.now() + limits.keepAliveTimeoutMs : from + limits.headerTimeoutMs,
          "read"
        )
        const chunk = yield* Effect.either(conn.read)
        // From here to the next yield nothing else runs: the watchdog either fired before, or not at all.
        if (watchdog.expired() !== undefined) return { _tag: "Expired" }
        if (chunk._tag === "Left") return { _tag: "Closed", reason: `read failed: ${chunk.left.message}` }
        if (Option.isNone(chunk.right)) return { _tag: "Closed", reason: "peer closed" }
        if (startedAt === undefined && startsRequest(chunk.right.value)) startedAt = instant()
        pending = concat(pending, chunk.right.value)
      }
    })

    /** The response head as bytes, with the connection's own fields. */
    const headBytesOf = (
      head: RequestHead | undefined,
      response: ServerResponse.ServerResponse,
      keepAlive: boolean
    ) => {
      const status = response.status
      const body = response.body
      const entries: Array<readonly [string, string]> = [
        ["Date", ServerResponse.dateHeader(wall())],
        ["Server", ServerResponse.SERVER],
        ...response.headers.entries
      ]
      if (status !== 204 && status !== 304) {
        const length = body._tag === "Empty" ? 0 : body._tag === "Bytes" ? body.bytes.length : body.length
        if (length !== undefined) entries.push(["Content-Length", String(length)])
        else if (chunked(head)) entries.push(["Transfer-Encoding", "chunked"])
      }
      if (!keepAlive) entries.push(["Connection", "close"])
      else if (head !== undefined && head.version.minor === 0) entries.push(["Connection", "keep-alive"])
      return serializeResponseHead({ status, headers: new Headers(entries) })
    }

    /** Writes each chunk, counting it once the transport has it; framed as a chunk of a chunked body if `framed`. */
    const writeChunks = (chunks: Chunk.Chunk<Uint8Array>, progress: { bytes: number }, framed = false) =>
      Effect.forEach(
        chunks,
        (chunk) =>
          chunk.length === 0
            ? Effect.void
            : Effect.map(write(framed ? frameChunk(chunk) : chunk), () => void (progress.bytes += chunk.length)),
        { discard: true }
      )

    /** Pulls and writes the rest of a streamed body, one pull after each write. */
    const writeRest = (
      pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<FileError>>,
      progress: { bytes: number },
      framed = false
    ): Effect.Effect<void, SocketError | FileError> =>
      Effect.flatMap(Effect.either(pull), (next) =>
        next._tag === "Left"
          ? Option.match(next.left, { onNone: () => framed ? write(LAST_CHUNK) : Effect.void, onSome: Effect.fail })
          : Effect.zipRight(writeChunks(next.right, progress, framed), writeRest(pull, progress, framed)))

    /**
     * Writes head and body, counting the body bytes sent in `progress` and
     * the status that went out in `sent`. A streamed body's first chunk is
     * read before the head is written: a file that cannot be read at all
     * (out of descriptors, removed) gets the handler's answer for that
     * instead of a 200 head cut short.
     */
    const writeResponse = (
      head: RequestHead | undefined,
      response: ServerResponse.ServerResponse,
      keepAlive: boolean,
      progress: { bytes: number },
      sent: { status: number }
    ): Effect.Effect<void, SocketError | FileError> => {
      const status = response.status
      const body = response.body
      const sendBody = status !== 204 && status !== 304 && head?.method !== "HEAD"
      sent.status = status
      if (!sendBody || body._tag === "Empty") return write(headBytesOf(head, response, keepAlive))
      if (body._tag === "Bytes") {
        const headBytes = headBytesOf(head, response, keepAlive)
        // a small body goes out with its head in one write; a large one is not copied for that
        const written = body.bytes.length <= COALESCE_LIMIT
          ? write(concat(headBytes, body.bytes))
          : Effect.zipRight(write(headBytes), write(body.bytes))
        return Effect.map(written, () => void (progress.bytes = body.bytes.length))
      }
      return Effect.scoped(
        Effect.flatMap(Stream.toPull(body.stream), (pull) =>
          Effect.flatMap(Effect.either(pull), (first) => {
            if (first._tag === "Left" && Option.isSome(first.left)) {
              const error = first.left.value
              const instead = body.unavailable?.(error) ??
                Effect.as(log.error(`reading ${error.path} failed`, Cause.fail(error)), ServerResponse.errorPage(500))
              return Effect.flatMap(instead, (other) => writeResponse(head, other, keepAlive, progress, sent))
            }
            const framed = body.length === undefined && chunked(head)
            const written = write(headBytesOf(head, response, keepAlive))
            if (first._tag === "Left") return framed ? Effect.zipRight(written, write(LAST_CHUNK)) : written
            return written.pipe(
              Effect.zipRight(writeChunks(first.right, progress, framed)),
              Effect.zipRight(writeRest(pull, progress, framed))
            )
          }))
      )
    }

    /** Sends FIN, waiting for the peer to take what is queued (as long as a write may take). */
    const end = () =>
      Effect.suspend(() => {
        writing = true
        return Effect.zipRight(guardWrite(), Effect.ignore(conn.end))
      }).pipe(Effect.map(() => void (writing = false)))

    /** Ends, then drains what the peer still sends for a moment, so it reads the response rather than a reset. */
    const lingeringClose = () =>
      Effect.gen(function*() {
        yield* end()
        yield* watchdog.arm(watchdog.now() + LINGER_MS, "linger")
        while (true) {
          const chunk = yield* Effect.either(conn.read)
          if (chunk._tag === "Left" || Option.isNone(chunk.right)) return
        }
      })

    /** After the watchdog fired: it answers or closes the connection; wait for that, discarding input. */
    const afterExpiry = () =>
      Effect.gen(function*() {
        const wait = watchdog.expired()
        const reason = wait === "write"
          ? "reader stalled"
          : startedAt !== undefined
          ? "header timeout"
          : served === 0
          ? "no request arrived"
          : "idle"
        while (true) {
          const chunk = yield* Effect.either(conn.read)
          if (chunk._tag === "Left" || Option.isNone(chunk.right)) return reason
        }
      })

    const trace = (event: "request-begun" | "request-ended", detail: string) =>
      log.tracing
        ? log.trace({
          time: new Date(wall()),
          event,
          connection: conn.id,
          fiber: ctx.fiber,
          parent: ctx.parent,
          detail
        })
        : Effect.void

    /** Answers input that is not HTTP, then closes. */
    const refuse = (status: number, begun: Instant, requestLine = "-") =>
      Effect.gen(function*() {
        ctx.state.phase = "responding"
        const progress = { bytes: 0 }
        const written = yield* writeResponse(undefined, ServerResponse.errorPage(status), false, progress, { status })
          .pipe(
            Effect.onExit(() =>
              log.logsRequests ? log.request(accessEntry(begun, requestLine, status, progress.bytes)) : Effect.void
            ),
            Effect.either
          )
        ctx.state.phase = "reading"
        if (written._tag === "Right") yield* lingeringClose()
        return `answered ${status}`
      })

    // the watchdog lets go of this connection however the loop ends
    const serve: Effect.Effect<string, never, AccessLog> = Effect.gen(function*() {
      while (true) {
        const outcome = yield* readRequest
        if (outcome._tag === "Closed") return outcome.reason
        if (outcome._tag === "Expired") return yield* afterExpiry()
        if (outcome._tag === "Invalid") {
          return yield* refuse(outcome.error.status, outcome.startedAt, outcome.requestLine)
        }

        const { complete, head } = outcome
        const begun = outcome.startedAt
        served++
        ctx.state.phase = "responding"
        const requestLine = `${head.method} ${head.target} HTTP/${head.version.major}.${head.version.minor}`
        yield* trace("request-begun", requestLine)
        // a handler that dies has a bug: answer 500 and log it once, with its cause
        const response = yield* ctx.handler(head).pipe(
          Effect.catchAllDefect((defect) =>
            Effect.as(log.error(`${requestLine}: unexpected failure`, Cause.die(defect)), ServerResponse.errorPage(500))
          )
        )
        // a body of unknown length to an HTTP/1.0 client ends with the connection
        const untilClose = response.body._tag === "Stream" && response.body.length === undefined && !chunked(head)
        const keepAlive = head.keepAlive && complete && served < limits.maxRequests && !ctx.draining() && !untilClose
        const progress = { bytes: 0 }
        const sent = { status: response.status }
        // logged however the response ends: written, failed, or interrupted at shutdown
        const written = yield* writeResponse(head, response, keepAlive, progress, sent).pipe(
          Effect.onExit((exit) =>
            Effect.zipRight(
              log.logsRequests
                ? log.request(accessEntry(begun, requestLine, sent.status, progress.bytes))
                : Effect.void,
              trace(
                "request-ended",
                `${sent.status} ${progress.bytes}B${
                  Exit.isSuccess(exit) ? "" : Exit.isInterrupted(exit) ? " interrupted" : " failed"
                }`
              )
            )
          ),
          Effect.either
        )
        ctx.state.phase = "reading"
        if (written._tag === "Left") {
          if (written.left._tag === "FileError") {
            yield* log.error(`${requestLine}: reading the file failed mid-response`, Cause.fail(written.left))
            return "file read failed"
          }
          return watchdog.expired() === "write" ? "reader stalled" : "write failed"
        }
        if (!keepAlive) {
          // a body left unread: drain it a moment so the peer sees the response, not a reset
          if (complete) yield* end()
          else yield* lingeringClose()
          return ctx.draining() ? "server shutting down" : "not persistent"
        }
        if (ctx.draining()) {
          // the response is complete: let it leave the socket before the connection is destroyed
          yield* end()
          return "server shutting down"
        }
      }
    })
    return yield* Effect.ensuring(serve, Effect.sync(() => watchdog.release()))
  })

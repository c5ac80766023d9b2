import { Cause, type Chunk, Clock, Duration, Effect, Exit, Option, Stream } from "effect"
import { exitNow, isDoneNow } from "../effectNow.ts"
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
import type { Watchdog, Watchdogs } from "./Watchdog.ts"

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
 * What a connection is doing:
 * - `idle`: waiting for a request's first byte (a new connection, or between requests);
 * - `head`: part of a request has arrived: its head is being read (and a body discarded);
 * - `responding`: the handler answers the request, then its head and body are written;
 * - `closing`: done with requests: ending after the last response, lingering after a
 *   refusal, or waiting for its watchdog to close it.
 *
 * Only `responding` is work in flight: shutdown interrupts a connection in any other phase.
 */
export type ConnectionPhase = "idle" | "head" | "responding" | "closing"

/** A moment on both clocks: the monotonic one for deadlines and durations, the wall clock for what is shown. */
export interface Instant {
  readonly monotonic: number
  readonly wall: number
}

/**
 * A connection's state: one object, owned by the connection's fiber and
 * changed in place as it goes, that the server reads at shutdown and that a
 * snapshot may copy at any moment (the fiber changes it only between its own
 * steps, so a reader on the same thread sees it consistent).
 */
export class ConnectionState {
  phase: ConnectionPhase = "idle"
  /** Requests read whole on this connection (each is answered or being answered). */
  requests = 0
  /** When the request being read or answered began (its first byte); undefined while idle. */
  begunAt: Instant | undefined = undefined
  /** The request being answered, while `responding`. */
  request: RequestHead | undefined = undefined
  /** The status of the response being written (or last written). */
  status = 0
  /** Body bytes of the response being written (or last written) that the transport has taken. */
  bytesSent = 0
  /** Whether a write (or end) is waiting for the peer to take bytes now. */
  awaitingPeer = false
  /**
   * Set by the connection; the server calls it when shutdown begins: from
   * then on a response whose bytes stop moving for SHUTDOWN_STALL_MS ends
   * the connection, so a client that never reads does not hold the exit for
   * the whole grace period (one that reads, however slowly, gets all of it).
   */
  onDrain: (() => Effect.Effect<void>) | undefined = undefined

  /** The request line being answered, while `responding` (built when asked). */
  get requestLine(): string | undefined {
    return this.request === undefined ? undefined : requestLineOf(this.request)
  }
}

const requestLineOf = (head: RequestHead): string =>
  `${head.method} ${head.target} HTTP/${head.version.major}.${head.version.minor}`

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

/** What a connection's watchdog guards: a read (idle or mid-request), a write, or the drain after an error. */
type Wait = "read" | "write" | "linger"

/**
 * Everything one connection's steps work on: what it was given, its parser
 * and watchdog, its observable state, and the bytes read but not yet parsed.
 */
interface Session {
  readonly conn: Connection
  readonly ctx: ConnectionContext
  readonly state: ConnectionState
  readonly log: AccessLog["Type"]
  readonly clock: Clock.Clock
  readonly parser: RequestParser
  readonly watchdog: Watchdog<Wait>
  /** When the connection was accepted (monotonic ms): a new connection's header timeout runs from here. */
  readonly acceptedAt: number
  /** Bytes read but not yet consumed by the parser (a partial message, or pipelined requests). */
  pending: Uint8Array
  /** The head of the request being read, once parsed (its body may still be arriving). */
  head: RequestHead | undefined
  /** Whether the request being read has ended (its body, if any, read and discarded). */
  ended: boolean
  /** Body bytes of the request being read, discarded so far. */
  discarded: number
  /** Whether a write guarded during shutdown has already sampled the peer's unacknowledged bytes. */
  sampledForDrain: boolean
  /**
   * Writes the access line of a response issued in a transport's callback
   * whose write the fiber has yet to wait for: once, by whichever comes
   * first, the end of that write or the end of the connection's fiber.
   */
  unlogged: (() => void) | undefined
}

/** For deadlines and durations: milliseconds, sub-millisecond precise, never stepped (the live clock's hrtime). */
const monotonicNow = (session: Session): number => Number(session.clock.unsafeCurrentTimeNanos()) / 1e6

/** For what people and peers see (Date headers, log times): the wall clock, as it is now. */
const wallNow = (session: Session): number => session.clock.unsafeCurrentTimeMillis()

const instantNow = (session: Session): Instant => ({ monotonic: monotonicNow(session), wall: wallNow(session) })

const accessEntry = (
  session: Session,
  begun: Instant,
  requestLine: string,
  status: number,
  bytes: number
): AccessEntry => ({
  time: new Date(begun.wall),
  remoteAddress: session.conn.remoteAddress,
  remotePort: session.conn.remotePort,
  connection: session.conn.id,
  fiber: session.ctx.fiber,
  requestLine,
  status,
  bytes,
  durationMs: monotonicNow(session) - begun.monotonic
})

/** One access line, when requests are logged. */
const logRequest = (session: Session, begun: Instant, requestLine: string, status: number, bytes: number) =>
  session.log.logsRequests
    ? session.log.request(accessEntry(session, begun, requestLine, status, bytes))
    : Effect.void

const trace = (session: Session, event: "request-begun" | "request-ended", detail: string) =>
  session.log.tracesRequests
    ? session.log.trace({
      time: new Date(wallNow(session)),
      event,
      connection: session.conn.id,
      fiber: session.ctx.fiber,
      parent: session.ctx.parent,
      detail
    })
    : Effect.void

/**
 * The header section did not arrive in time: 408, a moment to read it, then
 * the end. Logged with the request line when it had arrived whole (as nginx
 * logs its 408s), `-` otherwise.
 */
const headerTimeout = (session: Session, begun: Instant) =>
  Effect.gen(function*() {
    const { conn, ctx } = session
    session.state.phase = "closing"
    const requestLine = session.parser.requestLine ?? "-"
    const { bodyLength, bytes } = ServerResponse.encodeClosingError(408, wallNow(session))
    const sent = yield* Effect.either(
      Effect.timeout(Effect.zipRight(conn.write(bytes), conn.end), Duration.millis(ctx.limits.writeTimeoutMs))
    )
    yield* logRequest(session, begun, requestLine, 408, sent._tag === "Right" ? bodyLength : 0)
    yield* Clock.sleep(Duration.millis(LINGER_MS))
    yield* conn.destroy
  })

/** What the watchdog does when a wait expires: a request begun and not read in time gets a 408; else the end. */
const onExpiry = (session: Session, wait: Wait) => {
  const begun = session.state.begunAt
  return wait === "read" && begun !== undefined ? headerTimeout(session, begun) : session.conn.destroy
}

/**
 * A write (or end) fails as stalled only after a whole period in which the
 * peer took no byte of it (see Watchdog): a slow reader that keeps reading
 * is served. Armed before the write is issued: bytesFlushed leaves out what
 * a write takes at once, so only the peer's reading counts as progress.
 * While the server shuts down the period is SHUTDOWN_STALL_MS, and the
 * first write guarded then samples the peer's unacknowledged bytes at once,
 * so that a client that does not read is given up one such period later.
 */
const guardWrite = (session: Session) => {
  const { conn, ctx, watchdog } = session
  if (!ctx.draining()) return watchdog.armWhileMoving(ctx.limits.writeTimeoutMs, "write", conn)
  const armed = watchdog.armWhileMoving(Math.min(ctx.limits.writeTimeoutMs, SHUTDOWN_STALL_MS), "write", conn)
  if (session.sampledForDrain) return armed
  session.sampledForDrain = true
  return Effect.zipRight(armed, watchdog.sampleNow)
}

/** Runs `io` (a write or an end) as waiting on the peer, guarded by the write timeout. */
const awaitingPeer = <E>(session: Session, io: Effect.Effect<void, E>): Effect.Effect<void, E> =>
  Effect.suspend(() => {
    session.state.awaitingPeer = true
    return Effect.zipRight(guardWrite(session), io)
  }).pipe(Effect.map(() => void (session.state.awaitingPeer = false)))

/**
 * Issues a write now: an Exit when the transport took it at once (no guard
 * needed); else the wait for it, guarded by the write timeout, armed in the
 * same step as the write was issued (what the write took at once is not
 * counted as the peer's progress either way).
 */
const writeNow = (session: Session, chunk: Uint8Array): Effect.Effect<void, SocketError> => {
  const written = session.conn.writeNow(chunk)
  return exitNow(written) ?? awaitingPeer(session, written)
}

const write = (session: Session, chunk: Uint8Array) => Effect.suspend(() => writeNow(session, chunk))

/** Sends FIN, waiting for the peer to take what is queued (as long as a write may take). */
const end = (session: Session) => awaitingPeer(session, Effect.ignore(session.conn.end))

/**
 * Ends the connection for good after a complete exchange (nothing left
 * unread): an Exit when the transport closed it at once, else the wait for
 * what it still holds, guarded as a write.
 */
const close = (session: Session): Effect.Effect<void> => {
  const closed = session.conn.closeNow()
  return exitNow(closed) ?? awaitingPeer(session, closed)
}

/** Ends, then drains what the peer still sends for a moment, so it reads the response rather than a reset. */
const lingeringClose = (session: Session) =>
  Effect.gen(function*() {
    session.state.phase = "closing"
    yield* end(session)
    yield* session.watchdog.arm(session.watchdog.now() + LINGER_MS, "linger")
    while (true) {
      const chunk = yield* Effect.either(session.conn.read)
      if (chunk._tag === "Left" || Option.isNone(chunk.right)) return
    }
  })

/** After the watchdog fired: it answers or closes the connection; wait for that, discarding input. */
const afterExpiry = (session: Session) =>
  Effect.gen(function*() {
    const { state } = session
    const wait = session.watchdog.expired()
    const reason = wait === "write"
      ? "reader stalled"
      : state.begunAt !== undefined
      ? "header timeout"
      : state.requests === 0
      ? "no request arrived"
      : "idle"
    state.phase = "closing"
    while (true) {
      const chunk = yield* Effect.either(session.conn.read)
      if (chunk._tag === "Left" || Option.isNone(chunk.right)) return reason
    }
  })

/** Starts reading the next request: pipelined bytes already read may hold its start. */
const beginRequest = (session: Session): void => {
  const { state } = session
  session.head = undefined
  session.ended = false
  session.discarded = 0
  state.request = undefined
  state.begunAt = startsRequest(session.pending) ? instantNow(session) : undefined
  state.phase = state.begunAt === undefined ? "idle" : "head"
}

/** A request read whole (or far enough to answer), or input refused. */
type Parsed =
  /** `complete`: the body (if any) was read and discarded, so the connection may be reused. */
  | { readonly _tag: "Request"; readonly head: RequestHead; readonly complete: boolean; readonly begunAt: Instant }
  | {
    readonly _tag: "Invalid"
    readonly error: HttpParseError
    readonly begunAt: Instant
    /** The request line, when it was read before the input was refused. */
    readonly requestLine: string | undefined
  }

/**
 * Parses the bytes at hand, synchronously: the next request once its head
 * has arrived and its body has been discarded; undefined when more bytes
 * are needed.
 */
const parsePending = (session: Session): Parsed | undefined => {
  const { parser, state, watchdog } = session
  while (session.pending.length > 0) {
    const pending = session.pending
    const result = parser.execute(pending)
    // all consumed: let the read buffer go rather than keep it alive while the connection idles
    session.pending = result.consumed === pending.length ? EMPTY : pending.subarray(result.consumed)
    for (const event of result.events) {
      if (event._tag === "Head") session.head = event.head
      else if (event._tag === "Body") session.discarded += event.chunk.length
      else session.ended = true
    }
    if (result.error !== undefined) {
      watchdog.disarm()
      return { _tag: "Invalid", error: result.error, begunAt: state.begunAt!, requestLine: parser.requestLine }
    }
    const head = session.head
    if (head !== undefined) {
      // the response does not depend on the body: answer once it is gone, or at once when
      // the client waits for 100-continue or sends more than is worth reading
      const complete = session.ended
      if (complete || head.headers.hasToken("Expect", "100-continue") || session.discarded > MAX_DISCARDED_BODY) {
        watchdog.disarm()
        return { _tag: "Request", head, complete, begunAt: state.begunAt! }
      }
    }
    if (result.consumed === 0) break
  }
  return undefined
}

/** The read deadline for the wait ahead: the header timeout, from the accept on a new connection and from the first byte after that; else the keep-alive timeout. */
const readDeadline = (session: Session): number => {
  const { ctx, state, watchdog } = session
  const from = state.requests === 0 ? session.acceptedAt : state.begunAt?.monotonic
  return from === undefined ? watchdog.now() + ctx.limits.keepAliveTimeoutMs : from + ctx.limits.headerTimeoutMs
}

/** How a wait for bytes ended without more to serve: the peer closed or failed (a reason), or the watchdog fired. */
const waitEnded = (session: Session, reason: string): Effect.Effect<string> => {
  if (session.watchdog.expired() !== undefined) return afterExpiry(session)
  session.state.phase = "closing"
  return Effect.succeed(reason)
}

/**
 * Waits for bytes under the read deadline and serves what they hold. The
 * bytes are taken in the transport's callback as they arrive and served
 * there, synchronously, as far as they go (see serveAtHand): a request
 * answered at once costs no Effect step, and the wait goes on. It ends with
 * what must run in the fiber: a response that waits, a refusal, the end.
 */
const awaitBytes = (session: Session): Effect.Effect<string> => {
  const { conn, state, watchdog } = session
  const consume = (chunk: Option.Option<Uint8Array>): Effect.Effect<string> | undefined => {
    // Nothing else runs during this callback: the watchdog either fired before, or not at all.
    if (watchdog.expired() !== undefined) return afterExpiry(session)
    if (Option.isNone(chunk)) return waitEnded(session, "peer closed")
    if (state.begunAt === undefined && startsRequest(chunk.value)) {
      state.begunAt = instantNow(session)
      state.phase = "head"
    }
    session.pending = concat(session.pending, chunk.value)
    const next = serveAtHand(session)
    if (next !== undefined) return next
    const arming = watchdog.armNow(readDeadline(session), "read")
    return arming === Effect.void ? undefined : Effect.zipRight(arming, serveRequests(session))
  }
  const arming = watchdog.armNow(readDeadline(session), "read")
  const waiting = Effect.matchEffect(conn.readWith(consume), {
    onFailure: (error) => waitEnded(session, `read failed: ${error.message}`),
    onSuccess: (next) => next
  })
  return arming === Effect.void ? waiting : Effect.zipRight(arming, waiting)
}

/** The response head as bytes, with the connection's own fields. */
const headBytesOf = (
  session: Session,
  head: RequestHead | undefined,
  response: ServerResponse.ServerResponse,
  keepAlive: boolean
) => {
  const status = response.status
  const body = response.body
  const entries: Array<readonly [string, string]> = [
    ["Date", ServerResponse.dateHeader(wallNow(session))],
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
const writeChunks = (session: Session, chunks: Chunk.Chunk<Uint8Array>, framed: boolean) =>
  Effect.forEach(
    chunks,
    (chunk) =>
      chunk.length === 0
        ? Effect.void
        : Effect.map(
          write(session, framed ? frameChunk(chunk) : chunk),
          () => void (session.state.bytesSent += chunk.length)
        ),
    { discard: true }
  )

/** Pulls and writes the rest of a streamed body, one pull after each write. */
const writeRest = (
  session: Session,
  pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<FileError>>,
  framed: boolean
): Effect.Effect<void, SocketError | FileError> =>
  Effect.flatMap(Effect.either(pull), (next) =>
    next._tag === "Left"
      ? Option.match(next.left, {
        onNone: () => framed ? write(session, LAST_CHUNK) : Effect.void,
        onSome: Effect.fail
      })
      : Effect.zipRight(writeChunks(session, next.right, framed), writeRest(session, pull, framed)))

/**
 * Writes head and body, counting the body bytes sent and the status that
 * went out in the connection's state. A streamed body's first chunk is read
 * before the head is written: a file that cannot be read at all (out of
 * descriptors, removed) gets the handler's answer for that instead of a 200
 * head cut short.
 */
const writeResponse = (
  session: Session,
  head: RequestHead | undefined,
  response: ServerResponse.ServerResponse,
  keepAlive: boolean
): Effect.Effect<void, SocketError | FileError> => {
  const { state } = session
  const status = response.status
  const body = response.body
  const sendBody = status !== 204 && status !== 304 && head?.method !== "HEAD"
  state.status = status
  if (!sendBody || body._tag === "Empty") return write(session, headBytesOf(session, head, response, keepAlive))
  if (body._tag === "Bytes") {
    const headBytes = headBytesOf(session, head, response, keepAlive)
    // a small body goes out with its head in one write; a large one is not copied for that
    const written = body.bytes.length <= COALESCE_LIMIT
      ? write(session, concat(headBytes, body.bytes))
      : Effect.zipRight(write(session, headBytes), write(session, body.bytes))
    return Effect.map(written, () => void (state.bytesSent = body.bytes.length))
  }
  return Effect.scoped(
    Effect.flatMap(Stream.toPull(body.stream), (pull) =>
      Effect.flatMap(Effect.either(pull), (first) => {
        if (first._tag === "Left" && Option.isSome(first.left)) {
          const error = first.left.value
          const instead = body.unavailable?.(error) ??
            Effect.as(
              session.log.error(`reading ${error.path} failed`, Cause.fail(error)),
              ServerResponse.errorPage(500)
            )
          return Effect.flatMap(instead, (other) => writeResponse(session, head, other, keepAlive))
        }
        const framed = body.length === undefined && chunked(head)
        const written = write(session, headBytesOf(session, head, response, keepAlive))
        if (first._tag === "Left") return framed ? Effect.zipRight(written, write(session, LAST_CHUNK)) : written
        return written.pipe(
          Effect.zipRight(writeChunks(session, first.right, framed)),
          Effect.zipRight(writeRest(session, pull, framed))
        )
      }))
  )
}

/** Answers input that is not HTTP, then closes. */
const refuse = (session: Session, status: number, begun: Instant, requestLine = "-") =>
  Effect.gen(function*() {
    const { state } = session
    state.phase = "responding"
    state.request = undefined
    state.bytesSent = 0
    const written = yield* writeResponse(session, undefined, ServerResponse.errorPage(status), false).pipe(
      Effect.onExit(() => logRequest(session, begun, requestLine, status, state.bytesSent)),
      Effect.either
    )
    state.phase = "closing"
    if (written._tag === "Right") yield* lingeringClose(session)
    return `answered ${status}`
  })

/** What became of a request once answered: serve the next one, or end with a reason. */
type Answered = { readonly _tag: "Next" } | { readonly _tag: "Done"; readonly reason: string }
const NEXT: Answered = { _tag: "Next" }
const NEXT_NOW = Exit.succeed(NEXT)
const done = (reason: string): Answered => ({ _tag: "Done", reason })

/** Whether the connection stays open after this response (RFC 9112 section 9.3). */
const keepsAlive = (
  session: Session,
  head: RequestHead,
  complete: boolean,
  response: ServerResponse.ServerResponse
) => {
  const { ctx, state } = session
  // a body of unknown length to an HTTP/1.0 client ends with the connection
  const untilClose = response.body._tag === "Stream" && response.body.length === undefined && !chunked(head)
  return head.keepAlive && complete && state.requests < ctx.limits.maxRequests && !ctx.draining() && !untilClose
}

/**
 * After a response was written (or failed): the next request, or the end
 * (FIN, or a lingering close when the request's body was left unread). An
 * Exit when nothing is left to wait for.
 */
const afterResponse = (
  session: Session,
  head: RequestHead,
  complete: boolean,
  keepAlive: boolean,
  written: Exit.Exit<void, SocketError | FileError>
): Effect.Effect<Answered> => {
  const { ctx, log, state } = session
  state.request = undefined
  if (Exit.isFailure(written)) {
    state.phase = "closing"
    const failure = Cause.failureOption(written.cause)
    if (Option.isSome(failure) && failure.value._tag === "FileError") {
      return Effect.as(
        log.error(`${requestLineOf(head)}: reading the file failed mid-response`, Cause.fail(failure.value)),
        done("file read failed")
      )
    }
    return Exit.succeed(done(session.watchdog.expired() === "write" ? "reader stalled" : "write failed"))
  }
  if (!keepAlive) {
    state.phase = "closing"
    const reason = done(ctx.draining() ? "server shutting down" : "not persistent")
    // Bytes that arrive after close(2) are answered with a reset, which discards what the peer has not
    // read yet (RFC 9112 section 9.6). They will when a body was left unread, when bytes after the request
    // arrived already, and may when the peer asked to keep the connection (the request limit) and pipelines:
    // then drain a moment, so that the peer reads the response.
    if (!complete || session.pending.length > 0 || (head.keepAlive && !ctx.draining())) {
      return Effect.as(lingeringClose(session), reason)
    }
    return closeThen(session, reason)
  }
  if (ctx.draining()) {
    state.phase = "closing"
    // the response is complete: let it leave the socket before the connection is destroyed
    return closeThen(session, done("server shutting down"))
  }
  return NEXT_NOW
}

/** Closes (see `close`), then answers `reason`: an Exit when the close was done at once. */
const closeThen = (session: Session, reason: Answered): Effect.Effect<Answered> => {
  const closed = close(session)
  return Exit.isExit(closed) ? Exit.succeed(reason) : Effect.as(closed, reason)
}

/** A response's head and in-memory body as sent, for one kind of request, at one second of the wall clock. */
interface Serialized {
  readonly second: number
  /** By `variantOf`. */
  readonly bytes: Array<Uint8Array | undefined>
}

/**
 * Responses a handler hands out again and again (a cached file's, a shared
 * error page) are serialized once per second and per variant: only `Date`
 * changes, once a second, by the wall clock. The bytes are never changed in
 * place (a write still pending may hold them): a new second gets new ones.
 */
const serialized = new WeakMap<ServerResponse.ServerResponse, Serialized>()

/** The parts of the request a response's bytes depend on: persistence, HTTP/1.0, whether the body is sent. */
const variantOf = (head: RequestHead, keepAlive: boolean, sendBody: boolean): number =>
  (keepAlive ? 1 : 0) | (head.version.minor === 0 ? 2 : 0) | (sendBody ? 4 : 0)

/** Head and (when sent) body of a response with an in-memory body, as one buffer. */
const responseBytes = (
  session: Session,
  head: RequestHead,
  response: ServerResponse.ServerResponse,
  keepAlive: boolean,
  sendBody: boolean,
  body: Uint8Array
): Uint8Array => {
  const second = Math.floor(wallNow(session) / 1000)
  let known = serialized.get(response)
  if (known === undefined || known.second !== second) {
    known = { second, bytes: [] }
    serialized.set(response, known)
  }
  const variant = variantOf(head, keepAlive, sendBody)
  let bytes = known.bytes[variant]
  if (bytes === undefined) {
    const headBytes = headBytesOf(session, head, response, keepAlive)
    bytes = sendBody ? concat(headBytes, body) : headBytes
    known.bytes[variant] = bytes
  }
  return bytes
}

/**
 * Answers without an Effect step when it can: the handler answered at once
 * (an Exit) with a body in memory, small enough to go out with its head in
 * one write. The write is issued now; when the transport takes it at once,
 * the access line is written and the result is an Exit. undefined when the
 * response needs the general path.
 */
const answerNow = (
  session: Session,
  head: RequestHead,
  complete: boolean,
  begun: Instant,
  response: ServerResponse.ServerResponse
): Effect.Effect<Answered> | undefined => {
  const { log, state } = session
  const body = response.body
  if (body._tag === "Stream") return undefined
  const status = response.status
  const bodyBytes = body._tag === "Bytes" ? body.bytes : EMPTY
  if (bodyBytes.length > COALESCE_LIMIT) return undefined
  const sendBody = status !== 204 && status !== 304 && head.method !== "HEAD" && bodyBytes.length > 0
  const keepAlive = keepsAlive(session, head, complete, response)
  state.status = status
  const written = writeNow(session, responseBytes(session, head, response, keepAlive, sendBody, bodyBytes))
  const sent = sendBody ? bodyBytes.length : 0
  const writtenNow = exitNow(written)
  if (writtenNow !== undefined) {
    if (Exit.isSuccess(writtenNow)) state.bytesSent = sent
    if (log.logsRequests) {
      log.requestNow(accessEntry(session, begun, requestLineOf(head), status, state.bytesSent))
    }
    return afterResponse(session, head, complete, keepAlive, writtenNow)
  }
  // the transport takes it later: logged however that ends (written, failed, interrupted at shutdown,
  // even before the fiber got to wait for it: see serveConnection)
  const logOnce = () => {
    if (session.unlogged !== logOnce) return
    session.unlogged = undefined
    if (log.logsRequests) log.requestNow(accessEntry(session, begun, requestLineOf(head), status, state.bytesSent))
  }
  session.unlogged = logOnce
  return Effect.flatMap(
    Effect.exit(Effect.onExit(
      Effect.map(written, () => void (state.bytesSent = sent)),
      () => Effect.sync(logOnce)
    )),
    (exit) => afterResponse(session, head, complete, keepAlive, exit)
  )
}

/** Answers a request through Effect: the handler's effect run, any body (streamed or not) written, with traces. */
const answerInEffect = (
  session: Session,
  head: RequestHead,
  complete: boolean,
  begun: Instant,
  handled: Effect.Effect<ServerResponse.ServerResponse>
): Effect.Effect<Answered> =>
  Effect.gen(function*() {
    const { log, state } = session
    const requestLine = requestLineOf(head)
    // a handler that dies has a bug: answer 500 and log it once, with its cause
    const response = yield* handled.pipe(
      Effect.catchAllDefect((defect) =>
        Effect.as(log.error(`${requestLine}: unexpected failure`, Cause.die(defect)), ServerResponse.errorPage(500))
      )
    )
    const keepAlive = keepsAlive(session, head, complete, response)
    state.status = response.status
    // logged however the response ends: written, failed, or interrupted at shutdown
    const written = yield* writeResponse(session, head, response, keepAlive).pipe(
      Effect.onExit((exit) =>
        Effect.zipRight(
          logRequest(session, begun, requestLine, state.status, state.bytesSent),
          trace(
            session,
            "request-ended",
            `${state.status} ${state.bytesSent}B${
              Exit.isSuccess(exit) ? "" : Exit.isInterrupted(exit) ? " interrupted" : " failed"
            }`
          )
        )
      ),
      Effect.exit
    )
    return yield* afterResponse(session, head, complete, keepAlive, written)
  })

/**
 * Answers one request read whole: runs the handler, writes the response,
 * logs it, then keeps or ends the connection. A cached file's request is
 * answered synchronously (see answerNow): the result is then an Exit.
 */
const answer = (session: Session, head: RequestHead, complete: boolean, begun: Instant): Effect.Effect<Answered> => {
  const { ctx, log, state } = session
  state.requests++
  state.phase = "responding"
  state.request = head
  state.bytesSent = 0
  if (log.tracesRequests) {
    return Effect.zipRight(
      trace(session, "request-begun", requestLineOf(head)),
      Effect.suspend(() => answerInEffect(session, head, complete, begun, ctx.handler(head)))
    )
  }
  const handled = ctx.handler(head)
  if (isDoneNow(handled)) {
    const now = answerNow(session, head, complete, begun, handled.value)
    if (now !== undefined) return now
  }
  return answerInEffect(session, head, complete, begun, handled)
}

/**
 * Serves what the bytes at hand hold, synchronously as far as it goes
 * (pipelined requests for cached files take no Effect step each): undefined
 * when it needs more bytes, else the effect that goes on from there (a
 * response that must wait, a refusal, the end) and returns why the
 * connection stopped.
 */
const serveAtHand = (session: Session): Effect.Effect<string> | undefined => {
  while (true) {
    const parsed = parsePending(session)
    if (parsed === undefined) return undefined
    if (parsed._tag === "Invalid") return refuse(session, parsed.error.status, parsed.begunAt, parsed.requestLine)
    const answering = answer(session, parsed.head, parsed.complete, parsed.begunAt)
    const answered = exitNow(answering)
    if (answered === undefined) {
      return Effect.flatMap(answering, (next) => {
        if (next._tag === "Done") return Effect.succeed(next.reason)
        beginRequest(session)
        return serveRequests(session)
      })
    }
    // answers never fail: a failure here is a defect, or an interruption, passed on as it is
    if (Exit.isFailure(answered)) return Exit.failCause(answered.cause)
    if (answered.value._tag === "Done") return Effect.succeed(answered.value.reason)
    beginRequest(session)
  }
}

/**
 * Requests one after the other until the connection should close; returns
 * why it stopped. Whatever the bytes at hand hold is served synchronously;
 * then the wait for more serves them as they arrive (see awaitBytes). The
 * fiber takes a step only for what must wait.
 */
const serveRequests = (session: Session): Effect.Effect<string> =>
  Effect.suspend(() => serveAtHand(session) ?? awaitBytes(session))

/**
 * Serves requests on one connection until it should close: the persistence
 * rules of RFC 9112 section 9, pipelined requests one at a time in order, and
 * the header, keep-alive and write timeouts. Never fails; returns why it
 * stopped. The caller owns the connection and destroys it afterwards.
 */
export const serveConnection = (conn: Connection, ctx: ConnectionContext): Effect.Effect<string, never, AccessLog> =>
  Effect.flatMap(AccessLog, (log) =>
    Effect.flatMap(Effect.clock, (clock) => {
      const session: Session = {
        conn,
        ctx,
        state: ctx.state,
        log,
        clock,
        parser: new RequestParser(),
        // replaced at once: the watchdog's action needs the session
        watchdog: undefined as unknown as Watchdog<Wait>,
        acceptedAt: Number(clock.unsafeCurrentTimeNanos()) / 1e6,
        pending: EMPTY,
        head: undefined,
        ended: false,
        discarded: 0,
        sampledForDrain: false,
        unlogged: undefined
      }
      ;(session as { watchdog: Watchdog<Wait> }).watchdog = ctx.watchdogs.make<Wait>((wait) => onExpiry(session, wait))
      ctx.state.onDrain = () => (ctx.state.awaitingPeer ? guardWrite(session) : Effect.void)
      // the watchdog lets go of this connection however the loop ends
      return Effect.ensuring(
        Effect.zipRight(Effect.sync(() => beginRequest(session)), serveRequests(session)),
        Effect.sync(() => {
          session.unlogged?.()
          session.watchdog.release()
        })
      )
    }))

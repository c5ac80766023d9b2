import { Cause, Effect, Exit, Fiber, Option, Stream } from "effect"
import { HttpParseError } from "../http/errors.ts"
import type { Headers } from "../http/Headers.ts"
import type { ParseResult, ResponseHead } from "../http/message.ts"
import { ResponseParser } from "../http/ResponseParser.ts"
import type { Connection } from "../net/Connection.ts"
import type { Span } from "../net/Connector.ts"
import {
  EmptyReply,
  type LocalIoError,
  MalformedResponse,
  ReceiveError,
  SendError,
  TruncatedResponse
} from "./errors.ts"
import type { RequestBody } from "./RequestSpec.ts"

/**
 * Where a response body goes, chunk by chunk (stdout, a file, a counter).
 * The chunk is the sink's only until its effect completes (the connection
 * reads into the same memory next): a sink that keeps bytes copies them.
 */
export type BodySink<E = never, R = never> = (chunk: Uint8Array) => Effect.Effect<void, E, R>

/**
 * The instants of one exchange, on the connection's clock (nanoseconds),
 * each taken by the transport where it happened: just before the request's
 * first write, when its last byte was handed to the kernel, when the first
 * response byte arrived.
 */
export interface ExchangeInstants {
  readonly startedAt: bigint
  readonly sentAt: bigint
  readonly firstByteAt: bigint
}

/** One request and its response on an open connection. */
export interface ExchangeResult extends ExchangeInstants {
  readonly head: ResponseHead
  readonly trailers: Headers
  readonly bodyBytes: number
  /** When the response's last byte (or the close that ended it) arrived. */
  readonly doneAt: bigint
  /** The connection may carry the next request: both sides keep it alive and nothing extra arrived. */
  readonly reusable: boolean
}

/** Bytes of a read the parser gets at once while no final head has arrived. */
const HEAD_SLICE = 16 * 1024

/**
 * A flood of interim (1xx) heads is parsed from data already read, so the
 * fiber never waits and the event loop never gets to the timers of
 * --max-time and --connect-timeout (Effect's own yields are microtasks):
 * after this many interim heads the exchange lets the event loop turn once.
 */
const INTERIMS_PER_TURN = 64

/** Resumes after one turn of the event loop (its timers included), not in a microtask. */
const turnOfEventLoop = Effect.async<void>((resume) => {
  const immediate = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(immediate))
})

/** Every response begins with these bytes (RFC 9112 section 4: HTTP-name is case-sensitive). */
const HTTP_NAME = new Uint8Array([0x48, 0x54, 0x54, 0x50, 0x2f])

/**
 * A reply that is not HTTP/1.x at all (an HTTP/0.9 body, an HTTP/2 frame,
 * another protocol's greeting) is known from its first byte that differs
 * from "HTTP/": it is refused then, rather than after a line break that may
 * never come or after the close.
 */
const notHttp = () =>
  new MalformedResponse({
    cause: new HttpParseError({
      code: "InvalidStatusLine",
      message: "not an HTTP/1.x response (the reply does not begin with \"HTTP/\")"
    }),
    part: "protocol"
  })

/** A 101 the request did not ask for: the server now speaks something else (RFC 9110 section 15.2.2). */
const unsolicitedSwitch = () =>
  new MalformedResponse({
    cause: new HttpParseError({
      code: "InvalidStatusLine",
      message: "101 Switching Protocols to a request without Upgrade"
    }),
    part: "head"
  })

export type ExchangeError = EmptyReply | SendError | ReceiveError | TruncatedResponse | MalformedResponse | LocalIoError

/**
 * Sends a serialized request head (and body) while reading the response with
 * the incremental parser, handing the final head to `onHead` (interim 1xx
 * responses are skipped) and each body chunk to the sink it returns. The body
 * is never collected: memory stays at one socket chunk.
 */
export const exchange = <E, R>(options: {
  readonly connection: Connection
  readonly method: string
  readonly head: Uint8Array
  readonly body: RequestBody | undefined
  /** The request carries an Upgrade field (-H Upgrade: ...): only then may the answer be a 101. */
  readonly upgrade: boolean
  readonly onHead: (head: ResponseHead, instants: ExchangeInstants) => Effect.Effect<BodySink<E, R>, E, R>
  /** Each interim (1xx) response before the final one, as it arrives (103 Early Hints). */
  readonly onInterim: (head: ResponseHead) => Effect.Effect<void, E, R>
  /** Told (synchronously) when the first response byte arrived. */
  readonly onFirstByte?: () => void
  /** The connector sent `head` already (see `FirstFlight`), over this span; undefined: the exchange sends it. */
  readonly sent?: Span | undefined
}): Effect.Effect<ExchangeResult, ExchangeError | E, R> =>
  Effect.gen(function*() {
    const { connection } = options
    const total = options.head.length + (options.body?.length ?? 0)
    // the connector may have sent the head already, from its connect callback
    const early = options.sent
    let bytesSent = early === undefined ? 0 : options.head.length
    let sentAt: bigint | undefined = early !== undefined && bytesSent >= total ? early.endedAt : undefined
    // Counted as each write completes, in the same step: whether the whole
    // request is out is known exactly, whichever fiber runs first.
    const send = (chunk: Uint8Array) =>
      Effect.matchEffect(connection.write(chunk), {
        onFailure: (cause) => Effect.fail(new SendError({ cause })),
        onSuccess: () =>
          Effect.sync(() => {
            bytesSent += chunk.length
            if (bytesSent >= total) sentAt ??= connection.sentAt()
          })
      })
    let sendFailure: SendError | undefined
    const noteFailure = (error: SendError) =>
      Effect.sync(() => {
        sendFailure = error
      })
    // just before the first write, in the fiber that writes
    let startedAt = early?.startedAt ?? 0n
    const sendHead = Effect.suspend(() => {
      startedAt = connection.now()
      return send(options.head)
    })
    const sendBody = options.body === undefined ? undefined : Stream.runForEach(options.body.chunks, send)
    // A body goes out in a fiber of its own while the response is read, as
    // curl does: a server may answer before it has read the whole request (a
    // 413 to a large upload) and then read no more. An answer of 300 or more
    // that arrives while the request is still going out stops the upload
    // (the connection is not reused); one below 300 lets it go on until the
    // response ends. A send failure is reported only when no complete
    // response follows it.
    const sending = sendBody === undefined ? undefined : yield* Effect.fork(
      Effect.catchTag(early === undefined ? Effect.zipRight(sendHead, sendBody) : sendBody, "SendError", noteFailure)
    )
    let uploadStopped = false
    /** Ends the sending fiber; a request not wholly out is abandoned (the connection cannot be reused). */
    const stopSending = Effect.suspend(() => {
      if (sending === undefined || sending.unsafePoll() !== null) return Effect.void
      if (bytesSent < total) uploadStopped = true
      return Fiber.interrupt(sending)
    })
    // A connection that failed fails the pending write too, at once: wait for
    // it, so that a request that could not be sent is reported as such. After
    // a FIN the server may simply never read again: the read side's error stands.
    const failed = <X>(error: X) =>
      Effect.gen(function*() {
        if (error instanceof ReceiveError && bytesSent < total && sending !== undefined) yield* Fiber.await(sending)
        else yield* stopSending
        return yield* Effect.fail(sendFailure ?? error)
      })
    // a user agent's leniencies (RFC 9112 sections 2.2 and 5.2), as curl and browsers read heads
    const parser = new ResponseParser({}, true)
    let received = 0
    let firstByteAt: bigint | undefined
    let head: ResponseHead | undefined
    let sink: BodySink<E, R> | undefined
    let bodyBytes = 0
    let trailers: Headers | undefined
    let extraBytes = false
    // A response may begin before the request is all out (an early 413).
    const instants = (): ExchangeInstants => ({
      startedAt,
      sentAt: sentAt === undefined || sentAt > firstByteAt! ? firstByteAt! : sentAt,
      firstByteAt: firstByteAt!
    })

    let interims = 0
    // Applies one parse step's events; true once the response has ended.
    const apply = (result: ParseResult<ResponseHead>, input: number) =>
      Effect.gen(function*() {
        for (const event of result.events) {
          switch (event._tag) {
            case "Interim":
              yield* options.onInterim(event.head)
              if (++interims % INTERIMS_PER_TURN === 0) yield* turnOfEventLoop
              break
            case "Head":
              // the parser has already skipped interim 1xx responses
              if (event.head.status === 101 && !options.upgrade) return yield* failed(unsolicitedSwitch())
              head = event.head
              if (head.status >= 300 && bytesSent < total) yield* stopSending
              sink = yield* options.onHead(event.head, instants())
              break
            case "Body":
              bodyBytes += event.chunk.length
              yield* sink!(event.chunk)
              break
            case "End":
              trailers = event.trailers
              break
          }
        }
        if (result.error !== undefined) {
          return yield* failed(
            new MalformedResponse({ cause: result.error, part: head === undefined ? "head" : "body" })
          )
        }
        if (trailers !== undefined && result.consumed < input) extraBytes = true
        return trailers !== undefined
      })

    const readNext = Effect.catchAll(connection.read, (cause) => failed(new ReceiveError({ cause })))
    const readResponse = Effect.gen(function*() {
      while (true) {
        const next = yield* readNext
        if (Option.isNone(next)) {
          if (received === 0) return yield* failed(new EmptyReply())
          const truncated = () => failed(new TruncatedResponse({ received: bodyBytes, inHead: head === undefined }))
          const result = parser.finish()
          if (result.error?.code === "Truncated") return yield* truncated()
          if (!(yield* apply(result, 0))) return yield* truncated()
          break
        }
        const chunk = next.value
        if (chunk.length === 0) continue
        if (firstByteAt === undefined) {
          firstByteAt = connection.receivedAt()
          options.onFirstByte?.()
        }
        for (let i = 0; received + i < HTTP_NAME.length && i < chunk.length; i++) {
          if (chunk[i] !== HTTP_NAME[received + i]) return yield* failed(notHttp())
        }
        received += chunk.length
        if (head === undefined && chunk.length > HEAD_SLICE) {
          // Until the final head, a large read goes to the parser a slice at
          // a time: a flood of interim heads is handled (and the timeouts
          // can fire) a slice at a time, not as one huge list of events.
          let ended = false
          for (let offset = 0; offset < chunk.length && !ended; offset += HEAD_SLICE) {
            const part = chunk.subarray(offset, offset + HEAD_SLICE)
            ended = yield* apply(parser.execute(part, options.method), part.length)
            if (ended && offset + part.length < chunk.length) extraBytes = true
          }
          if (ended) break
          continue
        }
        const result = parser.execute(chunk, options.method)
        // most chunks of a large body are one Body event: straight to the sink
        const only = result.events.length === 1 && result.error === undefined ? result.events[0]! : undefined
        if (only?._tag === "Body" && result.consumed === chunk.length) {
          bodyBytes += only.chunk.length
          yield* sink!(only.chunk)
          continue
        }
        if (yield* apply(result, chunk.length)) break
      }
    })
    if (sending === undefined) {
      // A request without a body is written here, after all of the set-up
      // above, so that no work of the client's runs between its write and
      // the reply's read callback.
      if (early === undefined) yield* Effect.catchTag(sendHead, "SendError", noteFailure)
      yield* readResponse
    } else {
      // The body read from --data-file may fail while the response is awaited.
      // The sending fiber's own end, and its interruption by stopSending, are
      // not an outcome: only its failure is (raceFirst would take an
      // interruption as the result and the run would end as if by a signal).
      const uploadFailure = Effect.flatMap(
        Fiber.await(sending),
        (exit) =>
          Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? Effect.failCause(exit.cause) : Effect.never
      )
      yield* Effect.raceFirst(readResponse, uploadFailure)
    }
    // the arrival of what the last read returned: the body's last bytes, or the close that ended it
    const doneAt = connection.receivedAt()
    // A response that ended before the upload did: the rest is not sent.
    yield* stopSending
    return {
      head: head!,
      trailers: trailers!,
      bodyBytes,
      ...instants(),
      doneAt,
      reusable: sendFailure === undefined && !uploadStopped && head!.keepAlive && !extraBytes &&
        head!.framing._tag !== "UntilClose"
    }
  })

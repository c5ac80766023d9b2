import { Effect, Exit, Option } from "effect"
import type * as net from "node:net"
import { awaitCondition, wakeAll } from "./awaitCondition.ts"
import type { Connection } from "./Connection.ts"
import { nextConnectionId } from "./connectionId.ts"
import { SocketError } from "./errors.ts"
import type { SendQueues } from "./NodeSendQueues.ts"

/**
 * Adapts a node:net Socket (or a tls.TLSSocket, which is one) to `Connection`.
 *
 * Reads are pulled: the socket is kept in paused mode with a 'readable'
 * listener, so Node buffers at most its high-water mark and then stops
 * reading from the kernel; the TCP window closes and the peer's writes block
 * until `read` takes a chunk. A write completes once the kernel has taken
 * all of it (at once, or at the write's callback), so Node holds no
 * reference to the chunk any more and the caller may reuse its buffer.
 * Pending reads, writes and ends are interruptible.
 *
 * Progress (`bytesFlushed`) is what Node has finished writing to the kernel:
 * the bytes handed to `write()` minus its `writableLength`. Node completes a
 * write only when all of it is written, so a chunk larger than SLICE goes out
 * as slices, each issued from the previous one's callback: the count then
 * moves during a long write to a slow reader instead of only at its end.
 *
 * What the peer has acknowledged (`unacknowledged`) comes from the kernel's
 * send queue, through `sendQueues` (shared by the connections of one layer,
 * so that one read of /proc serves them all).
 *
 * The socket must be created with `allowHalfOpen: true`, so that a response
 * can still be written after the peer's FIN.
 */
export const fromSocket = (
  socket: net.Socket,
  sendQueues: SendQueues,
  id: string = nextConnectionId()
): Connection => {
  let peer: { readonly address: string; readonly port: number } | undefined
  let failure: SocketError | undefined
  /** Bytes handed to socket.write. */
  let queued = 0
  /** The highest progress reported: destroy empties Node's buffer, which must not move the count back. */
  let flushed = 0
  /** What the pending write had taken when it began to wait: credited to `bytesFlushed` once it completes. */
  let uncredited = 0
  /** Bytes Node has finished writing to the kernel. */
  const taken = () => queued - socket.writableLength
  const credit = Effect.sync(() => void (uncredited = 0))
  let ended = false
  // Set by our own `destroy`: reads stop at once, even with bytes still buffered.
  let destroyed = false
  // Callbacks of operations waiting for the socket; each re-checks its own condition.
  const readers = new Set<() => void>()
  const writers = new Set<() => void>()
  const wakeEveryone = () => {
    wakeAll(readers)
    wakeAll(writers)
  }

  socket.on("readable", () => wakeAll(readers))
  socket.on("end", () => {
    ended = true
    wakeAll(readers)
  })
  socket.on("finish", () => wakeAll(writers))
  // The listener also keeps an 'error' from being thrown as uncaught.
  socket.on("error", (error) => {
    failure ??= toSocketError(id, error)
    wakeEveryone()
  })
  socket.on("close", wakeEveryone)

  const closed = () => new SocketError({ reason: "Closed", message: `${id}: connection closed` })

  const read = awaitCondition(readers, (): Exit.Exit<Option.Option<Uint8Array>, SocketError> | undefined => {
    if (destroyed) return Exit.fail(closed())
    const chunk: Buffer | null = socket.read()
    if (chunk !== null) return Exit.succeed(Option.some(chunk))
    if (ended) return Exit.succeed(Option.none())
    if (failure !== undefined) return Exit.fail(failure)
    if (socket.destroyed) return Exit.fail(closed())
    return undefined
  })

  const writeFailure = (): Exit.Exit<never, SocketError> | undefined => {
    if (failure !== undefined) return Exit.fail(failure)
    if (socket.destroyed) return Exit.fail(closed())
    return undefined
  }

  const refusal = () => writeFailure() ?? (socket.writableEnded ? Exit.fail(closed()) : undefined)

  /**
   * Writes a chunk of at most SLICE bytes, or the last slice of a larger one:
   * done once Node holds none of it any more (the kernel took it all), so the
   * caller may reuse the buffer. A write the kernel takes at once (the common
   * case) completes at once; otherwise it waits for the write's callback.
   */
  const writeWhole = (chunk: Uint8Array): Effect.Effect<void, SocketError> => {
    queued += chunk.length
    let outcome: Exit.Exit<void, SocketError> | undefined
    socket.write(chunk, (error) => {
      // Node calls back with the error before it emits 'error'
      outcome = error ? Exit.fail(failure ?? toSocketError(id, error)) : Exit.void
      wakeAll(writers)
    })
    if (socket.writableLength === 0) return Effect.void
    return awaitCondition(writers, () => outcome ?? writeFailure())
  }

  /** Writes a chunk larger than SLICE, one slice after the other, without entering Effect per slice. */
  const writeSliced = (chunk: Uint8Array, takenBefore: number): Effect.Effect<void, SocketError> =>
    Effect.async<void, SocketError>((resume) => {
      let offset = 0
      let stopped = false
      const finish = (result: Effect.Effect<void, SocketError>) => {
        stopped = true
        writers.delete(watchFailure)
        resume(result)
      }
      // the socket failing or closing while a slice is in flight
      const watchFailure = () => {
        const failed = writeFailure()
        if (failed !== undefined && !stopped) finish(failed)
      }
      const next = (error?: Error | null) => {
        if (stopped) return
        if (error) return finish(Exit.fail(failure ?? toSocketError(id, error)))
        const refused = refusal()
        if (refused !== undefined) return finish(refused)
        if (chunk.length - offset <= SLICE) return finish(writeWhole(chunk.subarray(offset)))
        const slice = chunk.subarray(offset, offset + SLICE)
        offset += SLICE
        queued += slice.length
        socket.write(slice, next)
      }
      writers.add(watchFailure)
      next()
      if (!stopped) uncredited = taken() - takenBefore
      // interrupted: no further slice is issued (the one in flight still goes out)
      return Effect.sync(() => {
        stopped = true
        writers.delete(watchFailure)
      })
    })

  const write = (chunk: Uint8Array): Effect.Effect<void, SocketError> =>
    Effect.suspend(() => {
      const refused = refusal()
      if (refused !== undefined) return refused
      const before = taken()
      if (chunk.length > SLICE) return Effect.ensuring(writeSliced(chunk, before), credit)
      const waiting = writeWhole(chunk)
      if (waiting === Effect.void) return waiting
      uncredited = taken() - before
      return Effect.ensuring(waiting, credit)
    })

  const bytesFlushed = () => {
    const now = taken() - uncredited
    if (now > flushed) flushed = now
    return flushed
  }

  const finished = awaitCondition(writers, () => (socket.writableFinished ? Exit.void : writeFailure()))

  const end = Effect.suspend(() => {
    if (!socket.writableEnded && !socket.destroyed) socket.end()
    return finished
  })

  return {
    id,
    // asked of the socket (getpeername(2)) the first time someone wants it, then kept: it is gone
    // from the socket once destroyed, so a caller that will want it late asks early
    get remoteAddress() {
      return (peer ??= peerOf(socket)).address
    },
    get remotePort() {
      return (peer ??= peerOf(socket)).port
    },
    // asked of the socket only when wanted: a getsockname(2) per connection otherwise
    get localAddress() {
      return socket.localAddress ?? ""
    },
    get localPort() {
      return socket.localPort ?? 0
    },
    read,
    write,
    bytesFlushed,
    unacknowledged: Effect.suspend(() => (destroyed ? Effect.succeed(Option.none()) : sendQueues.sample(socket))),
    end,
    destroy: Effect.sync(() => {
      destroyed = true
      socket.destroy()
    })
  }
}

const peerOf = (socket: net.Socket) => ({ address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 })

/** Writes larger than this go out in slices of this size. */
const SLICE = 64 * 1024

const resetCodes = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"])
const closedCodes = new Set(["ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END", "ERR_SOCKET_CLOSED"])

const toSocketError = (id: string, error: Error): SocketError => {
  const code = (error as NodeJS.ErrnoException).code ?? ""
  const reason = resetCodes.has(code) ? "Reset" : closedCodes.has(code) ? "Closed" : "Unknown"
  const what = reason === "Reset" ? "connection reset by peer" : error.message
  return new SocketError({ reason, message: `${id}: ${what}${code === "" ? "" : ` (${code})`}`, cause: error })
}

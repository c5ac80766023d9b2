import { Effect, Exit, Option } from "effect"
import * as net from "node:net"
import { awaitCondition, consumeUntil, wakeAll } from "./awaitCondition.ts"
import type { Connection } from "./Connection.ts"
import { nextConnectionId } from "./connectionId.ts"
import { SocketError } from "./errors.ts"
import type { SendQueues } from "./NodeSendQueues.ts"
import { nodeWriteTurns, type WriteTurns } from "./WriteTurns.ts"

/** The Node layers' clock: monotonic, nanoseconds. */
export const hrtimeNow = (): bigint => process.hrtime.bigint()

/**
 * A TCP socket, not yet connected, that reads into two buffers of its own
 * in turn (node's `onread`): each read fills a buffer from the kernel
 * directly, up to its size, so a download allocates nothing per chunk and
 * takes large bites. The socket keeps reading while the buffer it would fill
 * next is free, and stops only when the reader still holds that one: a
 * response that arrives while the previous chunk is being handled is taken
 * (and its arrival noted) at once. Hand it to `fromSocket` with its `reads`.
 */
export const makeBufferedSocket = (size: number, options: net.SocketConstructorOpts, now: () => bigint = hrtimeNow) => {
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)] as const
  // node asks for the first buffer when it creates the handle (at connect), then after each read
  let filling = 1
  const arrived: Array<Arrival> = []
  let lent: Buffer | undefined
  let stopped = false
  let onArrival = () => {}
  const busy = (buffer: Buffer) => buffer === lent || arrived.some((a) => a.buffer === buffer)
  const onread = {
    buffer: () => {
      filling = 1 - filling
      return buffers[filling]
    },
    callback: (length: number, buffer: Buffer) => {
      arrived.push({ buffer, length, at: now() })
      onArrival()
      // the next read goes into the other buffer: only once the reader is done with it
      stopped = busy(buffers[1 - filling]!)
      return !stopped
    }
  }
  // @types/node 20 leaves `onread` out of the constructor's options; node takes it there.
  const socket = new net.Socket({ ...options, onread } as net.SocketConstructorOpts)
  const reads: BufferedReads = {
    take: () => {
      // asking again means the reader is done with the chunk it had
      lent = undefined
      const next = arrived.shift()
      if (next !== undefined) lent = next.buffer
      if (stopped && !busy(buffers[filling]!)) {
        stopped = false
        socket.resume()
      }
      return next
    },
    listen: (callback) => {
      onArrival = callback
    }
  }
  return { socket, reads }
}

/** Bytes a read put in one of the buffers, and when (the read callback's instant). */
export interface Arrival {
  readonly buffer: Buffer
  readonly length: number
  readonly at: bigint
}

/** The reads of a socket made by `makeBufferedSocket`. */
export interface BufferedReads {
  /** The oldest arrival not yet taken; the one taken before is given back. */
  readonly take: () => Arrival | undefined
  /** `callback` runs in the socket's read callback, after each arrival. */
  readonly listen: (callback: () => void) => void
}

export interface SocketOptions {
  /** Where the kernel's send queue of this socket is read (`unacknowledged`). */
  readonly sendQueues: SendQueues
  readonly id?: string
  /** The clock of the connection's instants (default `hrtimeNow`). */
  readonly now?: () => bigint
  /** The socket was made by `makeBufferedSocket`: read from its buffers, not from the stream. */
  readonly reads?: BufferedReads
  /** The bytes written per turn of the event loop, shared with the other connections (default: the process's). */
  readonly turns?: WriteTurns
}

/**
 * Adapts a node:net Socket (or a tls.TLSSocket, which is one) to `Connection`.
 *
 * Reads are pulled: the socket is kept in paused mode with a 'readable'
 * listener, so Node buffers at most its high-water mark and then stops
 * reading from the kernel; the TCP window closes and the peer's writes block
 * until `read` takes a chunk. A write completes once the kernel has taken
 * all of it (at once, or at the write's callback), so Node holds no
 * reference to the chunk any more and the caller may reuse its buffer.
 * Pending reads, writes and ends are interruptible. With `reads` (a socket
 * from `makeBufferedSocket`) the same holds with its two buffers: a chunk
 * is a view into one of them, the reader's until its next `read`.
 *
 * Instants are taken in the socket's own callbacks, on the clock `now`:
 * when data arrived (the read callback, or 'readable'), when the FIN
 * arrived, when the kernel took a write's last byte.
 *
 * Progress (`bytesFlushed`) is what Node has finished writing to the kernel:
 * the bytes handed to `write()` minus its `writableLength`. Node completes a
 * write only when all of it is written, so a chunk larger than SLICE goes out
 * as slices, each issued from the previous one's callback: the count then
 * moves during a long write to a slow reader instead of only at its end.
 *
 * Every write, and every slice, is charged to the bytes the process hands
 * the kernel per turn of the event loop (`turns`): past that budget it waits
 * for a later turn, in order, so that one connection's large body does not
 * hold the loop (and the listener's accepts) while others wait.
 *
 * What the peer has acknowledged (`unacknowledged`) comes from the kernel's
 * send queue, through `sendQueues` (shared by the connections of one layer,
 * so that one read of /proc serves them all).
 *
 * The socket must be created with `allowHalfOpen: true`, so that a response
 * can still be written after the peer's FIN.
 */
export const fromSocket = (socket: net.Socket, options: SocketOptions): Connection => {
  const id = options.id ?? nextConnectionId()
  const now = options.now ?? hrtimeNow
  const sendQueues = options.sendQueues
  const turns = options.turns ?? nodeWriteTurns
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

  /** Instants on `now`: data of the chunk last read, the FIN, the last completed write. */
  let receivedAt = 0n
  let readableAt = 0n
  let endedAt = 0n
  let sentAt = 0n

  socket.on("end", () => {
    endedAt = now()
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

  /** What a read gives when no data waits: the end, the failure, or undefined to wait. */
  const noData = (): Exit.Exit<Option.Option<Uint8Array>, SocketError> | undefined => {
    if (ended) {
      receivedAt = endedAt
      return Exit.succeed(Option.none())
    }
    if (failure !== undefined) return Exit.fail(failure)
    if (socket.destroyed) return Exit.fail(closed())
    return undefined
  }

  let take: () => Exit.Exit<Option.Option<Uint8Array>, SocketError> | undefined
  const reads = options.reads
  if (reads === undefined) {
    socket.on("readable", () => {
      readableAt = now()
      wakeAll(readers)
    })
    take = () => {
      if (destroyed) return Exit.fail(closed())
      const chunk: Buffer | null = socket.read()
      if (chunk !== null) {
        receivedAt = readableAt
        return Exit.succeed(Option.some(chunk))
      }
      return noData()
    }
  } else {
    reads.listen(() => wakeAll(readers))
    take = () => {
      if (destroyed) return Exit.fail(closed())
      const next = reads.take()
      if (next === undefined) return noData()
      receivedAt = next.at
      return Exit.succeed(Option.some(next.buffer.subarray(0, next.length)))
    }
  }
  const read = awaitCondition(readers, take)
  const readWith = <A>(consume: (chunk: Option.Option<Uint8Array>) => A | undefined) =>
    consumeUntil(readers, take, consume)

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
      if (!error && outcome === undefined) sentAt = now()
      outcome = error ? Exit.fail(failure ?? toSocketError(id, error)) : Exit.void
      wakeAll(writers)
    })
    if (socket.writableLength === 0) {
      sentAt = now()
      outcome = Exit.void
      return Effect.void
    }
    return awaitCondition(writers, () => outcome ?? writeFailure())
  }

  /**
   * Writes a chunk larger than SLICE, one slice after the other, without
   * entering Effect per slice; a slice the turn has no room for waits for a
   * later turn (see WriteTurns), so other connections are served meanwhile.
   */
  const writeSliced = (chunk: Uint8Array, takenBefore: number): Effect.Effect<void, SocketError> =>
    Effect.async<void, SocketError>((resume) => {
      let offset = 0
      let stopped = false
      let withdraw: (() => void) | undefined
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
      const issue = () => {
        withdraw = undefined
        if (stopped) return
        const refused = refusal()
        if (refused !== undefined) return finish(refused)
        if (chunk.length - offset <= SLICE) return finish(writeWhole(chunk.subarray(offset)))
        const slice = chunk.subarray(offset, offset + SLICE)
        offset += SLICE
        queued += slice.length
        socket.write(slice, next)
      }
      const next = (error?: Error | null) => {
        if (stopped) return
        if (error) return finish(Exit.fail(failure ?? toSocketError(id, error)))
        const size = Math.min(SLICE, chunk.length - offset)
        if (turns.tryTake(size)) issue()
        else withdraw = turns.wait(size, issue)
      }
      writers.add(watchFailure)
      next()
      if (!stopped) uncredited = taken() - takenBefore
      // interrupted: no further slice is issued (the one in flight still goes out)
      return Effect.sync(() => {
        stopped = true
        withdraw?.()
        writers.delete(watchFailure)
      })
    })

  /** Waits for a turn with room for `bytes` (charged to it). */
  const awaitTurn = (bytes: number): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      const withdraw = turns.wait(bytes, () => resume(Effect.void))
      return Effect.sync(withdraw)
    })

  /** Writes a chunk of at most SLICE bytes whose bytes this turn has been charged with. */
  const writeCharged = (chunk: Uint8Array): Effect.Effect<void, SocketError> => {
    const refused = refusal()
    if (refused !== undefined) return refused
    const before = taken()
    const waiting = writeWhole(chunk)
    if (waiting === Effect.void) return waiting
    uncredited = taken() - before
    return Effect.ensuring(waiting, credit)
  }

  const write = (chunk: Uint8Array): Effect.Effect<void, SocketError> =>
    Effect.suspend(() => {
      const refused = refusal()
      if (refused !== undefined) return refused
      if (chunk.length > SLICE) return Effect.ensuring(writeSliced(chunk, taken()), credit)
      if (turns.tryTake(chunk.length)) return writeCharged(chunk)
      return Effect.zipRight(awaitTurn(chunk.length), Effect.suspend(() => writeCharged(chunk)))
    })

  /**
   * `write` issued at the call: a small chunk this turn has room for (see
   * WriteTurns), taken by the kernel at once, gives Exit.void, no Effect
   * step; one the turn has no room for waits its turn as `write` does.
   */
  const writeNow = (chunk: Uint8Array): Effect.Effect<void, SocketError> => {
    const refused = refusal()
    if (refused !== undefined) return refused
    if (chunk.length > SLICE || !turns.tryTake(chunk.length)) return write(chunk)
    const written = writeCharged(chunk)
    return written === Effect.void ? Exit.void : written
  }

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

  const destroy = Effect.sync(() => {
    destroyed = true
    socket.destroy()
  })

  const endThenDestroy = Effect.ensuring(Effect.ignore(end), destroy)
  /** A tls.TLSSocket (which says so): its close must write close_notify first. */
  const encrypted = (socket as { readonly encrypted?: boolean }).encrypted === true

  /**
   * With nothing left in Node's buffer (the kernel took every write), the
   * close(2) of destroy sends the FIN after the kernel's queued bytes, as a
   * shutdown would: no shutdown request, no callback to wait for. TLS must
   * write its close_notify first: it ends, then destroys.
   */
  const closeNow = (): Effect.Effect<void> => {
    if (encrypted || socket.writableLength > 0 || socket.connecting) return endThenDestroy
    destroyed = true
    socket.destroy()
    return Exit.void
  }

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
    readWith,
    write,
    writeNow,
    bytesFlushed,
    now,
    receivedAt: () => receivedAt,
    sentAt: () => sentAt,
    unacknowledged: Effect.suspend(() => (destroyed ? Effect.succeed(Option.none()) : sendQueues.sample(socket))),
    end,
    closeNow,
    destroy
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

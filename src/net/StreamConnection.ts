import type * as net from "node:net"
import { Effect, Exit, Option } from "effect"
import { awaitCondition, wakeAll } from "./awaitCondition.ts"
import type { Connection } from "./Connection.ts"
import { nextConnectionId } from "./connectionId.ts"
import { SocketError } from "./errors.ts"

/**
 * Adapts a node:net Socket (or a tls.TLSSocket, which is one) to `Connection`.
 *
 * Reads are pulled: the socket is kept in paused mode with a 'readable'
 * listener, so Node buffers at most its high-water mark and then stops
 * reading from the kernel; the TCP window closes and the peer's writes block
 * until `read` takes a chunk. Writes respect `write()`'s return value and
 * wait for 'drain'. Pending reads, writes and ends are interruptible.
 *
 * The socket must be created with `allowHalfOpen: true`, so that a response
 * can still be written after the peer's FIN.
 */
export const fromSocket = (socket: net.Socket, id: string = nextConnectionId()): Connection => {
  let failure: SocketError | undefined
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
  socket.on("drain", () => wakeAll(writers))
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

  // A chunk queued before `end` still goes out, so ending does not fail a pending write.
  const drained = awaitCondition(writers, () => writeFailure() ?? (socket.writableNeedDrain ? undefined : Exit.void))

  const write = (chunk: Uint8Array): Effect.Effect<void, SocketError> =>
    Effect.suspend(() => {
      const refused = writeFailure() ?? (socket.writableEnded ? Exit.fail(closed()) : undefined)
      if (refused !== undefined) return refused
      return socket.write(chunk) ? Effect.void : drained
    })

  const finished = awaitCondition(writers, () => (socket.writableFinished ? Exit.void : writeFailure()))

  const end = Effect.suspend(() => {
    if (!socket.writableEnded && !socket.destroyed) socket.end()
    return finished
  })

  return {
    id,
    remoteAddress: socket.remoteAddress ?? "",
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? "",
    localPort: socket.localPort ?? 0,
    read,
    write,
    end,
    destroy: Effect.sync(() => {
      destroyed = true
      socket.destroy()
    })
  }
}

const resetCodes = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"])
const closedCodes = new Set(["ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END", "ERR_SOCKET_CLOSED"])

const toSocketError = (id: string, error: Error): SocketError => {
  const code = (error as NodeJS.ErrnoException).code ?? ""
  const reason = resetCodes.has(code) ? "Reset" : closedCodes.has(code) ? "Closed" : "Unknown"
  const what = reason === "Reset" ? "connection reset by peer" : error.message
  return new SocketError({ reason, message: `${id}: ${what}${code === "" ? "" : ` (${code})`}`, cause: error })
}

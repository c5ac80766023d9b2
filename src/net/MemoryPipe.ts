import { Effect, Exit, Option } from "effect"
import { awaitCondition, consumeUntil, wakeAll } from "./awaitCondition.ts"
import type { Connection } from "./Connection.ts"
import { nextConnectionId } from "./connectionId.ts"
import { SocketError } from "./errors.ts"

/**
 * An in-memory connection: two endpoints joined by two one-way channels.
 *
 * Each channel holds at most about `window` unread bytes: a write queues its
 * chunk and completes once the unread bytes are back within the window, so a
 * reader that never reads blocks the writer (like a full TCP window).
 * `end` sends FIN: the reader gets the queued chunks, then None.
 * `destroy` closes as node's `socket.destroy()` does: with nothing left unread
 * the kernel sends FIN, so the other endpoint reads what was queued, then None;
 * with bytes unread it sends a reset, so the other endpoint reads what was
 * queued, then fails with SocketError Reset. Either way the other endpoint's
 * writes fail with Reset at once. `reset` (the test peer's) always resets.
 */

interface Channel {
  readonly chunks: Array<Uint8Array>
  /** When each queued chunk was written, on the pipe's clock. */
  readonly writtenAt: Array<bigint>
  unread: number
  /** Bytes ever written into the channel. */
  written: number
  fin: boolean
  /** When the FIN was sent. */
  finAt: bigint
  writerGone: boolean
  readerGone: boolean
  readonly window: number
  /** Operations waiting on this channel or on either endpoint's state. */
  readonly waiting: Set<() => void>
}

export interface EndpointAddress {
  readonly address: string
  readonly port: number
}

/** What the other endpoint has done so far. */
export interface RemoteStatus {
  /** It sent FIN (`end`). */
  readonly ended: boolean
  /** It destroyed the connection. */
  readonly destroyed: boolean
}

/** One end of an in-memory connection: a Connection plus what tests need to see. */
export interface Endpoint {
  readonly connection: Connection
  /** The next chunk, at most `max` bytes of it (the rest is read next), or None after the other side's FIN. */
  readonly readUpTo: (max: number) => Effect.Effect<Option.Option<Uint8Array>, SocketError>
  /** The other endpoint's status. */
  readonly remoteStatus: Effect.Effect<RemoteStatus>
  /** Waits until the other endpoint destroyed the connection. */
  readonly remoteClosed: Effect.Effect<void>
  /** Sends FIN without waiting for the reader. Used when a script finishes. */
  readonly finish: Effect.Effect<void>
  /** Tears the connection down with a reset whatever is unread (node's resetAndDestroy). */
  readonly reset: Effect.Effect<void>
}

const newChannel = (window: number, waiting: Set<() => void>): Channel => ({
  chunks: [],
  writtenAt: [],
  unread: 0,
  written: 0,
  fin: false,
  finAt: 0n,
  writerGone: false,
  readerGone: false,
  window,
  waiting
})

const makeEndpoint = (
  id: string,
  local: EndpointAddress,
  remote: EndpointAddress,
  incoming: Channel,
  outgoing: Channel,
  state: { destroyed: boolean },
  remoteState: { destroyed: boolean },
  now: () => bigint
): Endpoint => {
  const waiting = incoming.waiting
  const closed = () => new SocketError({ reason: "Closed", message: `${id}: connection closed` })
  const reset = () => new SocketError({ reason: "Reset", message: `${id}: connection reset by peer` })

  /** Instants: the data of the last chunk read (or the FIN) was written; the last write was taken. */
  let receivedAt = 0n
  let sentAt = 0n

  /** The next chunk (at most `max` bytes of it), None after FIN, a failure, or undefined while none is there. */
  const takeUpTo = (max: number): Exit.Exit<Option.Option<Uint8Array>, SocketError> | undefined => {
    if (state.destroyed) return Exit.fail(closed())
    let chunk = incoming.chunks[0]
    if (chunk !== undefined) {
      receivedAt = incoming.writtenAt[0]!
      if (chunk.length > max) {
        incoming.chunks[0] = chunk.subarray(max)
        chunk = chunk.subarray(0, max)
      } else {
        incoming.chunks.shift()
        incoming.writtenAt.shift()
      }
      incoming.unread -= chunk.length
      wakeAll(waiting)
      return Exit.succeed(Option.some(chunk))
    }
    if (incoming.fin) {
      receivedAt = incoming.finAt
      return Exit.succeed(Option.none())
    }
    if (incoming.writerGone) return Exit.fail(reset())
    return undefined
  }
  const readUpTo = (max: number) => awaitCondition(waiting, () => takeUpTo(max))
  const read = readUpTo(Infinity)
  const takeAll = () => takeUpTo(Infinity)
  const readWith = <A>(consume: (chunk: Option.Option<Uint8Array>) => A | undefined) =>
    consumeUntil(waiting, takeAll, consume)

  const writeFailure = (): Exit.Exit<never, SocketError> | undefined => {
    if (state.destroyed) return Exit.fail(closed())
    if (outgoing.readerGone) return Exit.fail(reset())
    return undefined
  }

  const delivered = awaitCondition(
    waiting,
    () => {
      const failed = writeFailure()
      if (failed !== undefined) return failed
      if (outgoing.unread > outgoing.window) return undefined
      sentAt = now()
      return Exit.void
    }
  )

  /** What the peer's window has taken: all but the unread bytes beyond it. */
  const taken = () => outgoing.written - Math.max(0, outgoing.unread - outgoing.window)
  /** What the pending write had taken when it began to wait: credited once it completes. */
  let uncredited = 0
  const credit = Effect.sync(() => void (uncredited = 0))

  const writeNow = (chunk: Uint8Array): Effect.Effect<void, SocketError> => {
    const refused = writeFailure() ?? (outgoing.fin ? Exit.fail(closed()) : undefined)
    if (refused !== undefined) return refused
    const before = taken()
    if (chunk.length > 0) {
      // A copy, as a kernel would take: the caller may reuse its buffer.
      outgoing.chunks.push(new Uint8Array(chunk))
      outgoing.writtenAt.push(now())
      outgoing.unread += chunk.length
      outgoing.written += chunk.length
      wakeAll(waiting)
    }
    if (outgoing.unread <= outgoing.window) {
      // within the window: taken at once
      sentAt = now()
      return Exit.void
    }
    uncredited = taken() - before
    return Effect.ensuring(delivered, credit)
  }
  const write = (chunk: Uint8Array): Effect.Effect<void, SocketError> => Effect.suspend(() => writeNow(chunk))

  let flushed = 0
  const bytesFlushed = () => {
    const now = taken() - uncredited
    if (now > flushed) flushed = now
    return flushed
  }

  const finish = Effect.sync(() => {
    if (state.destroyed || outgoing.fin) return
    outgoing.fin = true
    outgoing.finAt = now()
    wakeAll(waiting)
  })

  const closeEndpoint = (abortive: boolean) => {
    if (state.destroyed) return
    state.destroyed = true
    // Unread bytes make the kernel answer the close with a reset.
    if (abortive || incoming.unread > 0) outgoing.writerGone = true
    else if (!outgoing.fin) {
      outgoing.fin = true
      outgoing.finAt = now()
    }
    incoming.readerGone = true
    incoming.chunks.length = 0
    incoming.writtenAt.length = 0
    incoming.unread = 0
    wakeAll(waiting)
  }
  const close = (abortive: boolean) => Effect.sync(() => closeEndpoint(abortive))
  const destroy = close(false)
  const end = Effect.zipRight(Effect.suspend(() => writeFailure() ?? finish), delivered)
  const endThenDestroy = Effect.ensuring(Effect.ignore(end), destroy)

  /** As a socket: with every write within the window (taken), destroy sends the FIN at once; else end first. */
  const closeNow = (): Effect.Effect<void> => {
    if (state.destroyed || outgoing.unread <= outgoing.window) {
      closeEndpoint(false)
      return Exit.void
    }
    return endThenDestroy
  }

  return {
    connection: {
      id,
      remoteAddress: remote.address,
      remotePort: remote.port,
      localAddress: local.address,
      localPort: local.port,
      read,
      readWith,
      write,
      writeNow,
      bytesFlushed,
      now,
      receivedAt: () => receivedAt,
      sentAt: () => sentAt,
      unacknowledged: Effect.sync(() => (state.destroyed ? Option.none() : Option.some(outgoing.unread))),
      end,
      closeNow,
      destroy
    },
    readUpTo,
    remoteStatus: Effect.sync(() => ({ ended: incoming.fin, destroyed: remoteState.destroyed })),
    remoteClosed: awaitCondition(waiting, () => (remoteState.destroyed ? Exit.void : undefined)),
    finish,
    reset: close(true)
  }
}

export interface PipeOptions {
  /** Unread bytes each direction holds before writes block. */
  readonly window: number
  /** The clock of the connections' instants. */
  readonly now: () => bigint
  readonly server: EndpointAddress
  readonly client: EndpointAddress
}

/** A new in-memory connection: [server endpoint, client endpoint]. */
export const makePipe = (options: PipeOptions): readonly [Endpoint, Endpoint] => {
  // One wait set for the whole connection: every change wakes every waiter,
  // which is cheap at test sizes and keeps the bookkeeping obvious.
  const waiting = new Set<() => void>()
  const toServer = newChannel(options.window, waiting)
  const toClient = newChannel(options.window, waiting)
  const serverState = { destroyed: false }
  const clientState = { destroyed: false }
  return [
    makeEndpoint(
      nextConnectionId(),
      options.server,
      options.client,
      toServer,
      toClient,
      serverState,
      clientState,
      options.now
    ),
    makeEndpoint(
      nextConnectionId(),
      options.client,
      options.server,
      toClient,
      toServer,
      clientState,
      serverState,
      options.now
    )
  ]
}

/**
 * The test's side of an in-memory connection, driven byte by byte.
 * Reads, writes and `end` behave as on a `Connection`.
 */
export interface Peer {
  readonly id: string
  readonly write: (data: Uint8Array | string) => Effect.Effect<void, SocketError>
  /** Sends FIN. */
  readonly end: Effect.Effect<void, SocketError>
  /** The next chunk, or None after the other side's FIN. */
  readonly read: Effect.Effect<Option.Option<Uint8Array>, SocketError>
  /** As `read`, but at most `max` bytes: a slow reader, a little at a time. */
  readonly readUpTo: (max: number) => Effect.Effect<Option.Option<Uint8Array>, SocketError>
  /** Everything until the other side ends or destroys the connection (never fails). */
  readonly readAll: Effect.Effect<Uint8Array>
  /** `readAll` decoded as UTF-8. */
  readonly readAllText: Effect.Effect<string>
  /** Closes the connection as node's socket.destroy() does: FIN, or a reset when bytes were left unread. */
  readonly destroy: Effect.Effect<void>
  /** Resets the connection (node's resetAndDestroy). */
  readonly reset: Effect.Effect<void>
  /** What the other side has done: sent FIN, destroyed the connection. */
  readonly status: Effect.Effect<RemoteStatus>
  /** Waits until the other side destroyed the connection. */
  readonly closed: Effect.Effect<void>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const toPeer = (endpoint: Endpoint): Peer => {
  const { connection } = endpoint
  const readAll = Effect.gen(function*() {
    const chunks: Array<Uint8Array> = []
    let size = 0
    while (true) {
      const next = yield* Effect.option(connection.read)
      if (Option.isNone(next) || Option.isNone(next.value)) break
      chunks.push(next.value.value)
      size += next.value.value.length
    }
    const all = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      all.set(chunk, offset)
      offset += chunk.length
    }
    return all
  })
  return {
    id: connection.id,
    write: (data) => connection.write(typeof data === "string" ? encoder.encode(data) : data),
    end: connection.end,
    read: connection.read,
    readUpTo: endpoint.readUpTo,
    readAll,
    readAllText: Effect.map(readAll, (all) => decoder.decode(all)),
    destroy: connection.destroy,
    reset: endpoint.reset,
    status: endpoint.remoteStatus,
    closed: endpoint.remoteClosed
  }
}

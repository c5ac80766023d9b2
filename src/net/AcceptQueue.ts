import { Effect } from "effect"
import type { Connection } from "./Connection.ts"
import { type AcceptError, SocketError } from "./errors.ts"

/** Connections accepted by a listener and not yet taken by `accept`. */
export interface AcceptQueue {
  /** Hands a new connection to a waiting `take`, or queues it; false once closed or full. */
  readonly offer: (connection: Connection) => boolean
  /**
   * The listener failed to accept a connection: the next `take` that finds
   * no connection queued fails with it. Failures not yet taken are one.
   */
  readonly fail: (error: AcceptError) => void
  readonly take: Effect.Effect<Connection, SocketError | AcceptError>
  /** Fails pending and later takes with SocketError Closed and destroys what was never taken. Idempotent. */
  readonly close: Effect.Effect<void>
}

export const makeAcceptQueue = (capacity: number): AcceptQueue => {
  const queued: Array<Connection> = []
  const takers = new Set<(next: Connection | AcceptError | undefined) => void>()
  let failure: AcceptError | undefined
  let closed = false
  const closedError = () => new SocketError({ reason: "Closed", message: "listener closed" })

  const offer = (connection: Connection) => {
    if (closed) return false
    const taker = takers.values().next()
    if (!taker.done) {
      takers.delete(taker.value)
      taker.value(connection)
      return true
    }
    if (queued.length >= capacity) return false
    queued.push(connection)
    return true
  }

  const fail = (error: AcceptError) => {
    if (closed) return
    const taker = takers.values().next()
    if (!taker.done) {
      takers.delete(taker.value)
      taker.value(error)
      return
    }
    failure ??= error
  }

  const take = Effect.suspend(() => {
    const next = queued.shift()
    if (next !== undefined) return Effect.succeed(next)
    if (closed) return Effect.fail(closedError())
    if (failure !== undefined) {
      const error = failure
      failure = undefined
      return Effect.fail(error)
    }
    return Effect.async<Connection, SocketError | AcceptError>((resume) => {
      const taker = (next: Connection | AcceptError | undefined) =>
        resume(
          next === undefined
            ? Effect.fail(closedError())
            : "_tag" in next && next._tag === "AcceptError"
            ? Effect.fail(next)
            : Effect.succeed(next as Connection)
        )
      takers.add(taker)
      return Effect.sync(() => takers.delete(taker))
    })
  })

  const close = Effect.suspend(() => {
    if (closed) return Effect.void
    closed = true
    for (const taker of Array.from(takers)) taker(undefined)
    takers.clear()
    return Effect.forEach(queued.splice(0), (connection) => connection.destroy, { discard: true })
  })

  return { offer, fail, take, close }
}

import { Effect } from "effect"
import type { Connection } from "./Connection.ts"
import { SocketError } from "./errors.ts"

/** Connections accepted by a listener and not yet taken by `accept`. */
export interface AcceptQueue {
  /** Hands a new connection to a waiting `take`, or queues it; false once closed or full. */
  readonly offer: (connection: Connection) => boolean
  readonly take: Effect.Effect<Connection, SocketError>
  /** Fails pending and later takes with SocketError Closed and destroys what was never taken. Idempotent. */
  readonly close: Effect.Effect<void>
}

export const makeAcceptQueue = (capacity: number): AcceptQueue => {
  const queued: Array<Connection> = []
  const takers = new Set<(connection: Connection | undefined) => void>()
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

  const take = Effect.suspend(() => {
    const next = queued.shift()
    if (next !== undefined) return Effect.succeed(next)
    if (closed) return Effect.fail(closedError())
    return Effect.async<Connection, SocketError>((resume) => {
      const taker = (connection: Connection | undefined) =>
        resume(connection === undefined ? Effect.fail(closedError()) : Effect.succeed(connection))
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

  return { offer, take, close }
}

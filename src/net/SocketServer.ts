import { Context, type Effect, type Scope } from "effect"
import type { Connection } from "./Connection.ts"
import type { AcceptError, ListenError, SocketError } from "./errors.ts"

export interface ListenOptions {
  readonly host: string
  /** 0 picks a free port; `Listener.port` tells which. */
  readonly port: number
}

/** A bound, listening socket. Closed (and the port released) when its scope closes. */
export interface Listener {
  readonly host: string
  readonly port: number
  /**
   * Waits for the next connection. The caller owns it from then on and must
   * `destroy` it when done (normally via `Effect.acquireRelease`). Connections
   * accepted but not yet taken are destroyed when the listener's scope closes.
   * Once the listener closes, a pending or later `accept` fails with
   * SocketError Closed, so a caller may wait uninterruptibly (a connection
   * handed over can then never be lost to an interruption). When the system
   * refused a connection (out of descriptors), the next `accept` fails with
   * that AcceptError once (failures in between are one), after the
   * connections already accepted have been taken.
   */
  readonly accept: Effect.Effect<Connection, SocketError | AcceptError>
  /** Stops accepting and releases the port now, before the scope closes. Idempotent. */
  readonly close: Effect.Effect<void>
}

/** Opens listeners: `node:net` in production, an in-memory network in tests. */
export class SocketServer extends Context.Tag("fiberhttp/net/SocketServer")<
  SocketServer,
  {
    readonly listen: (options: ListenOptions) => Effect.Effect<Listener, ListenError, Scope.Scope>
  }
>() {}

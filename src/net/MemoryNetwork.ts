import { Context, Effect, Layer, type Scope } from "effect"
import { type AcceptQueue, makeAcceptQueue } from "./AcceptQueue.ts"
import { ConnectError, ListenError } from "./errors.ts"
import { formatHostPort } from "./hostPort.ts"
import { makePipe, type Peer, toPeer } from "./MemoryPipe.ts"
import { type Listener, SocketServer } from "./SocketServer.ts"

export interface PeerOptions {
  /** Unread bytes each direction holds before writes block (default 1 MiB). A small window models a slow reader. */
  readonly window?: number
  /** The address the server sees for this peer (default 127.0.0.1). */
  readonly remoteAddress?: string
}

/**
 * The test's side of the in-memory network behind `MemoryNetwork.layer`'s
 * SocketServer: opens connections to its listeners.
 */
export class MemoryNetwork extends Context.Tag("fiberhttp/net/MemoryNetwork")<
  MemoryNetwork,
  {
    /**
     * Connects to the listener on `port`; fails with ConnectError Refused if
     * none listens. The peer is destroyed when the scope closes.
     */
    readonly connect: (port: number, options?: PeerOptions) => Effect.Effect<Peer, ConnectError, Scope.Scope>
    /** The ports listened on now. */
    readonly ports: Effect.Effect<ReadonlyArray<number>>
  }
>() {}

const defaultWindow = 1024 * 1024
const firstPort = 40000
const firstPeerPort = 50000

interface ListenerState {
  readonly listener: Listener
  readonly queue: AcceptQueue
}

/** Both services over one fresh network; ports are numbered from 40000. */
export const make = Effect.clockWith((clock) =>
  Effect.sync(() => {
    const listeners = new Map<number, ListenerState>()
    let nextPort = firstPort
    let nextPeerPort = firstPeerPort

    const openListener = (host: string, port: number): ListenerState => {
      const queue = makeAcceptQueue(Number.POSITIVE_INFINITY)
      const close = Effect.zipRight(
        Effect.sync(() => {
          if (listeners.get(port)?.queue === queue) listeners.delete(port)
        }),
        queue.close
      )
      return { listener: { host, port, accept: queue.take, close }, queue }
    }

    const server = SocketServer.of({
      listen: ({ host, port }) =>
        Effect.acquireRelease(
          Effect.suspend(() => {
            if (port !== 0 && listeners.has(port)) {
              const message = `cannot listen on ${formatHostPort(host, port)}: address already in use`
              return Effect.fail(new ListenError({ host, port, reason: "AddressInUse", message }))
            }
            let chosen = port
            while (chosen === 0 || listeners.has(chosen)) chosen = nextPort++
            const state = openListener(host, chosen)
            listeners.set(chosen, state)
            return Effect.succeed(state.listener)
          }),
          (listener) => listener.close
        )
    })

    const network = MemoryNetwork.of({
      connect: (port, options = {}) =>
        Effect.acquireRelease(
          Effect.suspend(() => {
            const state = listeners.get(port)
            if (state === undefined) {
              const message = `cannot connect to 127.0.0.1:${port}: connection refused`
              return Effect.fail(new ConnectError({ host: "127.0.0.1", port, reason: "Refused", message }))
            }
            const [serverEnd, peerEnd] = makePipe({
              window: options.window ?? defaultWindow,
              now: () => clock.unsafeCurrentTimeNanos(),
              server: { address: state.listener.host, port },
              client: { address: options.remoteAddress ?? "127.0.0.1", port: nextPeerPort++ }
            })
            state.queue.offer(serverEnd.connection)
            return Effect.succeed(toPeer(peerEnd))
          }),
          (peer) => peer.destroy
        ),
      ports: Effect.sync(() => Array.from(listeners.keys()))
    })

    return { server, network }
  })
)

/** An in-memory SocketServer, and the MemoryNetwork tests use to reach it. */
export const layer: Layer.Layer<SocketServer | MemoryNetwork> = Layer.effectContext(
  Effect.map(
    make,
    ({ network, server }) => Context.make(SocketServer, server).pipe(Context.add(MemoryNetwork, network))
  )
)

export type { Peer } from "./MemoryPipe.ts"

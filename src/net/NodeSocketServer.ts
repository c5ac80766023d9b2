import type { Context } from "effect"
import { Duration, Effect, Layer } from "effect"
import * as net from "node:net"
import { type AcceptQueue, makeAcceptQueue } from "./AcceptQueue.ts"
import { AcceptError, ListenError } from "./errors.ts"
import { formatHostPort } from "./hostPort.ts"
import { probeDescriptor } from "./NodeDescriptors.ts"
import * as NodeSendQueues from "./NodeSendQueues.ts"
import type { SendQueues } from "./NodeSendQueues.ts"
import { fromSocket } from "./NodeStreamConnection.ts"
import { type Listener, type ListenOptions, SocketServer } from "./SocketServer.ts"

/**
 * Connections accepted by the kernel but not yet taken by `accept` wait here.
 * The server's accept loop takes them at once, so the bound only matters when
 * that loop is stuck; beyond it new connections are dropped.
 */
const acceptBacklog = 1024

const listenReasons: Record<string, ListenError["reason"]> = {
  EADDRINUSE: "AddressInUse",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EADDRNOTAVAIL: "AddressNotAvailable",
  ENOTFOUND: "AddressNotAvailable",
  EAI_AGAIN: "AddressNotAvailable"
}

const listenMessages: Record<ListenError["reason"], string> = {
  AddressInUse: "address already in use",
  PermissionDenied: "permission denied",
  AddressNotAvailable: "address not available",
  Unknown: "failed"
}

const toListenError = ({ host, port }: ListenOptions, error: Error): ListenError => {
  const code = (error as NodeJS.ErrnoException).code ?? ""
  const reason = listenReasons[code] ?? "Unknown"
  const detail = reason === "Unknown" ? `: ${error.message}` : code === "" ? "" : ` (${code})`
  return new ListenError({
    host,
    port,
    reason,
    message: `cannot listen on ${formatHostPort(host, port)}: ${listenMessages[reason]}${detail}`,
    cause: error
  })
}

const outOfDescriptors = new Set(["EMFILE", "ENFILE"])

const toAcceptError = (address: net.AddressInfo, error: Error): AcceptError => {
  const code = (error as NodeJS.ErrnoException).code ?? ""
  const where = formatHostPort(address.address, address.port)
  return outOfDescriptors.has(code)
    ? new AcceptError({
      reason: "OutOfDescriptors",
      message: `cannot accept connections on ${where}: out of file descriptors (${code})`,
      cause: error
    })
    : new AcceptError({
      reason: "Unknown",
      message: `cannot accept a connection on ${where}: ${error.message}`,
      cause: error
    })
}

/** Starts `server` listening as `options` say; fails with the reason the port could not be had. */
export const listenOn = <S extends net.Server>(server: S, options: ListenOptions): Effect.Effect<S, ListenError> =>
  Effect.async<S, ListenError>((resume) => {
    const onError = (error: Error) => {
      server.off("listening", onListening)
      resume(Effect.fail(toListenError(options, error)))
    }
    const onListening = () => {
      server.off("error", onError)
      resume(Effect.succeed(server))
    }
    server.once("error", onError)
    server.once("listening", onListening)
    try {
      server.listen({ host: options.host, port: options.port })
    } catch (error) {
      // An out-of-range port or a malformed option throws instead of emitting 'error'.
      onError(error instanceof Error ? error : new Error(String(error)))
    }
  })

const open = (options: ListenOptions) =>
  Effect.suspend(() =>
    listenOn(net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }), options)
  )

const makeListener = (
  server: net.Server,
  sendQueues: SendQueues
): { readonly listener: Listener; readonly queue: AcceptQueue } => {
  const address = server.address() as net.AddressInfo
  const queue = makeAcceptQueue(acceptBacklog)

  server.on("connection", (socket: net.Socket) => {
    if (!queue.offer(fromSocket(socket, { sendQueues }))) socket.destroy()
  })
  // Errors after listening come from accept (EMFILE, ...): Node keeps
  // listening, and the connections it did accept are unaffected. The accept
  // loop hears of them through the queue.
  server.on("error", (error) => queue.fail(toAcceptError(address, error)))

  // Closes the listening handle (the port is free at once) without waiting
  // for server.close's callback, which waits for every connection to end.
  const close = Effect.zipRight(
    Effect.sync(() => {
      if (server.listening) server.close(() => {})
    }),
    queue.close
  )

  return { listener: { host: address.address, port: address.port, accept: queue.take, close }, queue }
}

/** While listening, descriptors are probed this often: the one way to learn that accepts are refused. */
const DESCRIPTOR_PROBE_INTERVAL = Duration.seconds(1)

/**
 * Out of descriptors, libuv refuses connections without a word to Node (see
 * probeDescriptor): this fiber, in the listener's scope, probes once a
 * second and tells the accept loop through the queue.
 */
const watchDescriptors = (server: net.Server, fail: (error: AcceptError) => void) =>
  Effect.forever(
    Effect.zipRight(
      Effect.sleep(DESCRIPTOR_PROBE_INTERVAL),
      Effect.map(probeDescriptor, (result) => {
        if (result === "ok") return
        const error = new Error(`out of file descriptors (${result})`) as NodeJS.ErrnoException
        error.code = result
        fail(toAcceptError(server.address() as net.AddressInfo, error))
      })
    )
  )

/** The node:net SocketServer. */
export const make: Effect.Effect<Context.Tag.Service<typeof SocketServer>> = Effect.sync(() => {
  const sendQueues = NodeSendQueues.make()
  return SocketServer.of({
    listen: (options) =>
      Effect.gen(function*() {
        const server = yield* Effect.acquireRelease(open(options), (server) =>
          Effect.sync(() => {
            if (server.listening) server.close(() => {})
          }))
        const { listener, queue } = makeListener(server, sendQueues)
        yield* Effect.addFinalizer(() => listener.close)
        yield* Effect.forkScoped(watchDescriptors(server, queue.fail))
        return listener
      })
  })
})

export const layer: Layer.Layer<SocketServer> = Layer.effect(SocketServer, make)

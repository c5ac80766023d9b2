import type { Context } from "effect"
import { Effect, Layer } from "effect"
import * as net from "node:net"
import { makeAcceptQueue } from "./AcceptQueue.ts"
import { ListenError } from "./errors.ts"
import { formatHostPort } from "./hostPort.ts"
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

const open = (options: ListenOptions) =>
  Effect.async<net.Server, ListenError>((resume) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true })
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

const makeListener = (server: net.Server, sendQueues: SendQueues): Listener => {
  const address = server.address() as net.AddressInfo
  const queue = makeAcceptQueue(acceptBacklog)

  server.on("connection", (socket: net.Socket) => {
    if (!queue.offer(fromSocket(socket, sendQueues))) socket.destroy()
  })
  // Errors after listening come from accept (EMFILE, ...); Node keeps
  // listening, and the connections it did accept are unaffected.
  server.on("error", () => {})

  // Closes the listening handle (the port is free at once) without waiting
  // for server.close's callback, which waits for every connection to end.
  const close = Effect.zipRight(
    Effect.sync(() => {
      if (server.listening) server.close(() => {})
    }),
    queue.close
  )

  return { host: address.address, port: address.port, accept: queue.take, close }
}

/** The node:net SocketServer. */
export const make: Effect.Effect<Context.Tag.Service<typeof SocketServer>> = Effect.sync(() => {
  const sendQueues = NodeSendQueues.make()
  return SocketServer.of({
    listen: (options) =>
      Effect.acquireRelease(
        Effect.map(open(options), (server) => makeListener(server, sendQueues)),
        (listener) => listener.close
      )
  })
})

export const layer: Layer.Layer<SocketServer> = Layer.effect(SocketServer, make)

import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import type { Connection } from "../../src/net/Connection.ts"
import { Connector } from "../../src/net/Connector.ts"
import * as NodeConnector from "../../src/net/NodeConnector.ts"
import { makeCertificate } from "../support/certificate.ts"
import { bytes, readAll, writeUntilStalled } from "./helpers.ts"

let dir = ""
let key = ""
let cert = ""

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-tls-"))
  makeCertificate(dir)
  key = fs.readFileSync(path.join(dir, "key.pem"), "utf8")
  cert = fs.readFileSync(path.join(dir, "cert.pem"), "utf8")
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

interface Seen {
  servername: string | false | null | undefined
  alpn: string | false | null | undefined
}

/** A local TLS server that answers each connection with `handle`; records SNI and ALPN. */
const tlsServer = (handle: (socket: tls.TLSSocket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly port: number; readonly seen: Seen; readonly server: tls.Server }>((resume) => {
      const seen: Seen = { servername: undefined, alpn: undefined }
      const server = tls.createServer({ key, cert, ALPNProtocols: ["http/1.1"] }, (socket) => {
        seen.servername = socket.servername
        seen.alpn = socket.alpnProtocol
        socket.on("error", () => {})
        handle(socket)
      })
      server.on("tlsClientError", () => {})
      server.listen({ host: "127.0.0.1", port: 0 }, () =>
        resume(Effect.succeed({ port: (server.address() as net.AddressInfo).port, seen, server })))
    }),
    ({ server }) =>
      Effect.sync(() => server.close())
  )

/** Collects the request until FIN, then answers with its length. */
const answerLength = (socket: tls.TLSSocket) => {
  let got = 0
  socket.on("data", (d: Buffer) => (got += d.length))
  socket.on("end", () => socket.end(`got ${got}`))
}

const dialTls = (port: number, servername: string, verify: boolean) =>
  Effect.gen(function*() {
    const connector = yield* Connector
    const tcp = yield* connector.connect({ address: "127.0.0.1", family: 4 }, port, servername)
    return (yield* connector.startTls(tcp.connection, { servername, verify, ca: undefined })).connection
  })

const exchange = (connection: Connection, request: string) =>
  Effect.gen(function*() {
    yield* connection.write(bytes(request))
    yield* connection.end
    return yield* readAll(connection)
  })

describe("node:tls startTls", () => {
  it.scopedLive("verify=false: handshake with SNI and ALPN http/1.1, then a half-closed exchange", () =>
    Effect.gen(function*() {
      const { port, seen } = yield* tlsServer(answerLength)
      const connection = yield* dialTls(port, "localhost", false)
      expect(yield* exchange(connection, "hello")).toBe("got 5")
      expect(seen.servername).toBe("localhost")
      expect(seen.alpn).toBe("http/1.1")
    }).pipe(Effect.provide(NodeConnector.layer)))

  it.scopedLive("an IP literal is not sent as SNI", () =>
    Effect.gen(function*() {
      const { port, seen } = yield* tlsServer(answerLength)
      const connection = yield* dialTls(port, "127.0.0.1", false)
      expect(yield* exchange(connection, "hi")).toBe("got 2")
      expect(seen.servername).toBeFalsy()
    }).pipe(Effect.provide(NodeConnector.layer)))

  it.scopedLive("verify=true against a self-signed certificate fails with TlsError", () =>
    Effect.gen(function*() {
      const { port } = yield* tlsServer(answerLength)
      const error = yield* Effect.flip(dialTls(port, "localhost", true))
      expect(error._tag).toBe("TlsError")
      expect(error.message).toMatch(/certificate verification failed for localhost: .*self[- ]signed/)
    }).pipe(Effect.provide(NodeConnector.layer)))

  it.scopedLive("a peer that does not speak TLS fails the handshake with TlsError", () =>
    Effect.gen(function*() {
      const plain = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const server = net.createServer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"))
          server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const error = yield* Effect.flip(dialTls((plain.address() as net.AddressInfo).port, "localhost", false))
      expect(error._tag).toBe("TlsError")
      expect(error.message).toBe(
        "TLS handshake failed for localhost: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)"
      )
    }).pipe(Effect.provide(NodeConnector.layer)))

  it.scopedLive("a handshake that never completes is interruptible", () =>
    Effect.gen(function*() {
      const silent = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const server = net.createServer((socket) => socket.on("error", () => {}))
          server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const result = yield* dialTls((silent.address() as net.AddressInfo).port, "localhost", false).pipe(
        Effect.timeoutOption("200 millis")
      )
      expect(result).toEqual(Option.none())
    }).pipe(Effect.provide(NodeConnector.layer)))

  it.scopedLive("TLS writes to a peer that never reads stall like TCP ones", () =>
    Effect.gen(function*() {
      const { port } = yield* tlsServer((socket) => socket.pause())
      const connection = yield* dialTls(port, "localhost", false)
      const { written, stalled } = yield* writeUntilStalled(connection, new Uint8Array(64 * 1024), 256 * 1024 * 1024)
      expect(stalled).toBe(true)
      expect(written).toBeLessThan(64 * 1024 * 1024)
    }).pipe(Effect.provide(NodeConnector.layer)))
})

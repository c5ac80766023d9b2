import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as net from "node:net"
import * as os from "node:os"
import * as NodeSendQueues from "../../src/net/NodeSendQueues.ts"
import { fromSocket } from "../../src/net/NodeStreamConnection.ts"

const le = os.endianness() === "LE"

describe("NodeSendQueues: the kernel's send queue from /proc/net/tcp", () => {
  it("writes a socket's addresses as /proc does (IPv4, IPv6, IPv4-mapped)", () => {
    const v4 = NodeSendQueues.socketKey({
      localAddress: "127.0.0.1",
      localPort: 8080,
      remoteAddress: "10.0.0.2",
      remotePort: 51234
    })
    expect(v4).toEqual({ key: le ? "0100007F:1F90 0200000A:C822" : "7F000001:1F90 0A000002:C822", v6: false })
    const v6 = NodeSendQueues.socketKey({ localAddress: "::1", localPort: 80, remoteAddress: "::1", remotePort: 1 })
    const one = le ? "00000000000000000000000001000000" : "00000000000000000000000000000001"
    expect(v6).toEqual({ key: `${one}:0050 ${one}:0001`, v6: true })
    const mapped = NodeSendQueues.socketKey({
      localAddress: "::ffff:127.0.0.1",
      localPort: 80,
      remoteAddress: "::ffff:127.0.0.1",
      remotePort: 80
    })
    const m = le ? "0000000000000000FFFF00000100007F" : "00000000000000000000FFFF7F000001"
    expect(mapped).toEqual({ key: `${m}:0050 ${m}:0050`, v6: true })
    expect(
      NodeSendQueues.socketKey({
        localAddress: "fe80::1%eth0",
        localPort: 1,
        remoteAddress: "fe80::2%eth0",
        remotePort: 2
      })
    )
      .toBeDefined()
    // a destroyed socket has no addresses
    expect(NodeSendQueues.socketKey({})).toBeUndefined()
  })

  it("reads tx_queue of the wanted lines, the live one over a TIME_WAIT of the same tuple", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1",
      "   1: 0100007F:1F90 0100007F:C822 06 00000000:00000000 03:00001000 00000000     0        0 0 3",
      "   2: 0100007F:1F90 0100007F:C822 01 003A13FE:00000000 01:00000014 00000000  1000        0 2 1",
      "   3: 0100007F:1F90 0100007F:C823 01 00000010:00000000 01:00000014 00000000  1000        0 3 1"
    ].join("\n")
    const into = new Map<string, number>()
    NodeSendQueues.parseSendQueues(text, new Set(["0100007F:1F90 0100007F:C822"]), into)
    expect([...into]).toEqual([["0100007F:1F90 0100007F:C822", 0x3a13fe]])
  })

  it.live.skipIf(process.platform !== "linux")(
    "on Linux, a real socket's unacknowledged bytes: the queue a reader that stopped leaves, draining as it reads",
    () =>
      Effect.gen(function*() {
        const sendQueues = NodeSendQueues.make()
        const [serverSocket, client] = yield* Effect.promise(() =>
          new Promise<readonly [net.Socket, net.Socket]>((resolve) => {
            const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (accepted) => {
              server.close()
              resolve([accepted, client])
            })
            let client: net.Socket
            server.listen({ host: "127.0.0.1", port: 0 }, () => {
              client = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port })
              client.pause()
            })
          })
        )
        const conn = fromSocket(serverSocket, { sendQueues })
        expect(yield* conn.unacknowledged).toEqual(Option.some(0))
        // 16 MiB to a client that does not read: the kernel holds what the client's window does not take
        const writing = yield* Effect.fork(conn.write(new Uint8Array(16 * 1024 * 1024)))
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 300)))
        const stuck = Option.getOrThrow(yield* conn.unacknowledged)
        expect(stuck).toBeGreaterThan(0)
        expect(yield* conn.unacknowledged).toEqual(Option.some(stuck))
        // the client reads a megabyte: the queue moves, though Node's own count may not
        let read = 0
        yield* Effect.promise(() =>
          new Promise<void>((resolve) => {
            const take = () => {
              let chunk: Buffer | null
              while (read < 1024 * 1024 && (chunk = client.read()) !== null) read += chunk.length
              if (read >= 1024 * 1024) resolve()
              else setTimeout(take, 5)
            }
            take()
          })
        )
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
        expect(yield* conn.unacknowledged).not.toEqual(Option.some(stuck))
        client.destroy()
        yield* conn.destroy
        yield* Effect.exit(writing)
        expect(yield* conn.unacknowledged).toEqual(Option.none())
      }),
    20_000
  )
})

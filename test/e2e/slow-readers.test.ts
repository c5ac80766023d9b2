// Slow but steady readers against the built server, on real loopback sockets: --write-timeout drops
// only a reader that stops, and --grace lets a reading download finish. On loopback the kernel's send
// buffer grows to megabytes and frees space in large steps, so what Node hands the kernel stands still
// for seconds while the peer reads: the server watches the kernel's send queue (Linux) instead.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { byteAt, ensureBuilt, type Fixture, get, makeFixture, sleep, startServer, waitFor } from "./hostileSupport.ts"

const MiB = 1024 * 1024

interface Download {
  /** Resolves when the body is complete or the connection ended; with the body bytes that arrived. */
  readonly done: Promise<{ readonly status: number; readonly bodyBytes: number; readonly intact: boolean }>
  /** Stops reading (the socket stays open). */
  readonly stop: () => void
  readonly destroy: () => void
}

/**
 * GET `target` and read the response slowly: every `tickMs`, at most `perTick` bytes, or with
 * `bytesPerSecond` as much as keeps the average at that rate. The body is checked against byteAt.
 */
const slowDownload = (
  port: number,
  target: string,
  pace: { readonly tickMs: number; readonly perTick?: number; readonly bytesPerSecond?: number }
): Download => {
  const socket = net.connect({ host: "127.0.0.1", port })
  socket.on("error", () => {})
  socket.pause()
  socket.write(get(target))
  let head = Buffer.alloc(0)
  let status = 0
  let length = -1
  let bodyBytes = 0
  let intact = true
  let consumed = 0
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const done = new Promise<{ status: number; bodyBytes: number; intact: boolean }>((resolve) => {
    const finish = () => {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      resolve({ status, bodyBytes, intact })
    }
    const take = (chunk: Buffer) => {
      consumed += chunk.length
      let body = chunk
      if (length < 0) {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf("\r\n\r\n")
        if (end < 0) return
        const text = head.subarray(0, end).toString("latin1")
        status = Number(text.slice(9, 12))
        length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0)
        body = head.subarray(end + 4)
      }
      for (let i = 0; i < body.length; i++) if (body[i] !== byteAt(bodyBytes + i)) intact = false
      bodyBytes += body.length
      if (bodyBytes >= length) finish()
    }
    timer = setInterval(() => {
      const allowance = pace.bytesPerSecond === undefined
        ? pace.perTick!
        : Math.floor((pace.bytesPerSecond * (Date.now() - started)) / 1000) - consumed
      const want = Math.min(allowance, socket.readableLength)
      if (want > 0) {
        const chunk = socket.read(want) as Buffer | null
        if (chunk !== null) take(chunk)
      } else if (socket.readableLength === 0) socket.read(0)
    }, pace.tickMs)
    socket.on("close", finish)
  })
  return {
    done,
    stop: () => {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
    },
    destroy: () => socket.destroy()
  }
}

let fixture: Fixture

beforeAll(() => {
  ensureBuilt()
  fixture = makeFixture({ bigSize: 16 * MiB })
  const eight = Buffer.allocUnsafe(8 * MiB)
  for (let i = 0; i < eight.length; i++) eight[i] = byteAt(i)
  fs.writeFileSync(path.join(fixture.root, "eight.bin"), eight)
})

afterAll(() => fixture.cleanup())

/** The times (Date.now()) at which each "reader stalled" trace line was first seen, polled every 20 ms. */
const watchStalls = (stdout: () => string) => {
  const seen: Array<number> = []
  const timer = setInterval(() => {
    const count = (stdout().match(/ completed .* reader stalled/g) ?? []).length
    while (seen.length < count) seen.push(Date.now())
  }, 20)
  return { seen, stop: () => clearInterval(timer) }
}

describe.concurrent("--write-timeout on real sockets: a slow reader is served, a stopped one dropped", () => {
  it("4 KiB every 10 ms of a 16 MiB file with --write-timeout 2: never dropped, every byte intact", async () => {
    const server = await startServer(fixture.root, ["--write-timeout", "2"])
    try {
      const download = slowDownload(server.port, "/big.bin", { tickMs: 10, perTick: 4096 })
      const result = await download.done
      download.destroy()
      expect(result).toEqual({ status: 200, bodyBytes: 16 * MiB, intact: true })
      expect(server.stdout()).toMatch(/"GET \/big\.bin HTTP\/1\.1" 200 16777216 /)
    } finally {
      expect((await server.stop()).code).toBe(0)
    }
  }, 240_000)

  it("a reader that stops reading is dropped within about twice --write-timeout 2", async () => {
    const server = await startServer(fixture.root, ["--write-timeout", "2", "--trace"])
    const stalls = watchStalls(server.stdout)
    try {
      const download = slowDownload(server.port, "/big.bin", { tickMs: 10, perTick: 4096 })
      await sleep(3000)
      download.stop()
      const stoppedAt = Date.now()
      expect(await waitFor(() => stalls.seen.length > 0, 15_000)).toBe(true)
      const after = stalls.seen[0]! - stoppedAt
      // its last bytes still drain into its socket buffer; then one period to sample, one to confirm
      expect(after).toBeGreaterThan(1500)
      expect(after).toBeLessThan(6500)
      download.destroy()
    } finally {
      stalls.stop()
      expect((await server.stop()).code).toBe(0)
    }
  }, 60_000)

  it("curl --limit-rate 1M of the 16 MiB file with --write-timeout 10: the whole file", async () => {
    const server = await startServer(fixture.root, ["--write-timeout", "10"])
    try {
      // curl 7.88 first reads as fast as it can, then pauses until its average is down to the limit
      // (a pause of a few seconds here): after that it reads steadily
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          "curl",
          [
            "-s",
            "--limit-rate",
            "1M",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            "--max-time",
            "90",
            `http://127.0.0.1:${server.port}/big.bin`
          ],
          (error, stdout) => (error ? reject(error) : resolve(stdout))
        )
      )
      expect(out).toBe(`200 ${16 * MiB}`)
    } finally {
      expect((await server.stop()).code).toBe(0)
    }
  }, 120_000)
})

describe("--grace on real sockets", () => {
  it(
    "SIGINT 0.5 s into a 2 MB/s read of 8 MiB with --grace 10: the whole file, then exit 0; a non-reader goes quickly",
    async () => {
      const server = await startServer(fixture.root, ["--grace", "10", "--trace"])
      const stalls = watchStalls(server.stdout)
      try {
        const reader = slowDownload(server.port, "/eight.bin", { tickMs: 10, bytesPerSecond: 2_000_000 })
        const stuck = slowDownload(server.port, "/big.bin", { tickMs: 10, perTick: 0 })
        await sleep(500)
        const sentAt = Date.now()
        server.child.kill("SIGINT")
        const result = await reader.done
        expect(result).toEqual({ status: 200, bodyBytes: 8 * MiB, intact: true })
        const exit = await server.exited
        expect(exit.code).toBe(0)
        // the download took about 4 s in all: the exit follows it, well within the grace period
        expect(exit.at - sentAt).toBeLessThan(9000)
        // the client that never read was given up about half a second after the SIGINT
        expect(stalls.seen.length).toBe(1)
        expect(stalls.seen[0]! - sentAt).toBeLessThan(2000)
        reader.destroy()
        stuck.destroy()
      } finally {
        stalls.stop()
        await server.stop()
      }
    },
    60_000
  )
})

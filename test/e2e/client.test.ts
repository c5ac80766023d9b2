// End-to-end: the built CLI (dist/fiberhttp.js) against small raw servers
// written here on 127.0.0.1, port 0, each answering in one particular way.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import { makeCertificate } from "../support/certificate.ts"
import { bin, ensureBuilt, root, runClient as run } from "./support.ts"

const version = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version

interface RawServer {
  readonly port: number
  readonly url: string
  /** Request heads (and bodies) received, one string per connection. */
  readonly received: Array<string>
  readonly close: () => Promise<void>
}

const servers: Array<RawServer> = []

/**
 * A raw TCP server: `onRequest` is called once per complete request head on
 * a connection, with the socket and what arrived so far on it.
 */
const rawServer = (onRequest: (socket: net.Socket, request: string, index: number) => void): Promise<RawServer> =>
  new Promise((resolve) => {
    const received: Array<string> = []
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      const slot = received.push("") - 1
      let pending = ""
      let handled = 0
      socket.on("data", (data) => {
        received[slot] += data.toString("latin1")
        pending += data.toString("latin1")
        let end = pending.indexOf("\r\n\r\n")
        while (end >= 0) {
          const head = pending.slice(0, end + 4)
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
          if (pending.length < end + 4 + length) break
          pending = pending.slice(end + 4 + length)
          onRequest(socket, head, handled++)
          end = pending.indexOf("\r\n\r\n")
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      const handle: RawServer = {
        port,
        url: `http://127.0.0.1:${port}`,
        received,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      }
      servers.push(handle)
      resolve(handle)
    })
  })

const response = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

beforeAll(() => {
  ensureBuilt()
}, 60_000)

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

describe("fiberhttp client (built CLI) against raw servers", () => {
  it("prints the whole response and sends the default headers", async () => {
    const server = await rawServer((socket) => socket.write(response("hello", "X-Test: yes\r\n")))
    const result = await run([`127.0.0.1/index.html`, String(server.port)])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello")
    expect(server.received[0]).toBe(
      `GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUser-Agent: fiberhttp/${version}\r\nAccept: */*\r\n\r\n`
    )
  })

  it("reads a chunked body with trailers; -b prints the body alone", async () => {
    const server = await rawServer((socket) =>
      socket.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n"
      )
    )
    const result = await run(["-b", `${server.url}/`])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe("hello world")
  })

  it("is binary-safe", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256))
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\n\r\n`)
      socket.write(bytes)
    })
    const result = await run(["--body", `${server.url}/bin`])
    expect(result.code).toBe(0)
    expect(result.stdout.equals(bytes)).toBe(true)
  })

  it("waits out a slow drip, byte by byte", async () => {
    const body = "drip-drip"
    const server = await rawServer(async (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`)
      for (const c of body) {
        await sleep(15)
        socket.write(c)
      }
    })
    const result = await run(["-b", server.url])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe(body)
  })

  it("reads a body delimited by the close, and HEAD without a body", async () => {
    const server = await rawServer((socket, head) => {
      if (head.startsWith("HEAD")) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
      else socket.end("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
    })
    const untilClose = await run(["-b", server.url])
    expect(untilClose.code).toBe(0)
    expect(untilClose.stdout.toString()).toBe("until the end")
    const head = await run(["-X", "HEAD", server.url], 3000)
    expect(head.code).toBe(0)
    expect(head.stdout.toString()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
  })

  it("sends -d with Content-Length and curl's form Content-Type as a POST, and -H fields (a default one replaced in its place)", async () => {
    const server = await rawServer((socket) => socket.write(response("ok")))
    const result = await run(["-d", "a=1&b=2", "-H", "X-One: 1", "-H", "Accept: text/plain", server.url])
    expect(result.code).toBe(0)
    expect(server.received[0]).toBe(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUser-Agent: fiberhttp/${version}\r\nAccept: text/plain\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nX-One: 1\r\n\r\na=1&b=2`
    )
  })

  it("sends --data-file through the file system, streamed with its length; a missing file is exit 26", async () => {
    const server = await rawServer((socket) => socket.write(response("ok")))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-client-data-"))
    try {
      const file = path.join(dir, "payload.bin")
      const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251))
      fs.writeFileSync(file, payload)
      const result = await run(["--data-file", file, "-X", "PUT", "-b", server.url])
      expect(result.code).toBe(0)
      const received = Buffer.from(server.received[0]!, "latin1")
      const headEnd = received.indexOf("\r\n\r\n") + 4
      expect(received.subarray(0, headEnd).toString()).toContain("PUT / HTTP/1.1\r\n")
      expect(received.subarray(0, headEnd).toString()).toContain("\r\nContent-Length: 70000\r\n")
      expect(received.subarray(headEnd).equals(payload)).toBe(true)
      const missing = await run(["--data-file", path.join(dir, "nope"), server.url])
      expect(missing.code).toBe(26)
      expect(missing.stderr).toMatch(/^fiberhttp client: could not read .*nope: /)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("follows redirects with -L and stops beyond --max-redirects (exit 47)", async () => {
    const server = await rawServer((socket, head) => {
      const target = /^GET (\S+)/.exec(head)![1]!
      const n = Number(target.slice(1) || 0)
      if (target === "/loop") socket.write("HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
      else if (n < 3) socket.write(`HTTP/1.1 301 Moved\r\nLocation: /${n + 1}\r\nContent-Length: 3\r\n\r\nxyz`)
      else socket.write(response(`arrived at ${n}`))
    })
    const followed = await run(["-L", "-b", `${server.url}/0`])
    expect(followed.code).toBe(0)
    expect(followed.stdout.toString()).toBe("arrived at 3")
    // all on one kept-alive connection
    expect(server.received.length).toBe(1)
    const full = await run(["-L", `${server.url}/2`])
    expect(full.stdout.toString()).toBe(
      "HTTP/1.1 301 Moved\r\nLocation: /3\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\narrived at 3"
    )
    const notFollowed = await run([`${server.url}/0`])
    expect(notFollowed.code).toBe(0)
    expect(notFollowed.stdout.toString()).toContain("301 Moved")
    const loop = await run(["-L", "--max-redirects", "3", `${server.url}/loop`])
    expect(loop.code).toBe(47)
    expect(loop.stderr).toBe(`fiberhttp: ${server.url}/loop: more than 3 redirects (--max-redirects)\n`)
  })

  it("fails with 18 on a truncated body, 52 on an empty reply, 8 on a malformed response", async () => {
    const truncated = await rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"))
    const t = await run(["-b", truncated.url])
    expect(t.code).toBe(18)
    expect(t.stdout.toString()).toBe("hello")
    expect(t.stderr).toContain(truncated.url)
    expect(t.stderr).toContain("closed before the response ended")

    const empty = await rawServer((socket) => socket.end())
    const e = await run([empty.url])
    expect(e.code).toBe(52)
    expect(e.stderr).toMatch(/^fiberhttp: http:\/\/127\.0\.0\.1:\d+\/: empty reply from server/)

    const malformed = await rawServer((socket) => socket.end("HTTP/1.1 OK 200\r\n\r\n"))
    const m = await run([malformed.url])
    expect(m.code).toBe(8)
    expect(m.stderr).toContain("malformed response (InvalidStatusLine)")
  })

  it("fails with 56 when the connection is reset mid-response", async () => {
    const server = await rawServer((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
      setTimeout(() => socket.resetAndDestroy(), 50)
    })
    const result = await run(["-b", server.url])
    expect(result.code).toBe(56)
    expect(result.stdout.toString()).toBe("partial")
    expect(result.stderr).toContain("connection reset by peer")
  })

  it("gives up on a server that never answers after --max-time (exit 28)", async () => {
    const server = await rawServer(() => {})
    const result = await run(["--max-time", "300ms", server.url])
    expect(result.code).toBe(28)
    expect(result.stderr).toContain("no complete response within 0.3 s (--max-time)")
    expect(result.ms).toBeLessThan(3000)
  })

  it("exits 130 on Ctrl-C while waiting for a response, so `client URL && next` stops", async () => {
    const holder: { child?: ReturnType<typeof spawn> } = {}
    const server = await rawServer(() => holder.child?.kill("SIGINT"))
    const child = spawn(process.execPath, [bin, "client", server.url], { stdio: "ignore" })
    holder.child = child
    const started = Date.now()
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
    expect(code).toBe(130)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it("fails with 7 on a refused port", async () => {
    const probe = net.createServer()
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()))
    const port = (probe.address() as net.AddressInfo).port
    await new Promise<void>((r) => probe.close(() => r()))
    const result = await run([`http://127.0.0.1:${port}/`])
    expect(result.code).toBe(7)
    expect(result.stderr).toContain("connection refused")
  })

  it("fails with 6 on a name that does not resolve, 23 when -o cannot be written, 55 when sending fails; one stderr line each", async () => {
    const unresolved = await run(["http://nonexistent.invalid/"])
    expect(unresolved.code).toBe(6)
    expect(unresolved.stderr).toBe(
      "fiberhttp: http://nonexistent.invalid/: cannot resolve nonexistent.invalid: name not found (ENOTFOUND)\n"
    )

    const server = await rawServer((socket) => socket.write(response("body")))
    const unwritable = await run(["-o", path.join(os.tmpdir(), "no-such-dir-fiberhttp", "x"), server.url])
    expect(unwritable.code).toBe(23)
    expect(unwritable.stderr).toMatch(
      new RegExp(`^fiberhttp: ${server.url}/: could not write .*no-such-dir-fiberhttp/x: [^\n]*\n$`)
    )

    // A server that never reads and then resets: the request body cannot all be sent.
    const sink = net.createServer((socket) => {
      socket.on("error", () => {})
      socket.pause()
      setTimeout(() => socket.resetAndDestroy(), 200)
    })
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", () => r()))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-send-"))
    const payload = path.join(dir, "payload.bin")
    fs.writeFileSync(payload, Buffer.alloc(32 * 1024 * 1024))
    try {
      const url = `http://127.0.0.1:${(sink.address() as net.AddressInfo).port}/`
      const unsent = await run(["--data-file", payload, url])
      expect(unsent.code).toBe(55)
      expect(unsent.stderr).toMatch(new RegExp(`^fiberhttp: ${url}: send failure: [^\n]*\n$`))
    } finally {
      sink.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("rejects bad URLs (3) and unknown flags (2) before any request", async () => {
    const badPort = await run(["http://127.0.0.1:70000/"])
    expect(badPort.code).toBe(3)
    expect(badPort.stderr).toContain("1 to 65535")
    const scheme = await run(["gopher://127.0.0.1/"])
    expect(scheme.code).toBe(3)
    expect(scheme.stderr).toContain("unsupported scheme \"gopher\"")
    const flag = await run(["--verbos", "http://127.0.0.1/"])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain("unknown option --verbos")
    const twice = await run(["--max-time", "10", "--max-time", "0.5", "http://127.0.0.1/"])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain("option --max-time given more than once")
    const valueless = await run(["http://127.0.0.1/", "--max-time"])
    expect(valueless.code).toBe(2)
    expect(valueless.stderr).toContain("option --max-time needs a value")
  })

  it("fetches several targets concurrently, prints them in order, exits with the first failure's code", async () => {
    const slow = await rawServer(async (socket) => {
      await sleep(150)
      socket.write(response("slow"))
    })
    const fast = await rawServer((socket) => socket.write(response("fast")))
    const empty = await rawServer((socket) => socket.end())
    const result = await run(["-b", slow.url, empty.url, fast.url])
    expect(result.code).toBe(52)
    expect(result.stdout.toString()).toBe(
      `==> ${slow.url}/ <==\nslow\n==> ${empty.url}/ <==\n\n==> ${fast.url}/ <==\nfast`
    )
    expect(result.stderr).toContain(`fiberhttp: ${empty.url}/: empty reply`)
    // concurrently: well under the sum of the delays if sequential would matter
    const json = await run(["--json", slow.url, fast.url])
    const lines = json.stdout.toString().trim().split("\n").map((l) => JSON.parse(l))
    expect(lines.map((l) => [l.url, l.status, l.bodyBytes])).toEqual([
      [`${slow.url}/`, 200, 4],
      [`${fast.url}/`, 200, 4]
    ])
    expect(lines[0].timings.totalMs).toBeGreaterThanOrEqual(150)
  })

  it("several large bodies at once arrive intact: what waits for its turn to print is its own copy", async () => {
    const pattern = (seed: number) => {
      const body = Buffer.alloc(3 * 1024 * 1024)
      for (let i = 0; i < body.length; i++) body[i] = (i * seed + (i >> 10)) & 0xff
      return body
    }
    const bodies = [pattern(7), pattern(13)]
    const servers = await Promise.all(
      bodies.map((body) =>
        rawServer((socket) => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`)
          socket.write(body)
        })
      )
    )
    const result = await run(["-b", servers[0]!.url, servers[1]!.url], 30_000)
    expect(result.code).toBe(0)
    expect(
      result.stdout.equals(
        Buffer.concat([
          Buffer.from(`==> ${servers[0]!.url}/ <==\n`),
          bodies[0]!,
          Buffer.from(`\n==> ${servers[1]!.url}/ <==\n`),
          bodies[1]!
        ])
      )
    ).toBe(true)
  })

  it("repeats on one kept-alive connection with --count and prints statistics", async () => {
    const server = await rawServer((socket) => socket.write(response("pong")))
    const result = await run(["--count", "4", "--interval", "10ms", server.url])
    expect(result.code).toBe(0)
    const lines = result.stdout.toString().trim().split("\n")
    expect(lines).toHaveLength(7)
    expect(lines[0]).toMatch(
      /^1: 200 OK {2}4 bytes {2}TCP connect \d+\.\d{3} ms {2}first byte \d+\.\d{3} ms {2}total \d+\.\d{3} ms$/
    )
    expect(lines[1]).toMatch(/^2: 200 OK {2}4 bytes {2}reused {2}first byte/)
    expect(lines[4]).toBe(`--- ${server.url}/: 4 requests, 4 answered, 0 failed ---`)
    expect(lines[5]).toMatch(/^round trip min\/avg\/max\/stddev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms$/)
    expect(lines[6]).toMatch(/^percentiles p50\/p90\/p99 = [\d.]+\/[\d.]+\/[\d.]+ ms$/)
    expect(server.received.length).toBe(1)
  })

  it("--ttl prints the connect and first-byte times before the response; --timing the waterfall on stderr", async () => {
    const server = await rawServer((socket) => socket.write(response("x")))
    const result = await run(["--ttl", "--timing", "127.0.0.1", String(server.port)])
    expect(result.code).toBe(0)
    const out = result.stdout.toString()
    expect(out).toMatch(/^RTT: TCP connect \d+\.\d{3} ms, first byte \d+\.\d{3} ms\nHTTP\/1\.1 200 OK\r\n/)
    // an IP literal is not looked up: no DNS phase
    expect(result.stderr).not.toContain("DNS lookup")
    for (const phase of ["TCP connect", "send", "wait", "receive", "first byte", "total"]) {
      expect(result.stderr).toMatch(new RegExp(`^  ${phase} +\\d+\\.\\d{3} ms`, "m"))
    }
    const named = await run(["--timing", "-b", `http://localhost:${server.port}/`])
    expect(named.stderr).toMatch(/^ {2}DNS lookup +\d+\.\d{3} ms/m)
  })

  it("saves the body with -o, nothing on stdout (the head with -i), no progress bar when stderr is not a terminal", async () => {
    const body = "x".repeat(100_000)
    const server = await rawServer((socket) => socket.write(response(body)))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-client-"))
    try {
      const file = path.join(dir, "out.txt")
      const result = await run(["-o", file, server.url])
      expect(result.code).toBe(0)
      expect(result.stdout.toString()).toBe("")
      expect(result.stderr).toBe("")
      expect(fs.readFileSync(file, "utf8")).toBe(body)
      const included = await run(["-i", "-o", file, server.url])
      expect(included.stdout.toString()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
      expect(fs.readFileSync(file, "utf8")).toBe(body)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("fiberhttp client (built CLI) over TLS", () => {
  let dir = ""
  let server: tls.Server | undefined
  let port = 0

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-client-tls-"))
    makeCertificate(dir)
    server = tls.createServer(
      { key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(path.join(dir, "cert.pem")) },
      (socket) => {
        socket.on("error", () => {})
        socket.once("data", () => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure`))
      }
    )
    server.on("tlsClientError", () => {})
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()))
    port = (server.address() as net.AddressInfo).port
  }, 30_000)

  afterAll(async () => {
    await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("with -k fetches over TLS despite the self-signed certificate", async () => {
    const result = await run(["-k", "-b", "--timing", `https://localhost:${port}/`])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe("secure")
    expect(result.stderr).toContain("TLS handshake")
  })

  it("without -k refuses the certificate (exit 60, as curl)", async () => {
    const result = await run([`https://localhost:${port}/`])
    expect(result.code).toBe(60)
    expect(result.stderr).toContain(`fiberhttp: https://localhost:${port}/: certificate verification failed`)
  })
})

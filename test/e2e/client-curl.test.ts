// End-to-end: the built CLI against raw servers on loopback, for what a curl
// user expects; where curl has the behaviour, curl on the same server is
// run alongside and must agree.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import * as zlib from "node:zlib"
import { makeCertificate } from "../support/certificate.ts"
import { bin, ensureBuilt, runClient as run } from "./support.ts"

interface Request {
  readonly head: string
  readonly body: Buffer
}

interface RawServer {
  readonly port: number
  readonly url: string
  /** Every request received, in order, over all connections. */
  readonly requests: Array<Request>
  readonly close: () => Promise<void>
}

const servers: Array<{ close: () => Promise<void> }> = []

/**
 * A raw TCP server: `answer` is called for each complete request (head and
 * Content-Length body) with the socket; it writes whatever it likes.
 */
const rawServer = (
  answer: (socket: net.Socket, request: Request, index: number) => void,
  options: { readonly onConnection?: (socket: net.Socket) => void; readonly tls?: tls.TlsOptions } = {}
): Promise<RawServer> =>
  new Promise((resolve) => {
    const requests: Array<Request> = []
    const sockets = new Set<net.Socket>()
    const onSocket = (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      options.onConnection?.(socket)
      let pending = Buffer.alloc(0)
      socket.on("data", (data: Buffer) => {
        pending = Buffer.concat([pending, data])
        while (true) {
          const end = pending.indexOf("\r\n\r\n")
          if (end < 0) return
          const head = pending.subarray(0, end + 4).toString("latin1")
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
          if (pending.length < end + 4 + length) return
          const request = { head, body: pending.subarray(end + 4, end + 4 + length) }
          pending = pending.subarray(end + 4 + length)
          requests.push(request)
          answer(socket, request, requests.length - 1)
        }
      })
    }
    const server = options.tls === undefined ? net.createServer(onSocket) : tls.createServer(options.tls, onSocket)
    server.on("tlsClientError", () => {})
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      const handle: RawServer = {
        port,
        url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
        requests,
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

const ok = (body: string | Buffer, extra = "") =>
  Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`, "latin1"),
    Buffer.isBuffer(body) ? body : Buffer.from(body, "latin1")
  ])

/** curl on this machine: its exit code and output (asynchronously: the servers run in this process). */
const curl = (args: ReadonlyArray<string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn("curl", ["-s", "--max-time", "5", ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("latin1")))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("latin1")))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const fieldOf = (head: string, name: string) => new RegExp(`\\r\\n${name}: *([^\\r]*)\\r\\n`, "i").exec(head)?.[1]

/** The client started for a signal or a pipe: resolves with its exit code and output. */
const start = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const child = spawn(process.execPath, [bin, "client", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`fiberhttp client ${args.join(" ")} did not exit`))
    }, 15_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
  return { child, exited, stdout: () => stdout }
}

const waitFor = async (condition: () => boolean, ms = 10_000) => {
  const until = Date.now() + ms
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time")
    await new Promise((r) => setTimeout(r, 20))
  }
}

let dir = ""

beforeAll(() => {
  ensureBuilt()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-curl-"))
}, 60_000)

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("credentials across origins (-L)", () => {
  const secrets = [
    "-H",
    "Authorization: Bearer SECRET",
    "-H",
    "Cookie: id=SECRET",
    "-H",
    "Proxy-Authorization: Basic SECRET"
  ]

  it("are not sent to another port after a redirect, as curl does; --location-trusted sends them", async () => {
    const target = await rawServer((socket) => socket.write(ok("there")))
    const origin = await rawServer((socket, request) =>
      socket.write(
        request.head.startsWith("GET /same")
          ? ok("here")
          : `HTTP/1.1 302 Found\r\nLocation: ${
            request.head.startsWith("GET /local") ? "/same" : `${target.url}/x`
          }\r\nContent-Length: 0\r\n\r\n`
      )
    )
    const result = await run(["-L", "-b", ...secrets, `${origin.url}/away`])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe("there")
    expect(fieldOf(origin.requests[0]!.head, "authorization")).toBe("Bearer SECRET")
    const seen = target.requests[0]!.head
    expect(seen).not.toContain("SECRET")
    // curl drops Authorization and Cookie too (it keeps Proxy-Authorization, meant for a proxy; there is none here)
    expect((await curl(["-L", ...secrets, `${origin.url}/away`])).code).toBe(0)
    expect(fieldOf(target.requests[1]!.head, "authorization")).toBeUndefined()
    expect(fieldOf(target.requests[1]!.head, "cookie")).toBeUndefined()

    const trusted = await run(["--location-trusted", "-b", ...secrets, `${origin.url}/away`])
    expect(trusted.code).toBe(0)
    const sent = target.requests[2]!.head
    expect(fieldOf(sent, "authorization")).toBe("Bearer SECRET")
    expect(fieldOf(sent, "cookie")).toBe("id=SECRET")
    expect(fieldOf(sent, "proxy-authorization")).toBe("Basic SECRET")

    // the same origin keeps them
    const local = await run(["-L", "-b", ...secrets, `${origin.url}/local`])
    expect(local.stdout.toString()).toBe("here")
    expect(fieldOf(origin.requests[origin.requests.length - 1]!.head, "authorization")).toBe("Bearer SECRET")
  })
})

describe("grouped short flags on the wire", () => {
  it("-bL, -Lb, -kbL and -XPOST apply every letter", async () => {
    const server = await rawServer((socket, request) =>
      socket.write(
        request.head.startsWith("GET /r ")
          ? "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n"
          : ok(request.head.split(" ")[0]!)
      )
    )
    for (const group of ["-bL", "-Lb"]) {
      const result = await run([group, `${server.url}/r`])
      expect({ group, code: result.code, out: result.stdout.toString() }).toEqual({ group, code: 0, out: "GET" })
    }
    expect((await run(["-bXPOST", `${server.url}/x`])).stdout.toString()).toBe("POST")
  })

  it("-kb over TLS with a self-signed certificate: both apply", async () => {
    const { server } = await secureServer("tls-kb")
    const url = `https://localhost:${server.port}/`
    const result = await run(["-kb", url])
    expect(result).toMatchObject({ code: 0, stderr: "" })
    expect(result.stdout.toString()).toBe("secure")
  })
})

/** A TLS server with a self-signed certificate made in `dir/name`, answering "secure" and closing. */
const secureServer = async (name: string) => {
  const certDir = path.join(dir, name)
  fs.mkdirSync(certDir)
  const { cert, key } = makeCertificate(certDir)
  const server = await rawServer((socket) => socket.end(ok("secure", "Connection: close\r\n")), {
    tls: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) }
  })
  return { certDir, server }
}

describe("exit 130 and 143 only for signals", () => {
  it("--count past a keep-alive timeout: a POST goes again on a new connection, as curl resends it", async () => {
    // closes each connection 100 ms after its last answer, as a short keep-alive timeout does
    const server = await rawServer((socket) => {
      socket.write(ok("ok"))
      socket.setTimeout(100, () => socket.destroy())
    })
    const result = await run(["--count", "3", "--interval", "300ms", "-d", "x", server.url])
    expect(result.code).toBe(0)
    expect(result.stderr).toBe("")
    const lines = result.stdout.toString().trim().split("\n")
    expect(lines.slice(0, 3).map((l) => l.slice(0, 10))).toEqual(["1: 200 OK ", "2: 200 OK ", "3: 200 OK "])
    expect(lines.some((l) => l.startsWith("--- ") && l.includes("3 requests"))).toBe(true)
    // each round's POST reached the server once, with its body
    expect(server.requests.map((r) => r.body.toString())).toEqual(["x", "x", "x"])
    const json = await run(["--count", "3", "--interval", "300ms", "-d", "x", "--json", server.url])
    expect(json.code).toBe(0)
    const rounds = JSON.parse(json.stdout.toString()).rounds
    expect(rounds.map((r: { status: number; reused: boolean }) => [r.status, r.reused])).toEqual([
      [200, false],
      [200, false],
      [200, false]
    ])
  })

  it("an early 413 to a large upload while -o cannot be written: 23 and one line, not 130", async () => {
    const upload = path.join(dir, "upload.bin")
    fs.writeFileSync(upload, Buffer.alloc(32 * 1024 * 1024, 120))
    const server = await rawServer(() => {}, {
      onConnection: (socket) =>
        socket.once(
          "data",
          () => socket.end("HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
        )
    })
    const result = await run(["--data-file", upload, "-o", path.join(dir, "no-such-dir", "x"), server.url], 20_000)
    expect(result.code).toBe(23)
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain("no such file or directory")
  })

  it("SIGTERM: 143 as curl; SIGINT during --count: the summary so far, then 130", async () => {
    const hanging = await rawServer(() => {})
    const term = start([hanging.url])
    await waitFor(() => hanging.requests.length === 1)
    term.child.kill("SIGTERM")
    expect((await term.exited).code).toBe(143)

    const server = await rawServer((socket) => socket.write(ok("ok")))
    const rounds = start(["--count", "100", "--interval", "100ms", server.url])
    await waitFor(() => rounds.stdout().split("\n").filter((l) => /^\d+: /.test(l)).length >= 2)
    rounds.child.kill("SIGINT")
    const ended = await rounds.exited
    expect(ended.code).toBe(130)
    expect(ended.stdout).toMatch(/--- http:\/\/127\.0\.0\.1:\d+\/: \d+ requests, \d+ answered, 0 failed ---\n/)
    expect(ended.stdout).toContain("round trip min/avg/max/stddev")

    const json = start(["--json", "--count", "100", "--interval", "100ms", server.url])
    const before = server.requests.length
    await waitFor(() => server.requests.length >= before + 2)
    json.child.kill("SIGINT")
    const jsonEnded = await json.exited
    expect(jsonEnded.code).toBe(130)
    const summary = JSON.parse(jsonEnded.stdout)
    expect(summary).toMatchObject({ interrupted: true })
    expect(summary.rounds.length).toBe(summary.requests)
  })
})

describe("--max-time", () => {
  // (curl stops such a flood on its own after 300 KiB of heads, with 56)
  it("ends a flood of 100 Continue heads on time, with 28", async () => {
    // interim heads as fast as the client takes them, until it goes away
    const flood = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n".repeat(4096), "latin1")
    const server = await rawServer((socket) => {
      const pump = () => {
        while (!socket.destroyed && socket.write(flood));
      }
      socket.on("drain", pump)
      pump()
    })
    const result = await run(["--max-time", "0.5", "-b", `${server.url}/`], 20_000)
    expect(result.code).toBe(28)
    expect(result.stderr).toMatch(/no complete response within 0\.5 s \(--max-time\)\n$/)
    // parsing the flood never returns to the event loop by itself: this took 5 s and more
    expect(result.ms).toBeLessThan(4000)
  })
})

describe("curl's exit numbers, checked against curl on the same server", () => {
  it("bad chunked framing 56, a reply that is not HTTP 1, --fail on 404 22", async () => {
    const badChunk = await rawServer((socket) =>
      socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    )
    const notHttp = await rawServer((socket) => socket.end("hello there\r\n\r\n"))
    const missing = await rawServer((socket) =>
      socket.write("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
    )
    for (
      const [url, args, expected] of [
        [badChunk.url, [], 56],
        [notHttp.url, [], 1],
        [missing.url, ["-f"], 22]
      ] as const
    ) {
      const ours = await run([...args, url])
      expect({ url, code: ours.code }).toEqual({ url, code: expected })
      expect({ url, code: (await curl([...args, url])).code }).toEqual({ url, code: expected })
      expect(ours.stderr.trim().split("\n")).toHaveLength(1)
    }
    expect((await run(["-f", missing.url])).stdout.toString()).toBe("")
  })

  it("certificate verification 60, and --cacert trusts the certificate", async () => {
    const { certDir, server } = await secureServer("tls-ca")
    const url = `https://localhost:${server.port}/`
    expect((await run([url])).code).toBe(60)
    expect((await curl([url])).code).toBe(60)
    const trusted = await run(["--cacert", path.join(certDir, "cert.pem"), "-b", url])
    expect({ code: trusted.code, out: trusted.stdout.toString() }).toEqual({ code: 0, out: "secure" })
    expect((await curl(["--cacert", path.join(certDir, "cert.pem"), url])).code).toBe(0)
    const capath = await run(["--capath", certDir, "-b", url])
    expect(capath.code).toBe(0)
    // NODE_EXTRA_CA_CERTS adds to the system's store: Node reads it at start
    const extra = await start(["-b", url], { NODE_EXTRA_CA_CERTS: path.join(certDir, "cert.pem") }).exited
    expect({ code: extra.code, out: extra.stdout }).toEqual({ code: 0, out: "secure" })
    const missingCa = await run(["--cacert", path.join(certDir, "nope.pem"), url])
    expect(missingCa.code).toBe(77)
    expect((await curl(["--cacert", path.join(certDir, "nope.pem"), url])).code).toBe(77)
  })
})

describe("curl's conventions", () => {
  it("-o - is stdout; -d @file strips line breaks and sends a form Content-Type unless -H sets one", async () => {
    const server = await rawServer((socket, request) => socket.write(ok(request.body)))
    expect((await run(["-o", "-", "-b", server.url])).stdout.toString()).toBe("")
    const form = path.join(dir, "form.txt")
    fs.writeFileSync(form, "a=1\r\n&b=2\n")
    const result = await run(["-b", "-d", `@${form}`, server.url])
    expect(result.stdout.toString()).toBe("a=1&b=2")
    const sent = server.requests[server.requests.length - 1]!.head
    expect(fieldOf(sent, "content-type")).toBe("application/x-www-form-urlencoded")
    expect(sent.startsWith("POST ")).toBe(true)
    await curl(["-d", `@${form}`, server.url])
    expect(server.requests[server.requests.length - 1]!.body.toString()).toBe("a=1&b=2")
    await run(["-d", "{}", "-H", "Content-Type: application/json", server.url])
    expect(fieldOf(server.requests[server.requests.length - 1]!.head, "content-type")).toBe("application/json")
    const missing = await run(["-d", `@${path.join(dir, "nope")}`, server.url])
    expect(missing.code).toBe(26)
    expect(missing.stderr).toBe(
      `fiberhttp client: could not read ${path.join(dir, "nope")}: no such file or directory\n`
    )
  })

  it("--ttl goes to stderr with -b and -o, so the body stays the body", async () => {
    const server = await rawServer((socket) => socket.write(ok("body")))
    const body = await run(["--ttl", "-b", server.url])
    expect(body.stdout.toString()).toBe("body")
    expect(body.stderr).toMatch(/^RTT: TCP connect/)
    const file = path.join(dir, "ttl.txt")
    const saved = await run(["--ttl", "-o", file, server.url])
    expect(saved.stdout.toString()).toBe("")
    expect(fs.readFileSync(file, "utf8")).toBe("body")
    expect(saved.stderr).toMatch(/^RTT: TCP connect/)
  })

  it("-I sends HEAD; -r sends a Range; -C - resumes a partial -o file as curl does", async () => {
    const content = "0123456789abcdefghij"
    const server = await rawServer((socket, request) => {
      const range = /\r\nrange: bytes=(\d+)-\r\n/i.exec(request.head)
      if (request.head.startsWith("HEAD ")) return socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n`)
      if (range === null) return socket.write(ok(content))
      const from = Number(range[1])
      if (from >= content.length) {
        return socket.write(
          `HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */20\r\nContent-Length: 0\r\n\r\n`
        )
      }
      socket.write(
        `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${from}-19/20\r\nContent-Length: ${20 - from}\r\n\r\n${
          content.slice(from)
        }`
      )
    })
    const head = await run(["-I", server.url])
    expect(head.stdout.toString()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n")
    expect(server.requests[server.requests.length - 1]!.head.startsWith("HEAD / ")).toBe(true)
    await run(["-r", "0-4", server.url])
    expect(fieldOf(server.requests[server.requests.length - 1]!.head, "range")).toBe("bytes=0-4")
    const file = path.join(dir, "resume.txt")
    fs.writeFileSync(file, content.slice(0, 7))
    const resumed = await run(["-C", "-", "-o", file, server.url])
    expect(resumed.code).toBe(0)
    expect(fs.readFileSync(file, "utf8")).toBe(content)
    // already whole: 416, nothing changes, success (curl's rule)
    const again = await run(["-C", "-", "-o", file, server.url])
    expect(again.code).toBe(0)
    expect(fs.readFileSync(file, "utf8")).toBe(content)
    const curlFile = path.join(dir, "resume-curl.txt")
    fs.writeFileSync(curlFile, content.slice(0, 7))
    expect((await curl(["-C", "-", "-o", curlFile, server.url])).code).toBe(0)
    expect(fs.readFileSync(curlFile, "utf8")).toBe(content)
  })

  it("--resolve and --connect-to send a name's request to another address; Host stays the name", async () => {
    const server = await rawServer((socket) => socket.write(ok("routed")))
    const resolved = await run([
      "-b",
      "--resolve",
      `example.test:${server.port}:127.0.0.1`,
      `http://example.test:${server.port}/`
    ])
    expect(resolved.stdout.toString()).toBe("routed")
    expect(fieldOf(server.requests[server.requests.length - 1]!.head, "host")).toBe(`example.test:${server.port}`)
    const connected = await run([
      "-b",
      "--connect-to",
      `example.test:80:127.0.0.1:${server.port}`,
      "http://example.test/"
    ])
    expect(connected.stdout.toString()).toBe("routed")
    expect(fieldOf(server.requests[server.requests.length - 1]!.head, "host")).toBe("example.test")
    expect((await curl(["--connect-to", `example.test:80:127.0.0.1:${server.port}`, "http://example.test/"])).stdout)
      .toBe("routed")
  })

  it("--retry tries again after a 503, waiting Retry-After; not after a 404", async () => {
    const server = await rawServer((socket, _request, index) =>
      socket.write(
        index === 0
          ? "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 4\r\n\r\nbusy"
          : ok("fine")
      )
    )
    const result = await run(["--retry", "2", server.url])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine")
    expect(result.stderr).toMatch(/503 Service Unavailable; retrying in 0 s \(2 retries left\)/)
    expect(server.requests).toHaveLength(2)
    const missing = await rawServer((socket) => socket.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
    await run(["--retry", "2", missing.url])
    expect(missing.requests).toHaveLength(1)
  })

  it("--compressed asks for br, gzip, deflate and decodes the body as it streams", async () => {
    const text = "compressible ".repeat(20_000)
    const gzipped = zlib.gzipSync(text)
    const server = await rawServer((socket, request) => {
      const accepted = fieldOf(request.head, "accept-encoding") ?? ""
      if (!accepted.includes("gzip")) return socket.write(ok(text))
      if (request.head.startsWith("HEAD ")) {
        return socket.write(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${gzipped.length}\r\n\r\n`)
      }
      // chunked, in pieces, so that decoding happens across reads
      socket.write("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
      for (let at = 0; at < gzipped.length; at += 1000) {
        const piece = gzipped.subarray(at, at + 1000)
        socket.write(`${piece.length.toString(16)}\r\n`)
        socket.write(piece)
        socket.write("\r\n")
      }
      socket.write("0\r\n\r\n")
    })
    const result = await run(["--compressed", "-b", server.url])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe(text)
    expect(fieldOf(server.requests[0]!.head, "accept-encoding")).toBe("br, gzip, deflate")
    // HEAD: no body, nothing to decode
    const head = await run(["--compressed", "-I", server.url])
    expect(head.code).toBe(0)
    const broken = await rawServer((socket) => socket.write(ok("not gzip at all", "Content-Encoding: gzip\r\n")))
    const failed = await run(["--compressed", "-b", broken.url])
    expect(failed.code).toBe(61)
    expect((await curl(["--compressed", broken.url])).code).toBe(61)
  })

  it("shows 103 Early Hints before the final head, trailers and remoteAddress in --json (close-delimited too)", async () => {
    const hints = await rawServer((socket) =>
      socket.write(
        "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Checksum: abc\r\n\r\n"
      )
    )
    const shown = await run([hints.url])
    expect(shown.stdout.toString()).toBe(
      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nok\r\nX-Checksum: abc\r\n"
    )
    expect((await curl(["-i", hints.url])).stdout).toContain("HTTP/1.1 103 Early Hints")
    const json = JSON.parse((await run(["--json", hints.url])).stdout.toString())
    expect(json).toMatchObject({ trailers: [["X-Checksum", "abc"]], remoteAddress: "127.0.0.1" })
    expect(json.interim).toEqual([{ status: 103, headers: [["Link", "</s.css>; rel=preload"]] }])
    // an HTTP/1.0 server that closes at once, as python's http.server does
    const closing = await rawServer((socket) => socket.end("HTTP/1.0 200 OK\r\n\r\nbye"))
    const closed = JSON.parse((await run(["--json", closing.url])).stdout.toString())
    expect(closed).toMatchObject({ remoteAddress: "127.0.0.1", bodyBytes: 3 })
  })
})

describe("response heads read as curl reads them (RFC 9112 sections 2.2, 5.2)", () => {
  it("unfolds obs-fold and accepts bare LF line ends, where it exited 8 before", async () => {
    const folded = await rawServer((socket) =>
      socket.end("HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\nContent-Length: 2\r\n\r\nok")
    )
    const json = JSON.parse((await run(["--json", folded.url])).stdout.toString())
    expect(json.headers).toEqual([["X-A", "one two"], ["Content-Length", "2"]])
    expect((await curl([folded.url])).code).toBe(0)
    const bareLf = await rawServer((socket) => socket.end("HTTP/1.1 200 OK\nX-A: one\nContent-Length: 2\n\nok"))
    const result = await run(["-b", bareLf.url])
    expect({ code: result.code, out: result.stdout.toString() }).toEqual({ code: 0, out: "ok" })
    expect(await curl([bareLf.url])).toMatchObject({ code: 0, stdout: "ok" })
  })
})

describe("usage errors", () => {
  it("say what is wrong, exit 2 or 3, one line, no request made", async () => {
    const cases: ReadonlyArray<[ReadonlyArray<string>, number, string]> = [
      [["http:/127.0.0.1:8080/x"], 3, "the scheme is followed by ://"],
      [["http://[::1"], 3, "[ of the IPv6 address is not closed"],
      [["--count", "x", "http://127.0.0.1:1/"], 2, "option --count: \"x\" is not an integer"],
      [["localhost:8080/x", "9090"], 2, "localhost:8080/x already names a port"],
      [["127.0.0.1", "abc"], 2, "\"abc\" is not a port"],
      [["--locaton", "http://127.0.0.1:1/"], 2, "unknown option --locaton (did you mean --location?)"],
      [["--data-file", "/nonexistent-dir", "http://127.0.0.1:1/"], 26, "could not read /nonexistent-dir: no such file"]
    ]
    for (const [args, code, text] of cases) {
      const result = await run(args)
      expect({ args, code: result.code }).toEqual({ args, code })
      expect(result.stderr).toContain(text)
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stderr).not.toMatch(/FileSystem|BadResource|NotFound:/)
    }
    const twice = await run(["--ttl", "--ttl", "--header=X: y", "-b", "http://127.0.0.1:1/"])
    expect(twice.code).toBe(7)
  })

  it("--help has no colour codes when stdout is not a terminal, or with NO_COLOR on a terminal", () => {
    for (const command of ["client", "server"]) {
      const help = spawnSync(process.execPath, [bin, command, "--help"], { encoding: "utf8" })
      expect(help.status).toBe(0)
      expect(help.stdout).toContain("USAGE")
      expect(help.stdout).not.toContain("\u001b[")
      // a terminal through util-linux's script(1): colours, unless NO_COLOR
      const onTerminal = (env: NodeJS.ProcessEnv) =>
        spawnSync("script", ["-qec", `"${process.execPath}" "${bin}" ${command} --help`, "/dev/null"], {
          encoding: "utf8",
          env: { ...process.env, ...env }
        }).stdout
      expect(onTerminal({ NO_COLOR: "" })).toContain("\u001b[")
      const plain = onTerminal({ NO_COLOR: "1" })
      expect(plain).toContain("USAGE")
      expect(plain).not.toContain("\u001b[")
    }
  })
})

describe("server command line", () => {
  const server = (...args: Array<string>) => spawnSync(process.execPath, [bin, "server", ...args], { encoding: "utf8" })

  it("a mistyped option is unknown, with the nearest name; a missing root is said plainly", () => {
    const mistyped = server("8080", "--lisitng")
    expect(mistyped.status).toBe(2)
    expect(mistyped.stderr).toBe(
      "fiberhttp server: unknown option --lisitng (did you mean --listing?); see fiberhttp server --help\n"
    )
    const missing = server("0", "--root", path.join(dir, "missing"))
    expect(missing.status).toBe(1)
    expect(missing.stderr).toBe(`fiberhttp server: no such directory: ${path.join(dir, "missing")}\n`)
  })
})

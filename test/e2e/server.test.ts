// End-to-end: the built CLI's server as a process, spoken to over raw TCP sockets.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const repo = path.resolve(import.meta.dirname, "../..")
const bin = path.join(repo, "dist/fiberhttp.js")
const bigSize = 16 * 1024 * 1024

let root = ""

interface Running {
  readonly child: ChildProcess
  readonly port: number
  /** Everything written to stdout so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
}

const start = (args: ReadonlyArray<string>): Promise<Running> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "server", "0", "--root", root, ...args], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((done) =>
      child.on("exit", (code, signal) => done({ code, signal, at: Date.now() }))
    )
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`server did not start: ${out} ${err}`))
    }, 15_000)
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    child.stdout!.on("data", (d: Buffer) => {
      const before = out
      out += d.toString()
      const port = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1]
      if (port !== undefined && !/http:\/\/127\.0\.0\.1:(\d+)\//.test(before)) {
        clearTimeout(timer)
        resolve({ child, port: Number(port), stdout: () => out, stderr: () => err, exited })
      }
    })
  })

interface Parsed {
  readonly status: number
  readonly headers: Map<string, string>
  readonly body: Buffer
}

/** A raw TCP client that reads Content-Length framed responses in order. */
class RawClient {
  private buffer = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  ended = false

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d])
      this.wake()
    })
    socket.on("end", () => {
      this.ended = true
      this.wake()
    })
    socket.on("close", () => {
      this.ended = true
      this.wake()
    })
    socket.on("error", () => {})
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => resolve(new RawClient(socket)))
      socket.once("error", reject)
    })
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w()
  }

  private more(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  send(text: string) {
    this.socket.write(text)
  }

  async response(options: { head?: boolean } = {}): Promise<Parsed | undefined> {
    let end = this.buffer.indexOf("\r\n\r\n")
    while (end === -1) {
      if (this.ended) return undefined
      await this.more()
      end = this.buffer.indexOf("\r\n\r\n")
    }
    const lines = this.buffer.subarray(0, end).toString("latin1").split("\r\n")
    const headers = new Map<string, string>()
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":")
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
    }
    const status = Number(lines[0]!.split(" ")[1])
    const length = options.head === true || status === 304 || status === 204
      ? 0
      : Number(headers.get("content-length") ?? 0)
    while (this.buffer.length < end + 4 + length && !this.ended) await this.more()
    const body = this.buffer.subarray(end + 4, end + 4 + length)
    this.buffer = this.buffer.subarray(end + 4 + length)
    return { status, headers, body }
  }

  /** Resolves once the server closed the connection. */
  async closed(): Promise<void> {
    while (!this.ended) await this.more()
  }
}

const get = (target: string, extra = "") => `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`

/** One request on a fresh connection. */
const fetchRaw = async (port: number, request: string, options: { head?: boolean } = {}) => {
  const client = await RawClient.connect(port)
  client.send(request)
  const response = await client.response(options)
  client.socket.destroy()
  return response!
}

const canBind = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = net.createServer()
    probe.once("error", () => resolve(false))
    probe.listen({ host: "127.0.0.1", port }, () => probe.close(() => resolve(true)))
  })

beforeAll(() => {
  if (!fs.existsSync(bin)) execFileSync("npm", ["run", "build"], { cwd: repo, stdio: "ignore" })
  root = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-e2e-server-"))
  fs.writeFileSync(path.join(root, "index.html"), "<!DOCTYPE html><link rel=stylesheet href=style.css><h1>home</h1>\n")
  fs.writeFileSync(path.join(root, "style.css"), "h1{color:teal}\n")
  fs.writeFileSync(path.join(root, "app.js"), "document.title='x'\n")
  fs.writeFileSync(path.join(root, "logo.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>\n")
  fs.writeFileSync(path.join(root, ".env"), "SECRET=1\n")
  fs.mkdirSync(path.join(root, "docs"))
  fs.writeFileSync(path.join(root, "docs", "index.htm"), "docs\n")
  fs.mkdirSync(path.join(root, "empty"))
  const big = Buffer.alloc(bigSize)
  for (let i = 0; i < bigSize; i++) big[i] = (i * 13 + (i >> 12)) & 0xff
  fs.writeFileSync(path.join(root, "big.bin"), big)
}, 120_000)

afterAll(() => {
  if (root !== "") fs.rmSync(root, { recursive: true, force: true })
})

describe("fiberhttp server (built CLI)", () => {
  let server: Running

  beforeAll(async () => {
    server = await start([])
  }, 30_000)

  afterAll(async () => {
    server.child.kill("SIGINT")
    await server.exited
  })

  it("prints the root and its URL, and serves files with type, length and validators", async () => {
    expect(server.stdout()).toContain(`serving ${fs.realpathSync(root)}`)
    const response = await fetchRaw(server.port, get("/style.css"))
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/css; charset=utf-8")
    expect(response.headers.get("content-length")).toBe("15")
    expect(response.headers.get("etag")).toMatch(/^".+"$/)
    expect(response.headers.get("last-modified")).toMatch(/GMT$/)
    expect(response.headers.get("server")).toBe(
      `fiberhttp/${JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")).version}`
    )
    expect(response.body.toString()).toBe("h1{color:teal}\n")
  })

  it("index rules: / gives index.html, a directory index.htm, a directory without its slash 301", async () => {
    expect((await fetchRaw(server.port, get("/"))).body.toString()).toContain("<h1>home</h1>")
    expect((await fetchRaw(server.port, get("/docs/"))).body.toString()).toBe("docs\n")
    const redirect = await fetchRaw(server.port, get("/docs"))
    expect(redirect.status).toBe(301)
    expect(redirect.headers.get("location")).toBe("/docs/")
    expect((await fetchRaw(server.port, get("/empty/"))).status).toBe(404)
  })

  it("404 for missing files and dotfiles; HEAD has the headers and no body", async () => {
    const missing = await fetchRaw(server.port, get("/nope.html"))
    expect(missing.status).toBe(404)
    expect(missing.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect((await fetchRaw(server.port, get("/.env"))).status).toBe(404)
    const client = await RawClient.connect(server.port)
    client.send(`HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n` + get("/style.css"))
    const head = (await client.response({ head: true }))!
    expect(head.status).toBe(200)
    expect(head.headers.get("content-length")).toBe(String(bigSize))
    // the next response follows at once: no body was sent for HEAD
    expect((await client.response())!.body.toString()).toBe("h1{color:teal}\n")
    client.socket.destroy()
  })

  it("304 on If-None-Match and If-Modified-Since; 206 for a range; 416 beyond the end", async () => {
    const first = await fetchRaw(server.port, get("/app.js"))
    const etag = first.headers.get("etag")!
    const lastModified = first.headers.get("last-modified")!
    expect((await fetchRaw(server.port, get("/app.js", `If-None-Match: ${etag}\r\n`))).status).toBe(304)
    expect((await fetchRaw(server.port, get("/app.js", `If-Modified-Since: ${lastModified}\r\n`))).status).toBe(304)
    const part = await fetchRaw(server.port, get("/big.bin", "Range: bytes=1000-1009\r\n"))
    expect(part.status).toBe(206)
    expect(part.headers.get("content-range")).toBe(`bytes 1000-1009/${bigSize}`)
    expect([...part.body]).toEqual(Array.from({ length: 10 }, (_, k) => ((1000 + k) * 13 + ((1000 + k) >> 12)) & 0xff))
    expect((await fetchRaw(server.port, get("/app.js", "Range: bytes=9999-\r\n"))).status).toBe(416)
  })

  it("never serves outside the root, whatever the encoding", async () => {
    const targets = [
      "/../../../etc/passwd",
      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2f..%2fetc%2fpasswd",
      "/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
      "/..%5c..%5c..%5cetc%5cpasswd",
      "//etc/passwd",
      "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
      "/docs/../../etc/passwd"
    ]
    for (const target of targets) {
      const response = await fetchRaw(server.port, get(target))
      expect([400, 404], target).toContain(response.status)
      expect(response.body.toString()).not.toContain("root:")
    }
  })

  it("a browser-like sequence on one keep-alive connection", async () => {
    const client = await RawClient.connect(server.port)
    const browser =
      "User-Agent: Mozilla/5.0\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n"
    const seen: Array<[number, string | undefined]> = []
    const etags = new Map<string, string>()
    for (const target of ["/", "/style.css", "/app.js", "/logo.svg", "/favicon.ico"]) {
      client.send(get(target, browser))
      const response = (await client.response())!
      seen.push([response.status, response.headers.get("content-type")])
      expect(response.headers.get("connection")).toBeUndefined()
      const etag = response.headers.get("etag")
      if (etag !== undefined) etags.set(target, etag)
    }
    expect(seen).toEqual([
      [200, "text/html; charset=utf-8"],
      [200, "text/css; charset=utf-8"],
      [200, "text/javascript; charset=utf-8"],
      [200, "image/svg+xml"],
      [404, "text/html; charset=utf-8"]
    ])
    // a reload revalidates each resource, pipelined
    client.send([...etags].map(([target, etag]) => get(target, `${browser}If-None-Match: ${etag}\r\n`)).join(""))
    for (let i = 0; i < etags.size; i++) expect((await client.response())!.status).toBe(304)
    expect(client.ended).toBe(false)
    client.socket.destroy()
  })

  it("Connection: close: the whole response, then FIN (never a reset), one log line each, 50 at once", async () => {
    const one = () =>
      new Promise<{ readonly got: string; readonly ended: string }>((resolve) => {
        const socket = net.connect(server.port, "127.0.0.1")
        let got = ""
        socket.on("data", (d: Buffer) => (got += d.toString("latin1")))
        socket.on("end", () => resolve({ got, ended: "end" }))
        socket.on("error", (error: NodeJS.ErrnoException) => resolve({ got, ended: error.code ?? "error" }))
        socket.write(get("/style.css?close-check", "Connection: close\r\n"))
      })
    const results = await Promise.all(Array.from({ length: 50 }, one))
    for (const { ended, got } of results) {
      expect(ended).toBe("end")
      expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(got).toContain("\r\nConnection: close\r\n")
      expect(got.endsWith("\r\n\r\nh1{color:teal}\n")).toBe(true)
    }
    await new Promise((r) => setTimeout(r, 100))
    expect(server.stdout().match(/"GET \/style\.css\?close-check HTTP\/1\.1" 200 15 /g)).toHaveLength(50)
  })

  it("logs one line per request with the connection and its fiber", async () => {
    await fetchRaw(server.port, get("/style.css?log-check"))
    await new Promise((r) => setTimeout(r, 100))
    expect(server.stdout()).toMatch(
      / 127\.0\.0\.1:\d+ c\d+#\d+ "GET \/style\.css\?log-check HTTP\/1\.1" 200 15 [\d.]+ms\n/
    )
  })
})

describe("fiberhttp server: command line and shutdown", () => {
  it("JSON access log lines with --log-format json", async () => {
    const server = await start(["--log-format", "json"])
    const announce = JSON.parse(server.stdout().split("\n")[0]!)
    expect(announce.urls).toEqual([`http://127.0.0.1:${server.port}/`])
    await fetchRaw(server.port, get("/app.js"))
    await new Promise((r) => setTimeout(r, 100))
    server.child.kill("SIGINT")
    await server.exited
    const line = JSON.parse(server.stdout().trim().split("\n").at(-1)!)
    expect(line).toMatchObject({ request: "GET /app.js HTTP/1.1", status: 200, bytes: 19 })
    expect(line.remote).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(line.connection).toMatch(/^c\d+$/)
    expect(line.fiber).toMatch(/^#\d+$/)
    expect(typeof line.durationMs).toBe("number")
  }, 30_000)

  it("a port right after an on/off option is a port (--quiet 0), not that option's value", async () => {
    const server = await start(["--quiet", "0"])
    const ports = [...server.stdout().matchAll(/http:\/\/127\.0\.0\.1:(\d+)\//g)].map((m) => Number(m[1]))
    expect(ports).toHaveLength(2)
    expect((await fetchRaw(ports[1]!, get("/style.css"))).status).toBe(200)
    await new Promise((r) => setTimeout(r, 100))
    server.child.kill("SIGINT")
    expect((await server.exited).code).toBe(0)
    // quiet: nothing after the start-up lines
    expect(server.stdout().trim().split("\n").at(-1)).toBe("Press Ctrl-C to stop.")
  }, 30_000)

  it("several ports: one listener each, all printed and served; IPv6 loopback with --host ::1", async () => {
    const two = await start(["0", "--quiet"])
    const ports = [...two.stdout().matchAll(/http:\/\/127\.0\.0\.1:(\d+)\//g)].map((m) => Number(m[1]))
    expect(ports).toHaveLength(2)
    expect(ports[0]).not.toBe(ports[1])
    for (const port of ports) expect((await fetchRaw(port, get("/style.css"))).status).toBe(200)
    two.child.kill("SIGINT")
    expect((await two.exited).code).toBe(0)

    const v6 = await new Promise<net.Server | undefined>((resolve) => {
      const probe = net.createServer()
      probe.once("error", () => resolve(undefined))
      probe.listen({ host: "::1", port: 0 }, () => resolve(probe))
    })
    if (v6 === undefined) return // no IPv6 loopback on this machine: nothing more to check
    v6.close()
    const child = spawn(process.execPath, [bin, "server", "0", "--root", root, "--host", "::1", "--quiet"], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    const port = await new Promise<number>((resolve) => {
      let out = ""
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString()
        const m = /http:\/\/\[::1\]:(\d+)\//.exec(out)
        if (m !== null) resolve(Number(m[1]))
      })
    })
    const response = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: "::1", port }, () => socket.end(get("/style.css", "Connection: close\r\n")))
      let text = ""
      socket.on("data", (d: Buffer) => (text += d.toString()))
      socket.on("end", () => resolve(text))
      socket.on("error", reject)
    })
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    child.kill("SIGINT")
    await new Promise((r) => child.on("exit", r))
  }, 30_000)

  it("a port in use: says which and exits 1; a bad port is a usage error (exit 2)", async () => {
    const holder = net.createServer()
    await new Promise<void>((r) => holder.listen({ host: "127.0.0.1", port: 0 }, r))
    const busy = (holder.address() as net.AddressInfo).port
    const run = (args: Array<string>) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, "server", ...args], { stdio: ["ignore", "ignore", "pipe"] })
        let err = ""
        child.stderr.on("data", (d: Buffer) => (err += d.toString()))
        child.on("exit", (code) => resolve({ code, err }))
      })
    const inUse = await run(["--root", root, "0", String(busy)])
    holder.close()
    expect(inUse.code).toBe(1)
    expect(inUse.err).toContain(`127.0.0.1:${busy}`)
    expect(inUse.err).toContain("address already in use")
    const bad = await run(["70000"])
    expect(bad.code).toBe(2)
    expect(bad.err).toContain("invalid port 70000")
  }, 30_000)

  it(
    "real timers: 408 after --header-timeout, a quiet close after --keep-alive-timeout, 503 past --max-connections",
    async () => {
      const server = await start([
        "--header-timeout",
        "0.3",
        "--keep-alive-timeout",
        "0.3",
        "--max-connections",
        "2",
        "--quiet"
      ])
      const slow = await RawClient.connect(server.port)
      slow.send("GET /app.js HTTP/1.1\r\nHost: x\r\n")
      const kept = await RawClient.connect(server.port)
      kept.send(get("/app.js"))
      expect((await kept.response())!.status).toBe(200)
      const third = await RawClient.connect(server.port)
      const refused = (await third.response())!
      expect(refused.status).toBe(503)
      third.socket.end()
      await third.closed()
      const timedOut = (await slow.response())!
      expect(timedOut.status).toBe(408)
      expect(timedOut.headers.get("connection")).toBe("close")
      slow.socket.end()
      await slow.closed()
      const idleSince = Date.now()
      await kept.closed()
      expect(Date.now() - idleSince).toBeLessThan(1000)
      server.child.kill("SIGINT")
      expect((await server.exited).code).toBe(0)
    },
    30_000
  )

  it("a client that stops reading mid-download is dropped after --write-timeout", async () => {
    const server = await start(["--write-timeout", "0.5", "--trace"])
    const stuck = await RawClient.connect(server.port)
    stuck.socket.pause()
    stuck.send(get("/big.bin"))
    const deadline = Date.now() + 10_000
    while (!server.stdout().includes("reader stalled") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(server.stdout()).toMatch(/completed parent=.* reader stalled/)
    expect(server.stdout()).toMatch(/"GET \/big\.bin HTTP\/1\.1" 200 \d+ /)
    stuck.socket.destroy()
    server.child.kill("SIGINT")
    expect((await server.exited).code).toBe(0)
  }, 30_000)

  it("SIGINT with idle and mid-headers connections: exits 0 within 1 s, port free at once", async () => {
    const server = await start(["--quiet"])
    const idle = await RawClient.connect(server.port)
    idle.send(get("/style.css"))
    await idle.response()
    const midHeaders = await RawClient.connect(server.port)
    midHeaders.send("GET /style.css HTTP/1.1\r\nHost: loc")
    const fresh = await RawClient.connect(server.port)
    await new Promise((r) => setTimeout(r, 100))
    const sent = Date.now()
    server.child.kill("SIGINT")
    const { code, at } = await server.exited
    expect(code).toBe(0)
    expect(at - sent).toBeLessThan(1000)
    await Promise.all([idle.closed(), midHeaders.closed(), fresh.closed()])
    expect(await canBind(server.port)).toBe(true)
  }, 30_000)

  it("SIGINT with idle, mid-headers and never-reading connections (default options): exits 0 within 1 s", async () => {
    const server = await start(["--trace"])
    const idle = await RawClient.connect(server.port)
    idle.send(get("/app.js"))
    await idle.response()
    const midHeaders = await RawClient.connect(server.port)
    midHeaders.send("GET /app.js HTTP/1.1\r\n")
    const stuck = await RawClient.connect(server.port)
    stuck.socket.pause()
    stuck.send(get("/big.bin"))
    // let the server fill the socket buffers and block on the write
    await new Promise((r) => setTimeout(r, 300))
    const sent = Date.now()
    server.child.kill("SIGINT")
    const { code, at } = await server.exited
    expect(code).toBe(0)
    expect(at - sent).toBeLessThan(1000)
    // the paused client notices the reset only once it reads again
    stuck.socket.resume()
    await Promise.all([idle.closed(), midHeaders.closed(), stuck.closed()])
    expect(await canBind(server.port)).toBe(true)
    // every connection fiber was finalized, then the server scope closed
    const out = server.stdout()
    expect(out.match(/ finalized /g)).toHaveLength(3)
    expect(out).toMatch(/reader stalled[\s\S]* trace server#\d+ closed /)
    stuck.socket.destroy()
  }, 30_000)

  it("SIGINT during a download that the client reads: the response completes within the grace period", async () => {
    // a grace period that a loaded machine's slow client (it copies its whole buffer per chunk) fits in
    const server = await start(["--quiet", "--grace", "10"])
    const client = await RawClient.connect(server.port)
    client.send(get("/big.bin"))
    await new Promise((r) => setTimeout(r, 20))
    server.child.kill("SIGINT")
    const response = (await client.response())!
    expect(response.status).toBe(200)
    expect(response.body.length).toBe(bigSize)
    await client.closed()
    expect((await server.exited).code).toBe(0)
  }, 30_000)
})

describe("fiberhttp server: hostile names and uploads (built CLI)", () => {
  let server: Running

  beforeAll(async () => {
    const dir = path.join(root, "listed")
    fs.mkdirSync(path.join(dir, "été et ça"), { recursive: true })
    for (const name of ["<img src=x onerror=alert(1)>.html", `q"&%.txt`, "it's here.txt", "a:b"]) {
      fs.writeFileSync(path.join(dir, name), "x\n")
    }
    server = await start(["--listing", "--trace"])
  }, 30_000)

  afterAll(async () => {
    server.child.kill("SIGINT")
    await server.exited
  })

  it("--listing: names escaped as text, percent-encoded as hrefs; nothing a browser would run", async () => {
    const page = (await fetchRaw(server.port, get("/listed/"))).body.toString()
    expect(page).not.toContain("<img")
    expect(page).toContain(
      `<a href="%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.html">&lt;img src=x onerror=alert(1)&gt;.html</a>`
    )
    expect(page).toContain(`<a href="q%22%26%25.txt">q&quot;&amp;%.txt</a>`)
    expect(page).toContain(`<a href="it&#39;s%20here.txt">it&#39;s here.txt</a>`)
    // not a scheme: a:b stays a relative reference
    expect(page).toContain(`<a href="a%3Ab">a:b</a>`)
    expect(page).toContain(`<a href="%C3%A9t%C3%A9%20et%20%C3%A7a/">été et ça/</a>`)
    // every href fetches what it names
    for (const href of page.matchAll(/href="([^"]+)"/g)) {
      const target = "/listed/" + href[1]!.replaceAll("&#39;", "'")
      const response = await fetchRaw(server.port, get(target))
      expect([200, 301], target).toContain(response.status)
    }
  })

  it("301 for a directory with spaces and non-ASCII: the Location is the percent-encoded path with its slash", async () => {
    const redirect = await fetchRaw(server.port, get("/listed/%C3%A9t%C3%A9%20et%20%C3%A7a?x=1"))
    expect(redirect.status).toBe(301)
    expect(redirect.headers.get("location")).toBe("/listed/%C3%A9t%C3%A9%20et%20%C3%A7a/?x=1")
    expect((await fetchRaw(server.port, get(redirect.headers.get("location")!))).status).toBe(200)
  })

  it("SIGINT with an upload half sent: exits 0 within 1 s, the connection finalized", async () => {
    const local = await start(["--quiet", "--trace"])
    const uploading = await RawClient.connect(local.port)
    uploading.send(`POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n${"a".repeat(100_000)}`)
    await new Promise((r) => setTimeout(r, 200))
    const sent = Date.now()
    local.child.kill("SIGINT")
    const { at, code } = await local.exited
    expect(code).toBe(0)
    expect(at - sent).toBeLessThan(1000)
    await uploading.closed()
    expect(local.stdout().match(/ finalized /g)).toHaveLength(1)
    expect(await canBind(local.port)).toBe(true)
  }, 30_000)
})

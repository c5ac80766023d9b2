// What the hostile-client suite shares with the soak script: the built server as a process, raw
// sockets that read what it answers byte for byte, its memory and descriptors from /proc, and a
// mixed load whose every answer is checked.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { bin, ensureBuilt, sleep } from "./support.ts"

export { bin, ensureBuilt, sleep }

/** Polls `condition` every 20 ms; resolves whether it held before `timeoutMs`. */
export const waitFor = async (condition: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

// ---------------------------------------------------------------------------------------------
// The served tree

export interface Fixture {
  /** The directory holding `root` and the secret beside it. */
  readonly parent: string
  /** What the server serves. */
  readonly root: string
  /** A file beside the root (in its parent): must never be served. */
  readonly secretPath: string
  /** The secret file's content: a marker no served file contains. */
  readonly secret: string
  /** What the small file holds, `/small.txt`. */
  readonly small: string
  /** Size of `/medium.bin` (streamed in chunks: over the one-read size). */
  readonly mediumSize: number
  /** Size of `/big.bin`, 0 when not made. */
  readonly bigSize: number
  /** The content of `/smuggled.txt`: a request for it hidden in a body must never be answered. */
  readonly smuggled: string
  readonly cleanup: () => void
}

/** The byte at offset `i` of the generated binary files. */
export const byteAt = (i: number): number => (i * 31 + (i >>> 11)) & 0xff

const pattern = (size: number): Buffer => {
  const out = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) out[i] = byteAt(i)
  return out
}

/**
 * A temporary tree: PARENT/secret.txt beside PARENT/root, whose files are
 * index.html, small.txt, medium.bin (600 KiB), smuggled.txt, sub/page.html,
 * a symlink to the secret (link-out), a symlink to the parent directory
 * (dir-out), and with `bigSize` a big.bin of that many bytes.
 */
export const makeFixture = (options: { readonly bigSize?: number } = {}): Fixture => {
  const parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-hostile-")))
  const root = path.join(parent, "root")
  const tag = Math.random().toString(36).slice(2)
  const secret = `TOP-SECRET-${tag}\n`
  const small = "small file\n"
  const smuggled = `SMUGGLED-${tag}\n`
  const mediumSize = 600 * 1024
  const bigSize = options.bigSize ?? 0
  fs.mkdirSync(path.join(root, "sub"), { recursive: true })
  fs.writeFileSync(path.join(parent, "secret.txt"), secret)
  fs.writeFileSync(path.join(root, "index.html"), "<!DOCTYPE html><h1>home</h1>\n")
  fs.writeFileSync(path.join(root, "small.txt"), small)
  fs.writeFileSync(path.join(root, "smuggled.txt"), smuggled)
  fs.writeFileSync(path.join(root, "medium.bin"), pattern(mediumSize))
  fs.writeFileSync(path.join(root, "sub", "page.html"), "<p>sub</p>\n")
  fs.symlinkSync(path.join(parent, "secret.txt"), path.join(root, "link-out"))
  fs.symlinkSync(parent, path.join(root, "dir-out"))
  if (bigSize > 0) {
    // written in slices so that a 64 MiB file never sits in memory twice
    const fd = fs.openSync(path.join(root, "big.bin"), "w")
    const slice = 4 * 1024 * 1024
    for (let at = 0; at < bigSize; at += slice) {
      const n = Math.min(slice, bigSize - at)
      const buf = Buffer.allocUnsafe(n)
      for (let i = 0; i < n; i++) buf[i] = byteAt(at + i)
      fs.writeSync(fd, buf)
    }
    fs.closeSync(fd)
  }
  return {
    parent,
    root,
    secretPath: path.join(parent, "secret.txt"),
    secret,
    small,
    mediumSize,
    bigSize,
    smuggled,
    cleanup: () => fs.rmSync(parent, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// The server process

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Date.now() at exit. */
  readonly at: number
}

export interface RunningServer {
  readonly child: ChildProcess
  readonly pid: number
  /** The first port. */
  readonly port: number
  /** Every port printed at start-up. */
  readonly ports: ReadonlyArray<number>
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<Exit>
  /** SIGINT, then the exit (SIGKILL after `timeoutMs`). */
  readonly stop: (timeoutMs?: number) => Promise<Exit>
}

/**
 * `fiberhttp server 0 --root ROOT ...args`, resolved once it printed its
 * URLs. Pass another "0" in `args` for a second listener; `maxFds` runs it
 * with that many file descriptors at most (ulimit -n); `bin` runs another
 * build (see `snapshotBuild`).
 */
export const startServer = (
  root: string,
  args: ReadonlyArray<string> = [],
  options: {
    readonly maxFds?: number
    readonly bin?: string
    /** Options for node itself, before the script (e.g. --heapsnapshot-signal=SIGUSR2). */
    readonly nodeOptions?: ReadonlyArray<string>
    readonly cwd?: string
  } = {}
): Promise<RunningServer> =>
  new Promise((resolve, reject) => {
    const command = [
      process.execPath,
      ...(options.nodeOptions ?? []),
      options.bin ?? bin,
      "server",
      "0",
      "--root",
      root,
      ...args
    ]
    const spawnOptions = {
      stdio: ["ignore", "pipe", "pipe"] as Array<"ignore" | "pipe">,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd })
    }
    // with maxFds, the shell lowers its descriptor limit and becomes the server (same pid)
    const child = options.maxFds === undefined
      ? spawn(command[0]!, command.slice(1), spawnOptions)
      : spawn("/bin/sh", ["-c", `ulimit -n ${options.maxFds} && exec "$@"`, "sh", ...command], spawnOptions)
    let out = ""
    let err = ""
    let started = false
    const exited = new Promise<Exit>((done) =>
      child.on("exit", (code, signal) => done({ code, signal, at: Date.now() }))
    )
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`server did not start: ${out} ${err}`))
    }, 20_000)
    void exited.then((exit) => {
      if (!started) {
        clearTimeout(timer)
        reject(new Error(`server exited at start (${exit.code ?? exit.signal}): ${out} ${err}`))
      }
    })
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      if (started || !out.includes("Press Ctrl-C to stop.")) return
      started = true
      clearTimeout(timer)
      const ports = [...out.matchAll(/http:\/\/127\.0\.0\.1:(\d+)\//g)].map((m) => Number(m[1]))
      const stop = async (timeoutMs = 10_000): Promise<Exit> => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT")
        const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
        const exit = await exited
        clearTimeout(killer)
        return exit
      }
      resolve({ child, pid: child.pid!, port: ports[0]!, ports, stdout: () => out, stderr: () => err, exited, stop })
    })
  })

/**
 * A copy of the built CLI in a temporary directory, for long runs: a rebuild
 * of dist/ meanwhile (others working in the tree) does not pull it away.
 */
export const snapshotBuild = (): { readonly bin: string; readonly cleanup: () => void } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-build-"))
  const dist = path.dirname(bin)
  for (const name of ["fiberhttp.js", "fiberhttp.cjs", "fiberhttp.cjs.cache"]) {
    if (fs.existsSync(path.join(dist, name))) fs.copyFileSync(path.join(dist, name), path.join(dir, name))
  }
  // the loader is an ES module
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }))
  return { bin: path.join(dir, "fiberhttp.js"), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/**
 * For a server started with `nodeOptions: ["--heapsnapshot-signal=SIGUSR2"]`
 * in `cwd`: has it write a heap snapshot (a full collection first) and
 * returns how many objects and bytes are alive, read from the snapshot.
 */
export const liveHeap = async (
  server: RunningServer,
  cwd: string,
  timeoutMs = 60_000
): Promise<{ readonly objects: number; readonly bytes: number }> => {
  const before = new Set(fs.readdirSync(cwd))
  server.child.kill("SIGUSR2")
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const file = fs.readdirSync(cwd).find((name) => name.endsWith(".heapsnapshot") && !before.has(name))
    if (file !== undefined) {
      const full = path.join(cwd, file)
      // written in one go, then closed: done once it parses
      try {
        const snapshot = JSON.parse(fs.readFileSync(full, "utf8")) as {
          snapshot: { meta: { node_fields: Array<string> }; node_count: number }
          nodes: Array<number>
        }
        fs.rmSync(full)
        const fields = snapshot.snapshot.meta.node_fields
        const size = fields.indexOf("self_size")
        let bytes = 0
        for (let i = size; i < snapshot.nodes.length; i += fields.length) bytes += snapshot.nodes[i]!
        return { objects: snapshot.snapshot.node_count, bytes }
      } catch {
        // still being written
      }
    }
    if (Date.now() > deadline) throw new Error("no heap snapshot")
    await sleep(200)
  }
}

/** Resident set size of a process, in bytes (VmRSS). */
export const rssOf = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? 0 : Number(m[1]) * 1024
}

/** Open file descriptors of a process. */
export const fdsOf = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length

/** Whether `port` can be bound on 127.0.0.1 right now. */
export const canBind = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = net.createServer()
    probe.once("error", () => resolve(false))
    probe.listen({ host: "127.0.0.1", port }, () => probe.close(() => resolve(true)))
  })

// ---------------------------------------------------------------------------------------------
// Raw responses

export interface Response {
  readonly status: number
  /** The status line, as sent. */
  readonly statusLine: string
  /** Lower-cased names; repeated names joined with ", ". */
  readonly headers: Map<string, string>
  readonly body: Buffer
}

/** The first whole response at `data[at]` and where it ends, or undefined when it is not all there (or not a response). */
export const parseOne = (
  data: Buffer,
  at: number,
  noBody: boolean
): { readonly response: Response; readonly next: number } | undefined => {
  const end = data.indexOf("\r\n\r\n", at)
  if (end === -1) return undefined
  const lines = data.subarray(at, end).toString("latin1").split("\r\n")
  const statusLine = lines[0]!
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine)
  if (m === null) return undefined
  const status = Number(m[1])
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":")
    const name = line.slice(0, colon).toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value)
  }
  const length = noBody || status === 204 || status === 304 || (status >= 100 && status < 200)
    ? 0
    : Number(headers.get("content-length") ?? 0)
  if (data.length < end + 4 + length) return undefined
  return {
    response: { status, statusLine, headers, body: data.subarray(end + 4, end + 4 + length) },
    next: end + 4 + length
  }
}

/**
 * Splits `data` into the responses it holds, in order. The server frames
 * every body by Content-Length; `noBody(i)` says which responses (by index)
 * answer HEAD. What is left after the last whole response is `rest`.
 */
export const parseResponses = (
  data: Buffer,
  noBody: (index: number) => boolean = () => false
): { readonly responses: Array<Response>; readonly rest: Buffer } => {
  const responses: Array<Response> = []
  let at = 0
  for (;;) {
    const one = parseOne(data, at, noBody(responses.length))
    if (one === undefined) break
    responses.push(one.response)
    at = one.next
  }
  return { responses, rest: data.subarray(at) }
}

export interface Exchange {
  /** Every byte the server sent. */
  readonly data: Buffer
  /** The server ended (FIN) or reset the connection. */
  readonly closed: boolean
  readonly reset: boolean
  /** From connect to the close (or the timeout). */
  readonly ms: number
}

/**
 * Connects, writes `input` (pieces in order, `gapMs` apart), and collects
 * what the server sends until it closes the connection or `timeoutMs`
 * passes (or shortly after `until` holds). With `end`, the client
 * half-closes after writing.
 */
export const exchange = (
  port: number,
  input: string | Buffer | ReadonlyArray<string | Buffer>,
  options: {
    readonly timeoutMs?: number
    readonly end?: boolean
    readonly gapMs?: number
    /** Stop early, 100 ms after what arrived satisfies this (to see that nothing more follows). */
    readonly until?: (data: Buffer) => boolean
  } = {}
): Promise<Exchange> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const chunks: Array<Buffer> = []
    let reset = false
    let settled = false
    const socket = net.connect({ host: "127.0.0.1", port })
    const finish = (closed: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ data: Buffer.concat(chunks), closed, reset, ms: Date.now() - started })
    }
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 5000)
    let enough = false
    socket.on("data", (d: Buffer) => {
      chunks.push(d)
      if (!enough && options.until?.(Buffer.concat(chunks)) === true) {
        enough = true
        setTimeout(() => finish(false), 100)
      }
    })
    socket.on("end", () => finish(true))
    socket.on("close", () => finish(true))
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED") {
        settled = true
        clearTimeout(timer)
        reject(error)
        return
      }
      reset = true
    })
    socket.on("connect", async () => {
      const pieces = typeof input === "string" || Buffer.isBuffer(input) ? [input] : input
      for (let i = 0; i < pieces.length; i++) {
        if (settled || socket.destroyed) return
        if (i > 0 && options.gapMs !== undefined) await sleep(options.gapMs)
        const piece = pieces[i]!
        socket.write(typeof piece === "string" ? Buffer.from(piece, "latin1") : piece)
      }
      if (options.end === true && !socket.destroyed) socket.end()
    })
  })

/** A raw connection that reads responses one at a time, for step-by-step exchanges. */
export class RawConnection {
  private buffer: Buffer = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  /** The server ended or reset the connection. */
  ended = false
  /** Date.now() when `ended` turned true. */
  endedAt = 0
  /** Date.now() when the connection was established. */
  readonly openedAt = Date.now()

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buffer = this.buffer.length === 0 ? d : Buffer.concat([this.buffer, d])
      this.wake()
    })
    const end = () => {
      if (!this.ended) {
        this.ended = true
        this.endedAt = Date.now()
      }
      this.wake()
    }
    socket.on("end", end)
    socket.on("close", end)
    socket.on("error", () => {})
  }

  static connect(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.off("error", reject)
        resolve(new RawConnection(socket))
      })
      socket.once("error", reject)
    })
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w()
  }

  private more(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data)
  }

  /** Bytes received and not yet taken as responses. */
  get buffered(): number {
    return this.buffer.length
  }

  /** The next response, or undefined if the connection ended first. */
  async response(options: { readonly head?: boolean } = {}): Promise<Response | undefined> {
    for (;;) {
      const one = parseOne(this.buffer, 0, options.head === true)
      if (one !== undefined) {
        this.buffer = this.buffer.subarray(one.next)
        return one.response
      }
      if (this.ended) return undefined
      await this.more()
    }
  }

  /** Resolves once the server closed the connection. */
  async closed(): Promise<void> {
    while (!this.ended) await this.more()
  }

  destroy(): void {
    this.socket.destroy()
  }
}

export const get = (target: string, extra = ""): string => `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`

/** The page the server sends for an error status: nothing else (no cause, no trace) may be in it. */
export const errorPageOf = (status: number, reason: string): string =>
  `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${status} ${reason}</title></head>` +
  `<body><h1>${status} ${reason}</h1></body></html>\n`

// ---------------------------------------------------------------------------------------------
// Mixed load

/** What a mixed load did, and whatever went wrong in it. */
export interface LoadReport {
  /** Requests whose response arrived and was as expected. */
  readonly ok: number
  /** Responses that were not what was asked for (wrong status, body, order). */
  readonly wrong: Array<string>
  /** Connections that ended in a way the script did not plan (reset, early close). */
  readonly broken: number
  /** Connections that could not be opened (after shutdown: refused). */
  readonly refused: number
  readonly ms: number
}

interface Step {
  readonly request: string
  readonly head: boolean
  readonly check: (r: Response) => string | undefined
}

const expectStatus = (status: number, body?: (b: Buffer) => boolean) => (r: Response): string | undefined =>
  r.status !== status
    ? `status ${r.status}, wanted ${status}`
    : body !== undefined && !body(r.body)
    ? `status ${status} with a wrong body (${r.body.length} bytes)`
    : undefined

const mediumRangeOk = (from: number, length: number) => (b: Buffer): boolean => {
  if (b.length !== length) return false
  for (let i = 0; i < length; i += 997) if (b[i] !== byteAt(from + i)) return false
  return b[length - 1] === byteAt(from + length - 1)
}

/** The requests a load draws from: each with the answer it must get. */
const steps = (fixture: Fixture): ReadonlyArray<Step> => {
  const small = Buffer.from(fixture.small)
  return [
    { request: get("/small.txt"), head: false, check: expectStatus(200, (b) => b.equals(small)) },
    { request: get("/index.html"), head: false, check: expectStatus(200, (b) => b.includes("<h1>home</h1>")) },
    { request: get("/missing.txt"), head: false, check: expectStatus(404) },
    { request: get("/sub"), head: false, check: expectStatus(301) },
    { request: get("/.hidden"), head: false, check: expectStatus(404) },
    { request: get("/%2e%2e/secret.txt"), head: false, check: expectStatus(404) },
    {
      request: `HEAD /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n`,
      head: true,
      check: (r) =>
        r.status !== 200 || r.headers.get("content-length") !== String(fixture.mediumSize)
          ? `HEAD: ${r.status}`
          : undefined
    },
    {
      request: get("/medium.bin", "Range: bytes=1000-4999\r\n"),
      head: false,
      check: expectStatus(206, mediumRangeOk(1000, 4000))
    },
    { request: get("/medium.bin", "Range: bytes=999999-\r\n"), head: false, check: expectStatus(416) },
    { request: get("/medium.bin"), head: false, check: expectStatus(200, mediumRangeOk(0, fixture.mediumSize)) },
    { request: `DELETE /small.txt HTTP/1.1\r\nHost: x\r\n\r\n`, head: false, check: expectStatus(405) },
    {
      request: `POST /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`,
      head: false,
      check: expectStatus(405)
    },
    { request: get("/small.txt", "If-None-Match: *\r\n"), head: false, check: expectStatus(304) }
  ]
}

/** A tiny deterministic generator, so a load is the same from run to run. */
export const random = (seed: number) => {
  let s = seed >>> 0 || 1
  return (n: number): number => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) % n
  }
}

/**
 * Runs `total` requests over `concurrency` workers against `port`, each
 * worker picking a pattern at a time: several requests one after another on
 * a kept-alive connection, one request with `Connection: close`, a batch
 * pipelined in one write, or a malformed request (400 and a close). Every
 * answer is checked. `stop()` ends it early (at shutdown: then broken
 * connections are expected); `onProgress` sees the count of finished requests.
 */
export const mixedLoad = (
  port: number,
  fixture: Fixture,
  options: {
    readonly total: number
    readonly concurrency?: number
    readonly seed?: number
    readonly signal?: { stopped: boolean }
    readonly timeoutMs?: number
    /** A connection still open after this is destroyed (and counted broken). */
    readonly connectionTimeoutMs?: number
  }
): Promise<LoadReport> => {
  const all = steps(fixture)
  const started = Date.now()
  const wrong: Array<string> = []
  let ok = 0
  let broken = 0
  let refused = 0
  let issued = 0
  const stopped = () => options.signal?.stopped === true || Date.now() - started > (options.timeoutMs ?? 600_000)

  const pickBatch = (next: (n: number) => number, max: number): Array<Step> =>
    Array.from({ length: Math.min(max, options.total - issued) }, () => all[next(all.length)]!)

  const worker = async (w: number) => {
    const next = random((options.seed ?? 1) * 7919 + w)
    while (issued < options.total && !stopped()) {
      const pattern = next(10)
      let conn: RawConnection
      try {
        conn = await RawConnection.connect(port)
      } catch {
        refused++
        if (stopped()) return
        await sleep(10)
        continue
      }
      // others may have issued the rest meanwhile
      if (issued >= options.total || stopped()) {
        conn.destroy()
        return
      }
      // a connection the server never answers or closes would hang the load: give it up after a while
      const guard = setTimeout(() => conn.destroy(), options.connectionTimeoutMs ?? 15_000)
      /** Reads the batch's responses in order (`before` runs ahead of each), checking each; stops at a close. */
      const readChecked = async (batch: ReadonlyArray<Step>, label: string, before: (step: Step) => void) => {
        for (const step of batch) {
          before(step)
          const r = await conn.response({ head: step.head })
          if (r === undefined) {
            broken++
            return
          }
          const problem = step.check(r)
          if (problem === undefined) ok++
          else wrong.push(`${label}${step.request.split("\r\n")[0]}: ${problem}`)
        }
      }
      try {
        if (pattern < 4) {
          // keep-alive: one request at a time
          const batch = pickBatch(next, 1 + next(8))
          issued += batch.length
          await readChecked(batch, "", (step) => conn.send(step.request))
        } else if (pattern < 6) {
          // pipelined: the whole batch in one write
          const batch = pickBatch(next, 2 + next(15))
          issued += batch.length
          conn.send(batch.map((s) => s.request).join(""))
          await readChecked(batch, "pipelined ", () => {})
        } else if (pattern < 9) {
          // one request, Connection: close
          const step = pickBatch(next, 1)[0]!
          issued++
          conn.send(step.request.replace("\r\n", "\r\nConnection: close\r\n"))
          const r = await conn.response({ head: step.head })
          if (r === undefined) broken++
          else {
            const problem = step.check(r) ??
              (r.headers.get("connection") === "close" ? undefined : "no Connection: close")
            if (problem === undefined) ok++
            else wrong.push(`close ${step.request.split("\r\n")[0]}: ${problem}`)
            await conn.closed()
          }
        } else {
          // malformed: 400 and a close
          issued++
          conn.send(`GET /small.txt HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n`)
          const r = await conn.response()
          if (r === undefined) broken++
          else if (r.status === 400 && r.headers.get("connection") === "close") ok++
          else wrong.push(`malformed: ${r.status}`)
          if (r !== undefined) await conn.closed()
        }
      } finally {
        clearTimeout(guard)
        conn.destroy()
      }
    }
  }

  return Promise.all(Array.from({ length: options.concurrency ?? 8 }, (_, w) => worker(w))).then(() => ({
    ok,
    wrong,
    broken,
    refused,
    ms: Date.now() - started
  }))
}

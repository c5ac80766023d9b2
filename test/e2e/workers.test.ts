// End-to-end: `server --workers`, real processes on loopback. Each server runs
// in its own process group (so a test can send SIGINT to the whole group, as
// a terminal does), and every group still alive after a test is killed.
import { afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { bin, ensureBuilt, until } from "./support.ts"

let root = ""
const groups = new Set<number>()

beforeAll(() => {
  ensureBuilt()
  root = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-workers-"))
  fs.writeFileSync(path.join(root, "index.html"), "<p>hello from a worker</p>\n")
})

afterEach(() => {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {}
  }
  groups.clear()
})

interface Server {
  readonly child: ChildProcess
  readonly port: number
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const run = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [bin, "server", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  groups.add(child.pid!)
  let out = ""
  let err = ""
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Starts `server 0 --root ROOT ...args` and waits for its start-up lines. */
const start = async (args: ReadonlyArray<string>): Promise<Server> => {
  const server = run(["0", "--root", root, ...args])
  await until(
    () => server.stdout().includes("Press Ctrl-C to stop.") || server.child.exitCode !== null,
    30_000,
    `the server to start: ${server.stdout()} ${server.stderr()}`
  )
  const port = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(server.stdout())?.[1]
  if (port === undefined) throw new Error(`no port: ${server.stdout()} ${server.stderr()}`)
  return { ...server, port: Number(port) }
}

/** A keep-alive connection that sends GETs and reads their (Content-Length framed) responses. */
class Client {
  private buffer = ""
  private waiters: Array<() => void> = []
  closed = false
  private constructor(readonly socket: net.Socket) {
    socket.setEncoding("latin1")
    socket.on("data", (d: string) => {
      this.buffer += d
      this.wake()
    })
    socket.on("close", () => {
      this.closed = true
      this.wake()
    })
    socket.on("error", () => {})
  }
  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => resolve(new Client(socket)))
      socket.once("error", reject)
    })
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w()
  }
  get localPort(): number {
    return this.socket.localPort!
  }
  /** The status of one GET /, or undefined when the connection closed instead. */
  async get(): Promise<number | undefined> {
    this.socket.write("GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n")
      if (end >= 0) {
        const length = Number(/content-length: *(\d+)/i.exec(this.buffer.slice(0, end))?.[1] ?? 0)
        if (this.buffer.length >= end + 4 + length) {
          const status = Number(this.buffer.slice(9, 12))
          this.buffer = this.buffer.slice(end + 4 + length)
          return status
        }
      }
      if (this.closed) return undefined
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }
  close() {
    this.socket.destroy()
  }
}

/** Access-log lines: the client port and the worker of each. */
const accessLines = (stdout: string) =>
  stdout.split("\n").flatMap((line) => {
    const m = /^\S+ 127\.0\.0\.1:(\d+) w(\d+):c\d+#\d+ "GET \/ HTTP\/1\.1" 200 /.exec(line)
    return m === null ? [] : [{ port: Number(m[1]), worker: Number(m[2]) }]
  })

/** Opens `count` connections at once and sends one GET on each; which worker served which. */
const spread = async (server: Server, count: number) => {
  const clients = await Promise.all(Array.from({ length: count }, () => Client.connect(server.port)))
  const statuses = await Promise.all(clients.map((c) => c.get()))
  expect(statuses.every((s) => s === 200)).toBe(true)
  const ports = new Set(clients.map((c) => c.localPort))
  await until(
    () => accessLines(server.stdout()).filter((l) => ports.has(l.port)).length === count,
    10_000,
    "the access lines"
  )
  const workerOf = new Map(accessLines(server.stdout()).map((l) => [l.port, l.worker]))
  return clients.map((client) => ({ client, worker: workerOf.get(client.localPort)! }))
}

/** Connections until at least two workers have some (the kernel picks which worker accepts). */
const spreadOverTwo = async (server: Server) => {
  const all: Array<{ client: Client; worker: number }> = []
  for (let round = 0; round < 10 && new Set(all.map((c) => c.worker)).size < 2; round++) {
    all.push(...(await spread(server, 20)))
  }
  expect(new Set(all.map((c) => c.worker)).size).toBeGreaterThanOrEqual(2)
  return all
}

/** The pid of each worker, from the primary's --trace lines ("w2#25 worker-listening ... "). */
const workerPids = (stdout: string) =>
  new Map(
    [...stdout.matchAll(/ trace w(\d+)#\d+ worker-forked parent=\S+ pid (\d+)/g)].map((m) => [
      Number(m[1]),
      Number(m[2])
    ])
  )

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = net.createServer()
    probe.once("error", () => resolve(false))
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)))
  })

describe("server --workers", () => {
  it("serves from more than one worker: one access line per request with the worker in the connection id, start-up lines once", async () => {
    const server = await start(["--workers", "2"])
    expect(server.stdout().match(/Press Ctrl-C to stop\./g)?.length).toBe(1)
    expect(server.stdout()).toContain(" with 2 worker processes\n")
    const served = await spreadOverTwo(server)
    // one line per request, no more
    expect(accessLines(server.stdout()).length).toBe(served.length)
    for (const { client } of served) client.close()
    process.kill(server.child.pid!, "SIGTERM")
    expect(await server.exited).toEqual({ code: 0, signal: null })
  })

  it("Ctrl-C (SIGINT to the whole process group): ordered shutdown, exit 0, every worker gone, the port free", async () => {
    const server = await start(["--workers", "2", "--trace"])
    const served = await spreadOverTwo(server)
    const pids = [...workerPids(server.stdout()).values()]
    expect(pids.length).toBe(2)
    // as a terminal does: the signal reaches the primary and every worker
    process.kill(-server.child.pid!, "SIGINT")
    expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(await canBind(server.port)).toBe(true)
    for (const pid of pids) expect(alive(pid)).toBe(false)
    // each worker was asked by the primary and ran its own shutdown; none was restarted
    for (const id of [1, 2]) {
      expect(server.stdout()).toMatch(new RegExp(`trace w${id}#\\d+ worker-stopping `))
      expect(server.stdout()).toMatch(new RegExp(`trace w${id}:server#\\d+ closed `))
      expect(server.stdout()).toMatch(new RegExp(`trace w${id}#\\d+ worker-exited .* exited with status 0`))
    }
    expect(server.stdout()).not.toMatch(/trace w3#/)
    expect(server.stderr()).toBe("")
    // the idle connections were closed by the shutdown
    await until(() => served.every(({ client }) => client.closed), 5_000, "the connections to close")
  })

  it("SIGTERM to the primary with 200 connections open: exit 0, every connection closed, the port free", async () => {
    const server = await start(["--workers", "2", "--keep-alive-timeout", "60"])
    const clients = await Promise.all(Array.from({ length: 200 }, () => Client.connect(server.port)))
    // some have had a response, the others have sent nothing yet
    expect(await Promise.all(clients.slice(0, 50).map((c) => c.get()))).toEqual(Array(50).fill(200))
    process.kill(server.child.pid!, "SIGTERM")
    expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(await canBind(server.port)).toBe(true)
    await until(() => clients.every((c) => c.closed), 5_000, "every connection to close")
    expect(server.stderr()).toBe("")
  })

  it("a worker killed with SIGKILL loses only its own connections and is replaced", async () => {
    const server = await start(["--workers", "2", "--trace", "--keep-alive-timeout", "60"])
    const served = await spreadOverTwo(server)
    const victim = served[0]!.worker
    const pid = workerPids(server.stdout()).get(victim)!
    process.kill(pid, "SIGKILL")
    const mine = served.filter((c) => c.worker === victim)
    const others = served.filter((c) => c.worker !== victim)
    await until(() => mine.every(({ client }) => client.closed), 5_000, "the killed worker's connections to close")
    // the other worker's connections go on, on the same connection
    for (const { client } of others) expect(await client.get()).toBe(200)
    expect(others.every(({ client }) => !client.closed)).toBe(true)
    await until(
      () => /error: worker w\d+ \(pid \d+\) was killed by SIGKILL; starting another in 100 ms/.test(server.stderr()),
      5_000,
      "the restart message"
    )
    expect(server.stderr()).toContain(`error: worker w${victim} (pid ${pid}) was killed by SIGKILL`)
    await until(() => / trace w3#\d+ worker-listening /.test(server.stdout()), 15_000, "the replacement")
    // start-up lines are not printed again for the replacement
    expect(server.stdout().match(/Press Ctrl-C to stop\./g)?.length).toBe(1)
    const after = await spread(server, 10)
    expect(after.every(({ worker }) => worker !== victim)).toBe(true)
    for (const { client } of [...others, ...after]) client.close()
    process.kill(server.child.pid!, "SIGINT")
    expect(await server.exited).toEqual({ code: 0, signal: null })
  })

  it("a primary killed with SIGKILL: its workers shut down by themselves and free the port", async () => {
    const server = await start(["--workers", "2", "--trace"])
    const pids = [...workerPids(server.stdout()).values()]
    expect(pids.length).toBe(2)
    process.kill(server.child.pid!, "SIGKILL")
    await server.exited
    await until(() => pids.every((pid) => !alive(pid)), 10_000, "the workers to exit")
    expect(await canBind(server.port)).toBe(true)
  })

  it("more restarts within a minute than --max-restarts: the server stops with status 1 and says why", async () => {
    const server = await start(["--workers", "2", "--trace", "--max-restarts", "1"])
    const pids = workerPids(server.stdout())
    process.kill(pids.get(1)!, "SIGKILL")
    await until(() => / trace w3#\d+ worker-listening /.test(server.stdout()), 15_000, "the replacement")
    process.kill(workerPids(server.stdout()).get(3)!, "SIGKILL")
    expect((await server.exited).code).toBe(1)
    expect(server.stderr()).toMatch(
      /fiberhttp server: workers died 2 times within a minute \(the last, w3, was killed by SIGKILL\); giving up\n$/
    )
    // the worker still running was stopped on the way out
    expect(alive(pids.get(2)!)).toBe(false)
  })

  it("--workers auto runs one worker per core (a single process on one core)", async () => {
    const cores = os.availableParallelism()
    const server = await start(["--workers", "auto"])
    if (cores > 1) expect(server.stdout()).toContain(` with ${cores} worker processes\n`)
    else expect(server.stdout()).not.toContain("worker processes")
    process.kill(server.child.pid!, "SIGINT")
    expect(await server.exited).toEqual({ code: 0, signal: null })
  })

  it("a port in use: said once (by the first worker), exit 1", async () => {
    const holder = net.createServer()
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve))
    const port = (holder.address() as net.AddressInfo).port
    try {
      const server = run([String(port), "--root", root, "--workers", "3"])
      expect((await server.exited).code).toBe(1)
      expect(server.stderr()).toBe(
        `fiberhttp server: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)\n`
      )
    } finally {
      holder.close()
    }
  })

  it("server --help describes --workers and --max-restarts", async () => {
    const help = run(["--help"])
    expect((await help.exited).code).toBe(0)
    expect(help.stdout()).toContain("--workers N|auto")
    expect(help.stdout()).toContain("auto: one per core")
    expect(help.stdout()).toContain("--max-restarts N")
  })

  it.each(["0", "-1", "two", "1025", "1.5", ""])("--workers %j is a usage error (exit 2)", async (value) => {
    const server = run(["0", "--root", root, "--workers", value])
    expect((await server.exited).code).toBe(2)
    expect(server.stderr()).toContain("--workers must be auto or a whole number from 1 to 1024")
  })
})

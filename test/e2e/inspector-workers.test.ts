// End-to-end: `server --workers 2 --inspector`, real processes on loopback, checked with curl: the
// primary's snapshot lists both workers with the connections each holds, and on SIGINT (sent to the
// process group, as a terminal does) the event stream shows each worker's shutdown in order, then
// the primary's end, then ends.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { curl } from "./devSupport.ts"
import { bin, ensureBuilt, sleep, until } from "./support.ts"

let root = ""
const groups = new Set<number>()
const sockets: Array<net.Socket> = []

beforeAll(() => {
  ensureBuilt()
  root = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-e2e-inspector-workers-"))
  fs.writeFileSync(path.join(root, "index.html"), "<p>hello</p>\n")
}, 60_000)

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {}
  }
  groups.clear()
})

afterAll(() => {
  if (root !== "") fs.rmSync(root, { recursive: true, force: true })
})

interface Started {
  readonly child: ChildProcess
  readonly site: number
  readonly inspector: number
  readonly exited: Promise<number | null>
  readonly stdout: () => string
}

const start = async (): Promise<Started> => {
  const child = spawn(
    process.execPath,
    [bin, "server", "0", "--root", root, "--workers", "2", "--inspector", "--quiet"],
    { stdio: ["ignore", "pipe", "pipe"], detached: true }
  )
  groups.add(child.pid!)
  let out = ""
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  await until(() => out.includes("Press Ctrl-C to stop.") || child.exitCode !== null, 30_000, `start-up: ${out}`)
  const site = Number(/ {2}http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1])
  const inspector = Number(/inspector: http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1])
  return { child, site, inspector, exited, stdout: () => out }
}

/** A connection that has had one response and stays open, idle, in whichever worker took it. */
const idleConnection = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    sockets.push(socket)
    socket.on("error", reject)
    socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    socket.once("data", () => resolve(socket))
  })

interface WorkerSnapshot {
  readonly id: string
  readonly state: string
  readonly answered: boolean
  readonly servers: ReadonlyArray<{
    readonly listeners: ReadonlyArray<{ readonly address: string }>
    readonly connections: ReadonlyArray<{ readonly id: string; readonly phase: string }>
  }>
}

const snapshotOf = async (inspector: number) => {
  const got = await curl(["--max-time", "5", `http://127.0.0.1:${inspector}/snapshot`])
  return JSON.parse(got.stdout.toString()) as { servers: Array<unknown>; primary: { workers: Array<WorkerSnapshot> } }
}

describe("--inspector with --workers 2", () => {
  it("the snapshot lists both workers, each with its listener and the connections it holds", async () => {
    const server = await start()
    const held = 8
    for (let i = 0; i < held; i++) await idleConnection(server.site)
    const snapshot = await snapshotOf(server.inspector)
    // the primary serves nothing itself: its tree is the worker level
    expect(snapshot.servers).toEqual([])
    const workers = snapshot.primary.workers
    expect(workers.map((w) => [w.id, w.state, w.answered])).toEqual([["w1", "listening", true], [
      "w2",
      "listening",
      true
    ]])
    for (const worker of workers) {
      expect(worker.servers[0]!.listeners.map((l) => l.address)).toEqual([`127.0.0.1:${server.site}`])
      for (const connection of worker.servers[0]!.connections) {
        expect(connection.id.startsWith(`${worker.id}:c`)).toBe(true)
        expect(connection.phase).toBe("idle")
      }
    }
    expect(workers.flatMap((w) => w.servers[0]!.connections).length).toBe(held)
  }, 60_000)

  it("SIGINT: the stream shows each worker's shutdown in order between the primary's steps, then ends", async () => {
    const server = await start()
    await idleConnection(server.site)
    const stream = curl(["-N", "--max-time", "20", `http://127.0.0.1:${server.inspector}/events`])
    // the snapshot is the stream's first item: the viewer is subscribed once it has arrived
    await sleep(1000)
    process.kill(-server.child.pid!, "SIGINT")
    const [got, code] = await Promise.all([stream, server.exited])
    expect(code).toBe(0)
    // curl ended because the stream did (not its --max-time: exit 28)
    expect(got.code).toBe(0)
    // each batch's events, in the --log-format json trace form
    const events = got.stdout.toString().split("\n").flatMap((line) => {
      if (!line.startsWith("data: ")) return []
      const batch = JSON.parse(line.slice(6)) as { events?: Array<{ trace: string; connection: string }> }
      return (batch.events ?? []).map((record) => `${record.connection} ${record.trace}`)
    })
    expect(events[0]).toBe("primary workers-stopping")
    expect(events.at(-1)).toBe("primary workers-stopped")
    for (const worker of ["w1", "w2"]) {
      const own = events.filter((e) => e.startsWith(`${worker} `) || e.startsWith(`${worker}:server `))
      expect(own).toEqual([
        `${worker} worker-stopping`,
        `${worker}:server listeners-closed`,
        `${worker}:server draining`,
        `${worker}:server drained`,
        `${worker}:server closed`,
        `${worker} worker-exited`
      ])
    }
    // the idle connection, interrupted by its worker's drain
    expect(events.filter((e) => /^w\d:c1 /.test(e)).map((e) => e.split(" ")[1])).toEqual(["interrupted", "finalized"])
  }, 60_000)
})

// Drives the built server (`dist/fiberhttp.js server --inspector`) in ways worth watching in the
// inspector, prints its URL, and stops by itself (HOLD=seconds keeps it up longer to watch).
//
//   node scratchpad/studies/inspector.mjs slowloris     # heads sent a byte a second: "reading a head", then 408
//   node scratchpad/studies/inspector.mjs stalled       # readers of a 64 MiB file that stop reading
//   node scratchpad/studies/inspector.mjs keep-alive    # 200 keep-alive clients, a request each now and then
//   node scratchpad/studies/inspector.mjs ctrl-c        # Ctrl-C under load: idle, mid-head and stalled connections
//   CONNECTIONS=1000 RECORD=www/docs/ctrl-c-1000.txt node scratchpad/studies/inspector.mjs ctrl-c
//                                                       # the architecture page's recording: the --trace log, JSON
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const scenario = process.argv[2] ?? "ctrl-c"
const HOLD = Number(process.env.HOLD ?? "4") * 1000
const RECORD = process.env.RECORD
const bin = resolve(import.meta.dirname, "../../dist/fiberhttp.js")
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const t0 = Date.now()
const say = (text) => console.log(`[${((Date.now() - t0) / 1000).toFixed(2).padStart(6)} s] ${text}`)

const root = mkdtempSync(join(tmpdir(), "fiberhttp-inspector-study-"))
writeFileSync(join(root, "index.html"), "<!DOCTYPE html><title>study</title><h1>study</h1>\n")
writeFileSync(join(root, "big.bin"), new Uint8Array(64 * 1024 * 1024))

const args = [
  "server",
  "0",
  "--root",
  root,
  "--inspector",
  "--grace",
  "1",
  "--header-timeout",
  "10",
  "--keep-alive-timeout",
  "60"
]
if (RECORD !== undefined) args.push("--trace", "--log-format", "json", "--quiet")
const server = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "inherit"] })
const recorded = []
let out = ""
const started = new Promise((done) =>
  server.stdout.on("data", (d) => {
    out += d
    if (RECORD !== undefined) recorded.push(d)
    const site = /"urls":\["http:\/\/127\.0\.0\.1:(\d+)\/"\]|^ {2}http:\/\/127\.0\.0\.1:(\d+)\//m.exec(out)
    const inspector = /inspector[": ]+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)
    if (site !== null && inspector !== null) done({ port: Number(site[1] ?? site[2]), inspector: inspector[1] })
  })
)
const exited = new Promise((done) => server.on("exit", (code) => done(code)))
const { port, inspector } = await started
say(`site on port ${port}; watch it at ${inspector}`)

/**
 * A viewer of our own, reading the event stream as the page does: at the end, the shutdown as it
 * saw it (each connection's end, by reason, in ms after the listeners closed).
 */
const seen = []
{
  const viewer = net.connect({ port: Number(new URL(inspector).port), host: "127.0.0.1" })
  viewer.on("error", () => {})
  viewer.write("GET /events HTTP/1.1\r\nHost: study\r\n\r\n")
  let tail = ""
  viewer.on("data", (d) => {
    const lines = (tail + d.toString("latin1")).split("\n")
    tail = lines.pop()
    for (const line of lines) if (line.startsWith("data: {\"events\"")) seen.push(...JSON.parse(line.slice(6)).events)
  })
}
const shutdownAsSeen = () => {
  const closing = seen.find((e) => e.connection === "server" && e.trace === "listeners-closed")
  if (closing === undefined) return
  const at = (e) => Date.parse(e.time) - Date.parse(closing.time)
  for (const e of seen) if (e.connection === "server" && at(e) >= 0) say(`  +${at(e)} ms ${e.trace}: ${e.detail}`)
  const ends = new Map()
  for (const e of seen) {
    if ((e.trace !== "completed" && e.trace !== "interrupted") || at(e) < 0) continue
    const reason = e.trace === "interrupted" ? "interrupted" : e.detail
    const times = ends.get(reason) ?? []
    times.push(at(e))
    ends.set(reason, times)
  }
  for (const [reason, times] of ends) {
    say(
      `  ${times.length} connection(s) ended (${reason}) between +${Math.min(...times)} and +${Math.max(...times)} ms`
    )
  }
}

const sockets = []
const open = (data) =>
  new Promise((done) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => {
      if (data !== undefined) socket.write(data)
      done(socket)
    })
    socket.on("error", () => {})
    sockets.push(socket)
  })
const request = "GET /index.html HTTP/1.1\r\nHost: study\r\n\r\n"
/** Waits (at most 30 s) until the server holds `n` connections, as the inspector's snapshot says. */
const untilServing = async (n) => {
  for (let i = 0; i < 300; i++) {
    const snapshot = await (await fetch(`${inspector}snapshot`)).json()
    const serving = snapshot.servers[0].connections.length
    if (serving >= n) return say(`the server holds ${serving} connections`)
    await sleep(100)
  }
  say("not all connections were accepted within 30 s")
}
const stalledReader = async () => {
  const socket = await open("GET /big.bin HTTP/1.1\r\nHost: study\r\n\r\n")
  socket.pause()
  return socket
}

// a viewer's first snapshot comes when the page opens; leave time to open it
await sleep(Number(process.env.WAIT ?? "1") * 1000)

if (scenario === "slowloris") {
  const n = Number(process.env.CONNECTIONS ?? "20")
  say(`${n} connections sending a head a byte a second (the header timeout is 10 s)`)
  const heads = await Promise.all(Array.from({ length: n }, () => open()))
  const text = request
  for (let i = 0; i < Math.max(12, HOLD / 1000); i++) {
    for (const s of heads) if (!s.destroyed) s.write(text[i % text.length])
    await sleep(1000)
  }
} else if (scenario === "stalled") {
  const n = Number(process.env.CONNECTIONS ?? "5")
  say(`${n} readers of a 64 MiB file that read a little, then stop (the write timeout is 30 s)`)
  for (let i = 0; i < n; i++) await stalledReader()
  await sleep(HOLD)
} else if (scenario === "keep-alive") {
  const n = Number(process.env.CONNECTIONS ?? "200")
  say(`${n} keep-alive clients, each sending a request every 0.5-3 s`)
  const clients = await Promise.all(Array.from({ length: n }, () => open()))
  const until = Date.now() + Math.max(HOLD, 6000)
  await Promise.all(clients.map(async (s) => {
    s.on("data", () => {})
    while (Date.now() < until) {
      s.write(request)
      await sleep(500 + Math.random() * 2500)
    }
  }))
} else if (scenario === "ctrl-c") {
  const n = Number(process.env.CONNECTIONS ?? "200")
  const stalled = Math.max(1, Math.round(n / 50))
  const heads = Math.round(n / 10)
  say(`${n} connections: ${stalled} stalled readers, ${heads} halfway through a head, the rest idle after a request`)
  for (let i = 0; i < stalled; i++) await stalledReader()
  for (let i = 0; i < heads; i++) await open("GET /index.html HTTP/1.1\r\nHost: st")
  const idle = await Promise.all(Array.from({ length: n - stalled - heads }, () => open(request)))
  for (const s of idle) s.on("data", () => {})
  await untilServing(n)
  await sleep(HOLD)
  say("Ctrl-C (SIGINT)")
  server.kill("SIGINT")
} else {
  console.error(`unknown scenario ${scenario}: slowloris, stalled, keep-alive or ctrl-c`)
  server.kill("SIGINT")
}

if (server.exitCode === null) server.kill("SIGINT")
say(`server exited with ${await exited}`)
if (scenario === "ctrl-c") shutdownAsSeen()
for (const s of sockets) s.destroy()
if (RECORD !== undefined) {
  // the trace lines alone: what the page replays
  const lines = Buffer.concat(recorded).toString().split("\n").filter((l) => l.includes("\"trace\":"))
  writeFileSync(RECORD, lines.join("\n") + "\n")
  say(`${lines.length} trace lines written to ${RECORD}`)
}
rmSync(root, { recursive: true, force: true })

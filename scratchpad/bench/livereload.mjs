// Live reload latency: `server --watch` on a temporary root, one event stream
// read over a raw socket, then ROUNDS changes to a CSS file, each awaited: the
// time from the write to the event's arrival (150 ms of it is the debounce).
//   npm run build && node scratchpad/bench/livereload.mjs   (ROUNDS=20)
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const ROUNDS = Number(process.env.ROUNDS ?? 20)
const bin = resolve(import.meta.dirname, "../../dist/fiberhttp.js")
const root = mkdtempSync(join(tmpdir(), "fiberhttp-livereload-"))
writeFileSync(join(root, "site.css"), "h1{}\n")
const server = spawn(process.execPath, [bin, "server", "0", "--root", root, "--watch", "--quiet"], {
  stdio: ["ignore", "pipe", "inherit"]
})
const port = await new Promise((done) => {
  let out = ""
  server.stdout.on("data", (d) => {
    out += d
    const m = /127\.0\.0\.1:(\d+)/.exec(out)
    if (m) done(Number(m[1]))
  })
})
await new Promise((r) => setTimeout(r, 500))
const socket = net.connect({ host: "127.0.0.1", port })
socket.write("GET /__fiberhttp/events HTTP/1.1\r\nHost: x\r\n\r\n")
let text = ""
let waiting
socket.on("data", (d) => {
  text += d
  if (waiting && /event: css/.test(text)) {
    text = ""
    waiting()
  }
})
await new Promise((r) => setTimeout(r, 300))
const times = []
for (let i = 0; i < ROUNDS; i++) {
  const arrived = new Promise((r) => (waiting = r))
  const t0 = performance.now()
  writeFileSync(join(root, "site.css"), `h1{order:${i}}\n`)
  await arrived
  times.push(performance.now() - t0)
  await new Promise((r) => setTimeout(r, 300))
}
socket.destroy()
server.kill("SIGINT")
rmSync(root, { recursive: true, force: true })
times.sort((a, b) => a - b)
const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(0)
console.log(
  `write -> css event over ${ROUNDS} changes: min ${at(0)} ms, median ${at(0.5)} ms, max ${at(1)} ms (debounce 150 ms)`
)

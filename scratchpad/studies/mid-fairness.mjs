// Fairness between connections under load: N keep-alive sockets each
// request one path again and again; per connection, the responses completed
// and the longest wait for one. A fair server gives every connection about
// the same count; a starving one leaves some at a few while others get many.
//
//   node scratchpad/studies/mid-fairness.mjs PORT PATH [CONNECTIONS=200] [SECONDS=8] [WARMUP=1]
//
// Prints one JSON line: responses per second, per-connection counts (min,
// p10, median, max), latency p50/p99/max and the worst gap between two
// responses of one connection (the starvation a user sees).
import net from "node:net"

const [port, path, connections = "200", seconds = "8", warmup = "1"] = process.argv.slice(2)
const N = Number(connections)
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)

let measuring = false
let startedAt = 0
/** Responses completed in each 100 ms of the run (TIMELINE=1 prints it). */
const timeline = []
/** Responses slower than SLOW ms: the client's port and when the request went out, to find them in the server's log. */
const slow = []
const latencies = []
const perConnection = []

const open = (index) => {
  const state = {
    count: 0,
    sentAt: 0,
    lastAt: 0,
    maxGap: 0,
    remaining: -1,
    head: "",
    openedAt: performance.now(),
    firstAt: 0
  }
  perConnection[index] = state
  const socket = net.connect(Number(port), "127.0.0.1")
  socket.setNoDelay(true)
  const send = () => {
    state.sentAt = performance.now()
    state.remaining = -1
    state.head = ""
    socket.write(request)
  }
  socket.on("connect", send)
  socket.on("data", (chunk) => {
    let offset = 0
    while (offset < chunk.length) {
      if (state.remaining < 0) {
        // the head: read up to its blank line
        const text = chunk.toString("latin1", offset)
        const full = state.head + text
        const end = full.indexOf("\r\n\r\n")
        if (end < 0) {
          state.head = full
          return
        }
        const length = Number(/content-length:\s*(\d+)/i.exec(full.slice(0, end))?.[1] ?? 0)
        offset += end + 4 - state.head.length
        state.head = ""
        state.remaining = length
      }
      const take = Math.min(state.remaining, chunk.length - offset)
      state.remaining -= take
      offset += take
      if (state.remaining === 0) {
        const at = performance.now()
        if (state.firstAt === 0) state.firstAt = at
        if (measuring) {
          state.count++
          latencies.push(at - state.sentAt)
          if (process.env.SLOW && at - state.sentAt > Number(process.env.SLOW)) {
            slow.push({
              port: socket.localPort,
              sent: new Date(Date.now() - (at - state.sentAt)).toISOString(),
              ms: Math.round(at - state.sentAt)
            })
          }
          timeline[Math.floor((at - startedAt) / 100)] = (timeline[Math.floor((at - startedAt) / 100)] ?? 0) + 1
          if (state.lastAt > 0) state.maxGap = Math.max(state.maxGap, at - state.lastAt)
          state.lastAt = at
        }
        send()
      }
    }
  })
  socket.on("error", (error) => {
    state.error = error.code ?? error.message
  })
  return socket
}

const sockets = Array.from({ length: N }, (_, i) => open(i))
await new Promise((r) => setTimeout(r, Number(warmup) * 1000))
startedAt = performance.now()
measuring = true
for (const s of perConnection) s.lastAt = startedAt
await new Promise((r) => setTimeout(r, Number(seconds) * 1000))
measuring = false
const endedAt = performance.now()
// a connection still waiting at the end: its current wait counts as a gap
for (const s of perConnection) s.maxGap = Math.max(s.maxGap, endedAt - s.lastAt)
for (const s of sockets) s.destroy()

const sorted = (xs) => [...xs].sort((a, b) => a - b)
const pick = (xs, q) => xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]
const counts = sorted(perConnection.map((s) => s.count))
const lat = sorted(latencies)
const gaps = sorted(perConnection.map((s) => s.maxGap))
const total = counts.reduce((a, b) => a + b, 0)
const r = (x) => Math.round(x)
console.log(JSON.stringify({
  rps: r(total / ((endedAt - startedAt) / 1000)),
  perConn: { min: counts[0], p10: pick(counts, 0.1), p50: pick(counts, 0.5), max: counts.at(-1) },
  latencyMs: { p50: r(pick(lat, 0.5)), p99: r(pick(lat, 0.99)), max: r(lat.at(-1) ?? NaN) },
  // from connecting to the first whole response: what a connection waits to be accepted and served
  firstMs: (() => {
    const firsts = sorted(perConnection.map((s) => s.firstAt === 0 ? Infinity : s.firstAt - s.openedAt))
    return { p50: r(pick(firsts, 0.5)), max: r(firsts.at(-1)) }
  })(),
  worstGapMs: { p50: r(pick(gaps, 0.5)), p90: r(pick(gaps, 0.9)), max: r(gaps.at(-1)) },
  errors: perConnection.filter((s) => s.error).length
}))
if (process.env.SLOW) { for (const x of slow) console.error(JSON.stringify(x)) }
if (process.env.TIMELINE) console.log(Array.from(timeline, (n) => n ?? 0).join(" "))

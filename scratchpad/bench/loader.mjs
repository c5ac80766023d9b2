// Connection loader for `npm run bench` (run.mjs spawns it with a raised
// `ulimit -n`): opens many connections to a server on 127.0.0.1 and holds
// them in given states, so that the server's memory and shutdown can be
// measured from outside. Talks to its parent in JSON lines on stdout; reads
// commands from stdin ("report" prints the state; end of stdin exits).
//
// The report counts, per kind, the connections the server closed and when
// (stalled downloads do not read, so they see no close).
//
//   node loader.mjs idle PORT COUNT PATH
//     every connection sends one GET for PATH, reads the whole response and
//     then stays open and silent (an idle keep-alive connection)
//   node loader.mjs shutdown PORT COUNT SMALL_PATH LARGE_PATH
//     a mix: 40% idle as above, 30% mid-headers (a request head without its
//     final empty line), 15% downloads of LARGE_PATH that stop reading after
//     the first bytes, 15% downloads of LARGE_PATH read slowly (one chunk
//     every 100 ms)
import * as net from "node:net"
import { createInterface } from "node:readline"

const [mode, portText, countText, smallPath, largePath] = process.argv.slice(2)
const port = Number(portText)
const count = Number(countText)
const IN_FLIGHT = 256 // connection attempts outstanding at once

const say = (event, fields) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)

const state = {
  opened: 0, // connected and in its final state
  failed: 0, // could not connect or reach its state
  closedByPeer: 0, // reached its state, then the server closed it
  errors: {}, // error codes seen
  statuses: {},
  closes: {} // per kind, of those closed by the server: count, first and last time (ms since the epoch)
}
// wall-clock milliseconds with sub-millisecond resolution, comparable across processes
const now = () => performance.timeOrigin + performance.now()
let ending = false
const sockets = []

const requestFor = (path) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: fiberhttp-bench-loader\r\n\r\n`

/** Opens one connection of `kind`; resolves when it is in its final state (true) or failed (false). */
const open = (kind) =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    sockets.push(socket)
    let settled = false
    const settle = (ok) => {
      if (settled) return
      settled = true
      if (ok) state.opened++
      else state.failed++
      resolve(ok)
    }
    socket.setNoDelay(true)
    socket.on("error", (error) => {
      state.errors[error.code ?? error.message] = (state.errors[error.code ?? error.message] ?? 0) + 1
    })
    socket.on("close", () => {
      if (settled && !ending) {
        state.closedByPeer++
        const k = (state.closes[kind] ??= { count: 0, first: Infinity, last: 0 })
        const at = now()
        k.count++
        k.first = Math.min(k.first, at)
        k.last = Math.max(k.last, at)
      }
      settle(false)
    })
    socket.setTimeout(20_000, () => {
      if (!settled) socket.destroy()
    })
    socket.on("connect", () => {
      if (kind === "idle") {
        socket.write(requestFor(smallPath))
        let buffered = Buffer.alloc(0)
        const onData = (data) => {
          buffered = Buffer.concat([buffered, data])
          const end = buffered.indexOf("\r\n\r\n")
          if (end === -1) return
          const head = buffered.subarray(0, end).toString("latin1")
          const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
          const bodyLength = length === null ? 0 : Number(length[1])
          if (buffered.length - end - 4 < bodyLength) return
          const status = head.slice(9, 12)
          state.statuses[status] = (state.statuses[status] ?? 0) + 1
          socket.off("data", onData)
          socket.on("data", () => {}) // an idle connection should get nothing more
          socket.setTimeout(0)
          settle(status === "200")
        }
        socket.on("data", onData)
      } else if (kind === "headers") {
        // a request head cut before its final empty line
        socket.on("data", () => {}) // reads, so that the server's close is seen
        socket.write(
          `GET ${smallPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: fiberhttp-bench-loader\r\n`,
          () => {
            socket.setTimeout(0)
            settle(true)
          }
        )
      } else {
        socket.write(requestFor(largePath))
        socket.once("data", (data) => {
          const status = data.subarray(9, 12).toString("latin1")
          state.statuses[status] = (state.statuses[status] ?? 0) + 1
          socket.setTimeout(0)
          socket.pause()
          if (kind === "slow") {
            // one chunk every 100 ms: resume, and pause again at the next chunk
            socket.on("data", () => socket.pause())
            const timer = setInterval(() => socket.resume(), 100)
            socket.on("close", () => clearInterval(timer))
          }
          settle(status === "200")
        })
      }
    })
  })

const kinds = () => {
  if (mode === "idle") return Array.from({ length: count }, () => "idle")
  // interleaved, so that every state is spread over the accept order
  const pattern = [
    "idle",
    "headers",
    "idle",
    "stalled",
    "headers",
    "idle",
    "slow",
    "headers",
    "idle",
    "stalled",
    "slow",
    "idle",
    "headers",
    "idle",
    "stalled",
    "idle",
    "headers",
    "slow",
    "idle",
    "headers"
  ]
  return Array.from({ length: count }, (_, i) => pattern[i % pattern.length])
}

const started = Date.now()
const queue = kinds()
const tally = {}
for (const k of queue) tally[k] = (tally[k] ?? 0) + 1
let next = 0
const worker = async () => {
  while (next < queue.length) await open(queue[next++])
}
await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, queue.length) }, worker))
say("ready", { ...state, kinds: tally, ms: Date.now() - started })

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "report") {
    const open = sockets.filter((s) => !s.destroyed).length
    say("report", { ...state, open })
  }
})
process.stdin.on("end", () => {
  ending = true
  for (const s of sockets) s.destroy()
  process.exit(0)
})

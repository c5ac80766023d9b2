// A load for the fairness e2e test, run as its own process so that the server
// has the loop to itself: CONNECTIONS keep-alive connections opened at once,
// each asking for PATH again as soon as a response is whole, until every
// connection has had its first response (or DEADLINE_MS passed). Prints one
// JSON line: how many have had one, and the most responses any single
// connection completed before the last of them got its first.
//
//   node firstResponses.mjs PORT PATH CONNECTIONS DEADLINE_MS
import net from "node:net"

const [port, path, connections, deadlineMs] = process.argv.slice(2).map((a, i) => (i === 1 ? a : Number(a)))
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
const counts = new Array(connections).fill(0)
let answered = 0
const sockets = []

const finish = () => {
  for (const socket of sockets) socket.destroy()
  console.log(JSON.stringify({ answered, connections, mostBeforeAll: Math.max(...counts) }))
  process.exit(0)
}

for (let index = 0; index < connections; index++) {
  const socket = net.connect({ host: "127.0.0.1", port })
  sockets.push(socket)
  let remaining = -1
  let head = ""
  socket.on("connect", () => socket.write(request))
  socket.on("error", () => {})
  socket.on("data", (chunk) => {
    let offset = 0
    while (offset < chunk.length) {
      if (remaining < 0) {
        const text = head + chunk.toString("latin1", offset)
        const end = text.indexOf("\r\n\r\n")
        if (end < 0) {
          head = text
          return
        }
        remaining = Number(/content-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0)
        offset += end + 4 - head.length
        head = ""
      }
      const take = Math.min(remaining, chunk.length - offset)
      remaining -= take
      offset += take
      if (remaining === 0) {
        remaining = -1
        if (counts[index]++ === 0 && ++answered === connections) finish()
        socket.write(request)
      }
    }
  })
}
setTimeout(finish, deadlineMs)

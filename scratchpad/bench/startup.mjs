// Start-up cost of one cold `fiberhttp client` GET, compared in the same run
// with curl and with a minimal Node fetch script, against a local raw
// node:net HTTP server started here. Runs are interleaved so that machine
// noise hits all three alike.
//
//   npm run build && npm run bench:startup            (20 runs each)
//   RUNS=50 node scratchpad/bench/startup.mjs
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as net from "node:net"

const RUNS = Number(process.env.RUNS ?? 20)
const BIN = new URL("../../dist/fiberhttp.js", import.meta.url).pathname

if (!existsSync(BIN)) {
  console.error(`${BIN} is missing: run npm run build first`)
  process.exit(1)
}

const body = "hello from the start-up benchmark\n"
const response = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`

// Answers each request head with the fixed response; enough for all three clients.
const server = net.createServer((socket) => {
  let buffered = ""
  socket.on("data", (data) => {
    buffered += data.toString("latin1")
    while (buffered.includes("\r\n\r\n")) {
      buffered = buffered.slice(buffered.indexOf("\r\n\r\n") + 4)
      socket.write(response)
    }
  })
  socket.on("error", () => {})
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
const url = `http://127.0.0.1:${server.address().port}/`

const fetchScript = `fetch(${JSON.stringify(url)}).then(r => r.text()).then(t => process.stdout.write(t))`

const contenders = [
  { name: "fiberhttp client", command: process.execPath, args: [BIN, "client", "-b", url] },
  { name: "curl -s", command: "curl", args: ["-s", url] },
  { name: "node fetch script", command: process.execPath, args: ["-e", fetchScript] }
]

const runOnce = ({ command, args }) =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== 0 || out !== body) {
        reject(new Error(`${command} ${args.join(" ")}: exit ${code}, output ${JSON.stringify(out)}`))
      } else resolve(ms)
    })
  })

const samples = new Map(contenders.map((c) => [c.name, []]))
// one warm-up each (file cache), not counted
for (const c of contenders) await runOnce(c)
for (let i = 0; i < RUNS; i++) {
  for (const c of contenders) samples.get(c.name).push(await runOnce(c))
}
server.close()

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length

console.log(`one cold GET against ${url}, ${RUNS} runs each, interleaved (node ${process.version})`)
console.log(`${"".padEnd(20)}${"median ms".padStart(12)}${"mean ms".padStart(12)}${"min ms".padStart(12)}`)
for (const [name, xs] of samples) {
  console.log(
    `${name.padEnd(20)}${median(xs).toFixed(1).padStart(12)}${mean(xs).toFixed(1).padStart(12)}${
      Math.min(...xs).toFixed(1).padStart(12)
    }`
  )
}
const ratio = median(samples.get("fiberhttp client")) / median(samples.get("node fetch script"))
console.log(`fiberhttp / node fetch (medians): ${ratio.toFixed(2)}`)
console.log("reproduce: npm run build && npm run bench:startup   (RUNS=n to change the count)")

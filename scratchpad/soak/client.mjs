// The long version of test/e2e/hostile-client.test.ts: the built client against hostile servers
// for minutes instead of seconds, in one command:
//
//   npm run build && node scratchpad/soak/client.mjs
//
// Each stream check runs one client for CLIENT_SOAK_SECONDS against a server that never stops
// sending (an endless chunked body to stdout and to -o /dev/null, an endless body until close, a
// flood of 100 Continue, a body dripped a byte at a time) and samples the client's RSS every
// second: it must end at --max-time with exit 28 and one error line, and its memory must level
// off (the second half's peak no more than CLIENT_SOAK_GROWTH_MIB above the first half's). The
// repeat check runs the short hostile cases CLIENT_SOAK_REPEATS times each, several at once, and
// counts any exit code or error line that differs from the documented one.
//
// Knobs, all environment variables (defaults in brackets):
//   CLIENT_SOAK_SECONDS [60]     length of each stream check
//   CLIENT_SOAK_GROWTH_MIB [32]  allowed rise of the peak RSS from the first half to the second
//   CLIENT_SOAK_REPEATS [40]     runs of each short case in the repeat check
//   CLIENT_SOAK_ONLY             comma-separated checks (chunked,devnull,close,continue,drip,repeat)
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { writeAll } from "../../test/e2e/writeAll.mjs"

const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "dist/fiberhttp.js")
if (!fs.existsSync(bin)) {
  console.error("dist/fiberhttp.js is missing: run `npm run build` first")
  process.exit(2)
}

const env = (name, fallback) => Number(process.env[name] ?? fallback)
const SECONDS = env("CLIENT_SOAK_SECONDS", 60)
const GROWTH_KIB = env("CLIENT_SOAK_GROWTH_MIB", 32) * 1024
const REPEATS = env("CLIENT_SOAK_REPEATS", 40)
const ONLY = process.env.CLIENT_SOAK_ONLY?.split(",")

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Servers

const servers = []

/** Writes, waiting for 'drain'; false once the socket is gone. */

/** A server that runs `behave(socket, write)` on each connection once the request arrived. */
const hostile = (behave) =>
  new Promise((resolve) => {
    const counter = { sent: 0 }
    const sockets = new Set()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      socket.once("data", () => void behave(socket, (data) => writeAll(socket, data, (n) => (counter.sent += n))))
    })
    server.listen(0, "127.0.0.1", () => {
      servers.push(() => {
        for (const socket of sockets) socket.destroy()
        server.close()
      })
      resolve({ url: `http://127.0.0.1:${server.address().port}/`, counter })
    })
  })

const forever = (piece) => async (_socket, write) => {
  while (await write(piece)) {
    // paced by the client's backpressure
  }
}

const then = (first, rest) => async (socket, write) => {
  if (await write(first)) await rest(socket, write)
}

const frame = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, 0x61), Buffer.from("\r\n")])

// ---------------------------------------------------------------------------------------------
// The client

const readPeak = (pid) => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    return {
      rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
      hwm: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
    }
  } catch {
    return undefined
  }
}

/** Runs the client; samples RSS every `sampleMs`; resolves with what it did. */
const runClient = (args, { sampleMs = 1000, limitMs = 60_000 } = {}) =>
  new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, [bin, "client", ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdoutBytes = 0
    let stderr = ""
    const samples = []
    child.stdout.on("data", (chunk) => (stdoutBytes += chunk.length))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const sampler = setInterval(() => {
      const sample = readPeak(child.pid)
      if (sample !== undefined) samples.push({ at: Date.now() - started, ...sample })
    }, sampleMs)
    const limit = setTimeout(() => child.kill("SIGKILL"), limitMs)
    child.on("close", (code) => {
      clearInterval(sampler)
      clearTimeout(limit)
      resolve({ code, stdoutBytes, stderr, ms: Date.now() - started, samples })
    })
  })

const mib = (kib) => (kib < 1024 ? `${kib.toFixed(1)} KiB` : `${(kib / 1024).toFixed(1)} MiB`)

// ---------------------------------------------------------------------------------------------
// Checks

const failures = []
const fail = (check, message) => {
  failures.push(`${check}: ${message}`)
  console.log(`  FAIL ${message}`)
}

/** One client against an endless server for SECONDS: exit 28, one line, memory levelling off. */
const streamCheck = async (name, title, behave, args, { counted = true } = {}) => {
  console.log(`\n${name}: ${title} for ${SECONDS} s`)
  const server = await hostile(behave)
  const result = await runClient(["--max-time", String(SECONDS), ...args, server.url], {
    limitMs: (SECONDS + 30) * 1000
  })
  const line = `fiberhttp: ${server.url}: no complete response within ${SECONDS} s (--max-time)\n`
  // what came out on stdout; with -o /dev/null, only what the server sent can be counted
  const delivered = counted ? result.stdoutBytes : server.counter.sent
  console.log(
    `  exit ${result.code} after ${(result.ms / 1000).toFixed(1)} s; server sent ${mib(server.counter.sent / 1024)}` +
      `${counted ? `, ${mib(delivered / 1024)} came out` : ""} (${
        (delivered / 1048576 / (result.ms / 1000)).toFixed(1)
      } MiB/s)`
  )
  const half = result.samples.filter((s) => s.at <= (SECONDS * 1000) / 2)
  const rest = result.samples.filter((s) => s.at > (SECONDS * 1000) / 2)
  const peak = (samples) => Math.max(0, ...samples.map((s) => s.rss))
  if (result.samples.length > 0) {
    const every = Math.max(1, Math.floor(result.samples.length / 10))
    console.log(
      `  RSS: ${
        result.samples.filter((_, i) => i % every === 0).map((s) => `${Math.round(s.at / 1000)}s ${mib(s.rss)}`).join(
          ", "
        )
      }`
    )
    console.log(
      `  peak first half ${mib(peak(half))}, second half ${mib(peak(rest))}, VmHWM ${mib(result.samples.at(-1).hwm)}`
    )
    if (peak(rest) > peak(half) + GROWTH_KIB) {
      fail(name, `memory still rising: ${mib(peak(half))} then ${mib(peak(rest))}`)
    }
  }
  if (result.code !== 28) fail(name, `exit ${result.code}, expected 28`)
  if (result.stderr !== line) fail(name, `stderr ${JSON.stringify(result.stderr)}, expected ${JSON.stringify(line)}`)
  if (result.ms < SECONDS * 1000 || result.ms > SECONDS * 1000 + 5000) fail(name, `ended after ${result.ms} ms`)
  if (server.counter.sent - delivered > 64 * 1048576) {
    fail(name, `the server got ${mib((server.counter.sent - delivered) / 1024)} ahead`)
  }
}

/** The short hostile cases, REPEATS times each, four at a time: the same code and line every run. */
const repeatCheck = async () => {
  const cases = [
    [
      "endless head",
      then("HTTP/1.1 200 OK\r\n", forever("X-A: b\r\n")),
      [],
      8,
      "malformed response (TooManyHeaders): too many header fields"
    ],
    [
      "bad chunk size",
      then("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n", async () => {}),
      [],
      8,
      "malformed response (InvalidChunkSize): invalid chunk size"
    ],
    [
      "short body",
      async (socket, write) => {
        await write("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
        socket.end()
      },
      [],
      18,
      "connection closed before the response ended (3 body bytes received)"
    ],
    [
      "not HTTP",
      async (_socket, write) => void (await write(Buffer.from("000006040000000000000300000064", "hex"))),
      [],
      8,
      "malformed response (InvalidStatusLine): not an HTTP/1.x response (the reply does not begin with \"HTTP/\")"
    ],
    [
      "reset",
      async (socket, write) => {
        await write("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
        setTimeout(() => socket.resetAndDestroy(), 20)
      },
      [],
      56,
      /^receive failure: .*connection reset by peer \(ECONNRESET\)$/
    ],
    [
      "redirect loop",
      async (socket, write) => {
        await write("HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        socket.end()
      },
      ["-L", "--max-redirects", "3"],
      47,
      "more than 3 redirects (--max-redirects)"
    ],
    [
      "1xx flood",
      forever("HTTP/1.1 100 Continue\r\n\r\n".repeat(500)),
      ["--max-time", "0.5"],
      28,
      "no complete response within 0.5 s (--max-time)"
    ]
  ]
  console.log(`\nrepeat: ${cases.length} short hostile cases, ${REPEATS} runs each, 4 at a time`)
  for (const [name, behave, args, code, cause] of cases) {
    const server = await hostile(behave)
    let wrong = 0
    let slowest = 0
    const one = async () => {
      // one --max-time only: the command line refuses an option given twice
      const limit = args.includes("--max-time") ? [] : ["--max-time", "10"]
      const result = await runClient([...limit, ...args, server.url], { limitMs: 20_000 })
      slowest = Math.max(slowest, result.ms)
      const prefix = `fiberhttp: ${server.url}: `
      const text = result.stderr.startsWith(prefix) && result.stderr.endsWith("\n")
        ? result.stderr.slice(prefix.length, -1)
        : undefined
      const lineOk = text !== undefined && !text.includes("\n") &&
        (typeof cause === "string" ? text === cause : cause.test(text))
      if (result.code !== code || !lineOk) {
        if (wrong++ < 3) fail("repeat", `${name}: exit ${result.code}, stderr ${JSON.stringify(result.stderr)}`)
      }
    }
    for (let i = 0; i < REPEATS; i += 4) await Promise.all(Array.from({ length: Math.min(4, REPEATS - i) }, one))
    console.log(`  ${name.padEnd(16)} exit ${code}  ${REPEATS - wrong}/${REPEATS} as documented, slowest ${slowest} ms`)
  }
}

// ---------------------------------------------------------------------------------------------

const checks = {
  chunked: () =>
    streamCheck(
      "chunked",
      "an endless chunked body to stdout",
      then("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", forever(frame)),
      ["-b"]
    ),
  devnull: () =>
    streamCheck(
      "devnull",
      "an endless chunked body to -o /dev/null",
      then("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", forever(frame)),
      ["-o", "/dev/null"],
      { counted: false }
    ),
  close: () =>
    streamCheck(
      "close",
      "an endless body delimited by the close",
      then("HTTP/1.1 200 OK\r\n\r\n", forever(Buffer.alloc(0x10000, 0x62))),
      ["-b"]
    ),
  // nothing comes out of a 1xx flood: what the server sent is all there is to count
  continue: () =>
    streamCheck(
      "continue",
      "an endless flood of 100 Continue",
      forever("HTTP/1.1 100 Continue\r\n\r\n".repeat(1000)),
      [],
      { counted: false }
    ),
  drip: () =>
    streamCheck(
      "drip",
      "a body dripped one byte every millisecond",
      async (socket, write) => {
        socket.setNoDelay(true)
        if (!(await write("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n"))) return
        while (await write("d")) await sleep(1)
      },
      ["-b"]
    ),
  repeat: repeatCheck
}

const started = Date.now()
console.log(`fiberhttp client soak: ${bin}, ${SECONDS} s per stream check`)
for (const [name, check] of Object.entries(checks)) {
  if (ONLY !== undefined && !ONLY.includes(name)) continue
  await check()
}
for (const close of servers) close()
console.log(
  `\n${failures.length === 0 ? "PASS" : `FAIL (${failures.length})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`
)
for (const failure of failures) console.log(`  ${failure}`)
process.exit(failures.length === 0 ? 0 : 1)

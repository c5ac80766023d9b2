// `npm run bench`: fiberhttp against node:http, http-server and nginx, on
// loopback, each server in turn on the same generated files, ratios from one
// run. Prints one markdown table (stdout; progress goes to stderr), the
// machine and the command that reproduces it.
//
//   npm run bench                                  everything (about 4-5 min)
//   SECTIONS=small,close DURATION=3 npm run bench  a subset, shorter wrk runs
//
// Sections (by name or number): 1 small, 2 close, 3 large, 4 idle, 5 shutdown,
// 6 client, 7 parser, 8 listing, 9 timing (client --ttl/--count against curl
// -w, on nginx), 10 download (1 GiB from nginx, -o and -b, against curl),
// 11 compress (a 20 KiB JS file br/gzip vs identity, sizes vs gzip -9 and brotli),
// 12 mid (mid-size files under 200 connections), 13 workers (--workers 2 against
// nginx with 2 workers and fiberhttp on one, both schedulings, scaling, shutdown),
// 14 inspector (small-file throughput with one inspector viewer vs none, and none vs another build).
// Environment:
//   DURATION=10      wrk seconds per server and case (sections 1-3), split in ROUNDS
//   ROUNDS=2         interleaved rounds (order reversed every other round), so
//                    that a change in the machine's load hits every server alike
//   WARMUP=2         seconds of wrk before the measured runs of sections 1-2 (0: none)
//   CONNECTIONS=50   wrk connections in sections 1-2
//   WRK_THREADS=2    wrk threads
//   SERVERS=fiberhttp,node,node-constant,http-server,nginx,caddy   the servers of sections 1-3 and 9
//   MID_SIZES=300000,2000000   file sizes of section 9 (bytes); MID_CONNECTIONS=200; MID_THREADS=4
//   LARGE=8,50       concurrent downloads in section 3;  LARGE_MIB=100  its file size
//   IDLE=1000,10000  idle connection counts in section 4;  SHUTDOWN_CONNECTIONS=1000
//   RUNS=15          runs per client in section 6, per server in section 8, per client in section 9
//                    (cold runs, and reused rounds)
//   LISTING=10000    entries of the directory listed in section 8
//   DOWNLOAD_MIB=1024  the file of section 10;  DOWNLOAD_RUNS=3  runs per client and mode, interleaved
//   WRK=/path/to/wrk, NGINX=/path/to/nginx, CADDY=/path/to/caddy   other binaries (a missing path skips them)
//   BASELINE_STAT=async   the node:http baseline with the callback fs.stat instead of statSync
//   FIBERHTTP_BIN=path/to/fiberhttp.js   another build (default dist/fiberhttp.js, built when missing)
//   WORKER_COUNTS=1,2,3,4   --workers values of section 13's scaling rows
//   BASE_BIN=path/to/fiberhttp.js   section 14: the build to compare "no viewer" with (e.g. main's; without it, that row is skipped)
//   MAX_MINUTES=15   the whole run is stopped (and cleaned up) after this
//
// wrk, nginx and caddy come from Debian: apt-get install -y wrk nginx-light caddy. Without
// wrk, sections 1-3 are skipped; without nginx, its rows are. The dist files
// are copied to a temporary directory first, so a rebuild during the run does
// not change what is measured. Every child runs in its own process group and
// is killed, and the temporary directory removed, on exit, error or Ctrl-C.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync
} from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import { basename, dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as zlib from "node:zlib"

const HERE = dirname(fileURLToPath(import.meta.url))
const PROJECT = resolve(HERE, "../..")
const env = process.env

const SECTION_NAMES = [
  "small",
  "close",
  "large",
  "idle",
  "shutdown",
  "client",
  "parser",
  "listing",
  "timing",
  "download",
  "compress",
  "mid",
  "workers",
  "inspector"
]
const DEFAULTS = {
  SECTIONS: SECTION_NAMES.join(","),
  DURATION: "10",
  WARMUP: "2",
  CONNECTIONS: "50",
  WRK_THREADS: "2",
  SERVERS: "fiberhttp,node,node-constant,http-server,nginx,caddy",
  MID_SIZES: "300000,2000000",
  MID_CONNECTIONS: "200",
  MID_THREADS: "4",
  LARGE: "8,50",
  LARGE_MIB: "100",
  IDLE: "1000,10000",
  SHUTDOWN_CONNECTIONS: "1000",
  RUNS: "15",
  LISTING: "10000",
  DOWNLOAD_MIB: "1024",
  DOWNLOAD_RUNS: "3",
  ROUNDS: "2",
  WORKER_COUNTS: "1,2,3,4",
  MAX_MINUTES: "15"
}
const setting = (name) => env[name] ?? DEFAULTS[name]
const numbers = (name) => setting(name).split(",").map(Number)

const sections = new Set(
  setting("SECTIONS")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "")
    .map((s) => (/^\d+$/.test(s) ? SECTION_NAMES[Number(s) - 1] : s))
)
for (const s of sections) {
  if (!SECTION_NAMES.includes(s)) {
    console.error(`unknown section ${s}: use ${SECTION_NAMES.map((n, i) => `${i + 1}/${n}`).join(", ")}`)
    process.exit(2)
  }
}
const DURATION = Number(setting("DURATION"))
const WARMUP = Number(setting("WARMUP"))
const CONNECTIONS = Number(setting("CONNECTIONS"))
const THREADS = Number(setting("WRK_THREADS"))
const SERVERS = setting("SERVERS").split(",")
const LARGE_MIB = Number(setting("LARGE_MIB"))
const RUNS = Number(setting("RUNS"))
const ROUNDS = Math.max(1, Number(setting("ROUNDS")))
const SPAN = ROUNDS === 1 ? `${DURATION} s` : `${ROUNDS} × ${Math.max(1, Math.round(DURATION / ROUNDS))} s`
const MiB = 1024 * 1024

// ---------------------------------------------------------------- output
const started = Date.now()
const log = (text) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}\n`)
const fmt = (n, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? "?"
    : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
const ms = (n) => (n === undefined ? "?" : n < 10 ? fmt(n, 2) : n < 100 ? fmt(n, 1) : fmt(n))
const mib = (bytes) => `${fmt(bytes / MiB, 0)} MiB`
const sleep = (t) => new Promise((r) => setTimeout(r, t))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length === 0 ? undefined : s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

const rows = [] // the table
const notes = [] // oddities seen: errors, non-2xx, stderr of servers
const row = (section, benchmark, fiberhttp, versus = "", theirs = "", ratio = "", target = "", verdict = "") =>
  rows.push([section, benchmark, fiberhttp, versus, theirs, ratio, target, verdict])
const verdict = (pass) => (pass === undefined ? "" : pass ? "PASS" : "MISS")
const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? undefined : a / b)
const x = (r) => (r === undefined ? "?" : `${r.toFixed(2)}x`)

// ---------------------------------------------------------------- children and cleanup
const children = new Set()
let tmp
const killGroup = (child, signal = "SIGKILL") => {
  try {
    process.kill(-child.pid, signal)
  } catch {}
}
const cleanupSync = () => {
  for (const child of children) killGroup(child)
  children.clear()
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
  tmp = undefined
}
process.on("exit", cleanupSync)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    log(`${signal}: stopping the children and removing the temporary files`)
    cleanupSync()
    process.exit(130)
  })
}
const watchdog = setTimeout(() => {
  log(`MAX_MINUTES=${setting("MAX_MINUTES")} reached: stopping`)
  cleanupSync()
  process.exit(3)
}, Number(setting("MAX_MINUTES")) * 60_000)

// The open-files limit raised as far as the hard limit allows, then exec.
const LIMITED = "ulimit -n 65536 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$@\""

/** Spawns in its own process group (bash exec keeps the pid), tracked for cleanup; keeps the output's tail. */
const start = (command, args, { limitFds = true, cwd = PROJECT, stdin = "ignore", env: childEnv = env } = {}) => {
  const options = { detached: true, cwd, stdio: [stdin, "pipe", "pipe"], env: childEnv }
  const child = limitFds
    ? spawn("bash", ["-c", LIMITED, "bash", command, ...args], options)
    : spawn(command, args, options)
  children.add(child)
  child.out = ""
  child.err = ""
  child.stdout.on("data", (d) => (child.out = (child.out + d).slice(-200_000)))
  child.stderr.on("data", (d) => (child.err = (child.err + d).slice(-20_000)))
  child.exited = new Promise((resolve) =>
    child.on("close", (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    })
  )
  child.on("error", (error) => (child.err += `spawn error: ${error.message}\n`))
  return child
}

/** Runs to completion within timeoutMs (killed after it); resolves the output, exit code and wall time. */
const run = async (command, args, { timeoutMs = 60_000, ...options } = {}) => {
  const t0 = process.hrtime.bigint()
  const child = start(command, args, { limitFds: false, ...options })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup(child)
  }, timeoutMs)
  const { code, signal } = await child.exited
  clearTimeout(timer)
  return { code, signal, timedOut, out: child.out, err: child.err, ms: Number(process.hrtime.bigint() - t0) / 1e6 }
}

const stop = async (child, signal = "SIGINT", waitMs = 5000) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(child.pid, signal)
  } catch {}
  const exited = await Promise.race([child.exited.then(() => true), sleep(waitMs).then(() => false)])
  if (!exited) {
    notes.push(
      `pid ${child.pid} (${child.spawnargs.slice(-6).join(" ")}) did not exit ${waitMs} ms after ${signal}: killed`
    )
    killGroup(child)
    await child.exited
  }
}

const which = (name) => {
  for (const dir of (env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name)
  }
  return undefined
}

// ---------------------------------------------------------------- loopback helpers
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const canConnect = (port) =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.on("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.on("error", () => resolve(false))
  })

const canBind = (port) =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.on("error", () => resolve(false))
    server.listen({ port, host: "127.0.0.1" }, () => server.close(() => resolve(true)))
  })

/** One request on a fresh connection; resolves status, body and the time to the last byte. */
const request = (port, path, { method = "GET", timeoutMs = 5000 } = {}) =>
  new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.setNoDelay(true)
    let buffered = Buffer.alloc(0)
    let done = false
    const finish = (result) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ ...result, ms: Number(process.hrtime.bigint() - t0) / 1e6 })
    }
    const timer = setTimeout(() => finish({ error: `no complete response in ${timeoutMs} ms` }), timeoutMs)
    socket.on("connect", () =>
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: fiberhttp-bench\r\n\r\n`))
    socket.on("data", (data) => {
      buffered = Buffer.concat([buffered, data])
      const end = buffered.indexOf("\r\n\r\n")
      if (end === -1) {
        return
      }
      const head = buffered.subarray(0, end).toString("latin1")
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
      const contentLength = length === null ? undefined : Number(length[1])
      const body = buffered.subarray(end + 4)
      if (method === "HEAD" || body.length >= (contentLength ?? 0)) {
        finish({ status: Number(head.slice(9, 12)), head, contentLength, body })
      }
    })
    socket.on("error", (error) =>
      finish({ error: error.code ?? error.message }))
    socket.on("close", () => finish({ error: "closed before the whole response" }))
  })

// ---------------------------------------------------------------- memory
const procStatus = (pid) => {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN) * 1024
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") }
  } catch {
    return { rss: NaN, hwm: NaN }
  }
}
/** Samples VmRSS every 100 ms; stop() gives the peak (with VmHWM, which the kernel keeps). */
const rssSampler = (pid) => {
  let peak = 0
  const timer = setInterval(() => (peak = Math.max(peak, procStatus(pid).rss || 0)), 100)
  return () => {
    clearInterval(timer)
    const { rss, hwm } = procStatus(pid)
    return Math.max(peak, rss || 0, hwm || 0)
  }
}
const childPids = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

// ---------------------------------------------------------------- wrk
const toMs = (value, unit) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN)
const toBytes = (value, unit) => Number(value) * 1024 ** ["B", "KB", "MB", "GB", "TB"].indexOf(unit)

const wrk = async (url, { connections, seconds, headers = [], timeout = 10, threads = THREADS }) => {
  const args = [
    `-t${Math.min(threads, connections)}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--latency",
    "--timeout",
    `${timeout}s`,
    ...headers.flatMap((h) => ["-H", h]),
    url
  ]
  const r = await run(available.wrk, args, { timeoutMs: (seconds + timeout + 20) * 1000 })
  const text = r.out
  const num = (re) => Number(re.exec(text)?.[1] ?? NaN)
  const latency = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text)
    return m === null ? undefined : toMs(m[1], m[2])
  }
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB|TB)/.exec(text)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const result = {
    command: `wrk ${args.join(" ")}`,
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    bytesPerSec: transfer === null ? NaN : toBytes(transfer[1], transfer[2]),
    p50: latency(50),
    p99: latency(99),
    max: (() => {
      const m = /^\s+Latency\s+[\d.]+(?:us|ms|s|m)\s+[\d.]+(?:us|ms|s|m)\s+([\d.]+)(us|ms|s|m)/m.exec(text)
      return m === null ? undefined : toMs(m[1], m[2])
    })(),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    socketErrors: socketErrors === null
      ? undefined
      : { connect: +socketErrors[1], read: +socketErrors[2], write: +socketErrors[3], timeout: +socketErrors[4] },
    failed: r.code !== 0 || r.timedOut || Number.isNaN(num(/Requests\/sec:\s+([\d.]+)/)),
    raw: text + r.err
  }
  return result
}
const describeWrkTrouble = (name, what, r) => {
  const parts = []
  if (r.failed) parts.push(`wrk failed: ${r.raw.trim().split("\n").slice(-3).join(" / ")}`)
  if (r.non2xx > 0) parts.push(`${fmt(r.non2xx)} non-2xx/3xx responses`)
  if (r.socketErrors !== undefined) {
    const e = r.socketErrors
    parts.push(`socket errors: connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}`)
  }
  if (parts.length > 0) {
    notes.push(`${what}, ${name}: ${parts.join("; ")} (of ${fmt(r.requests)} requests; \`${r.command}\`)`)
  }
}

// ---------------------------------------------------------------- files
/** 20 KiB of JavaScript, deterministic, with the repetition real bundles have (names, keywords) and hashes that have none. */
const benchScript = () => {
  let js = "\"use strict\";\n"
  for (let i = 0; js.length < 20 * 1024; i++) {
    const h = createHash("sha256").update(String(i)).digest("hex")
    js += `export function handler${i}(request, options = {}) {\n  const key = "${h.slice(0, 16)}";\n` +
      `  if (options.verbose) console.log("handler${i}", request.url, key);\n  return { status: ${
        200 + (i % 5)
      }, key, size: ${i * 37} };\n}\n`
  }
  return js.slice(0, 20 * 1024)
}

const makeFiles = (root, { large, mid }) => {
  if (mid) { for (const size of numbers("MID_SIZES")) writeFileSync(join(root, `mid-${size}.bin`), randomBytes(size)) }
  // ~1 KiB of HTML, deterministic
  let page =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fiberhttp bench</title></head><body>\n"
  for (let i = 0; page.length < 960; i++) page += `<p>${createHash("sha256").update(String(i)).digest("hex")}</p>\n`
  page = page.slice(0, 1024 - 15) + "\n</body></html>\n"
  page = page.padEnd(1024, " ")
  writeFileSync(join(root, "index.html"), page)
  writeFileSync(join(root, "app.js"), benchScript())
  if (large) {
    const block = randomBytes(MiB)
    const fd = openSync(join(root, "large.bin"), "w")
    for (let i = 0; i < LARGE_MIB; i++) writeSync(fd, block)
    closeSync(fd)
  }
  return page
}

// ---------------------------------------------------------------- servers
const SERVER_LABEL = {
  fiberhttp: "fiberhttp",
  node: "node:http",
  "node-constant": "node:http constant",
  "http-server": "http-server",
  nginx: "nginx",
  caddy: "Caddy"
}
let BIN // the snapshot of dist/fiberhttp.js
let root // the served directory
let NGINX
const HTTP_SERVER = join(PROJECT, "node_modules/http-server/bin/http-server")

const waitFor = async (child, name, ready, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const port = await ready()
    if (port !== undefined) return port
    if (child.exitCode !== null || child.signalCode !== null) break
    await sleep(20)
  }
  killGroup(child)
  throw new Error(`${name} did not start: ${(child.out + child.err).trim().slice(-1000)}`)
}

/** Starts a server of `kind` on a free loopback port: { name, port, pid, child, stop() }. */
const startServer = async (kind, extra = [], { env: childEnv = env, nginxWorkers = 1 } = {}) => {
  const name = SERVER_LABEL[kind]
  if (kind === "fiberhttp") {
    // the port first: `--quiet 0` would read 0 as the value of --quiet
    // compression off unless asked for: the other sections compare like with like
    const compress = extra.includes("--compress") ? [] : ["--no-compress"]
    const child = start(process.execPath, [BIN, "server", "0", "--root", root, "--quiet", ...compress, ...extra], {
      env: childEnv
    })
    const port = await waitFor(child, name, async () => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(child.out)
      return m === null ? undefined : Number(m[1])
    })
    return { kind, name, port, pid: child.pid, child, stop: () => stop(child, "SIGINT") }
  }
  if (kind === "node" || kind === "node-constant") {
    const script = kind === "node" ? "baseline.mjs" : "baseline-constant.mjs"
    const child = start(process.execPath, [join(HERE, script), root])
    const port = await waitFor(child, name, async () => {
      const m = /port (\d+)/.exec(child.out)
      return m === null ? undefined : Number(m[1])
    })
    return { kind, name, port, pid: child.pid, child, stop: () => stop(child, "SIGINT") }
  }
  if (kind === "http-server") {
    const port = await freePort()
    const child = start(process.execPath, [
      "--no-deprecation",
      HTTP_SERVER,
      root,
      "-p",
      String(port),
      "-a",
      "127.0.0.1",
      "-c-1",
      "-s"
    ])
    await waitFor(child, name, async () => ((await canConnect(port)) ? port : undefined))
    return { kind, name, port, pid: child.pid, child, stop: () => stop(child, "SIGINT") }
  }
  if (kind === "nginx") {
    const port = await freePort()
    const prefix = mkdtempSync(join(tmp, "nginx-"))
    const mimeTypes = existsSync("/etc/nginx/mime.types")
      ? "include /etc/nginx/mime.types;"
      : "types { text/html html; application/octet-stream bin; }"
    const user = process.getuid?.() === 0
      ? `user ${os.userInfo().username} ${execFileSync("id", ["-gn"]).toString().trim()};`
      : ""
    writeFileSync(
      join(prefix, "nginx.conf"),
      `# written by scratchpad/bench/run.mjs
${user}
worker_processes ${nginxWorkers};
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 16384; }
http {
  ${mimeTypes}
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${prefix}/body;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`
    )
    const child = start(NGINX, ["-p", prefix, "-e", join(prefix, "error.log"), "-c", join(prefix, "nginx.conf")])
    try {
      await waitFor(child, name, async () => ((await canConnect(port)) ? port : undefined))
    } catch (error) {
      const log = existsSync(join(prefix, "error.log")) ? readFileSync(join(prefix, "error.log"), "utf8") : ""
      throw new Error(`${error.message} ${log.slice(-1000)}`)
    }
    const worker = childPids(child.pid)[0]
    return { kind, name, port, pid: worker ?? child.pid, child, stop: () => stop(child, "SIGQUIT") }
  }
  if (kind === "caddy") {
    const port = await freePort()
    // its state (certificates it will not need) in the run's directory, not in $HOME
    const home = mkdtempSync(join(tmp, "caddy-"))
    const child = start(available.caddy, ["file-server", "--root", root, "--listen", `127.0.0.1:${port}`], {
      env: { ...env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home }
    })
    await waitFor(child, name, async () => ((await canConnect(port)) ? port : undefined))
    return { kind, name, port, pid: child.pid, child, stop: () => stop(child, "SIGINT") }
  }
  throw new Error(`unknown server ${kind}`)
}

const collectStderr = (server, what) => {
  // Caddy logs its start-up on stderr as JSON lines at level info
  const err = server.child.err.split("\n").filter((l) => !/^\{"level":"(info|warn)"/.test(l)).join("\n").trim()
  if (err !== "") {
    notes.push(`${what}, ${server.name} wrote on stderr: ${err.split("\n").slice(0, 5).join(" / ").slice(0, 600)}`)
  }
}

// ---------------------------------------------------------------- the sections
/**
 * Section 9: what on-the-fly compression costs. One fiberhttp with --compress
 * serves the same 20 KiB JavaScript file identity (no Accept-Encoding), br and
 * gzip, interleaved; the ratio is against identity. The compressed sizes are
 * set against gzip -9 and brotli at its default (quality 11; the brotli CLI
 * if installed, else node:zlib's brotli, the same library).
 */
const compressSection = async () => {
  const file = join(root, "app.js")
  const original = readFileSync(file)
  const server = await startServer("fiberhttp", ["--compress"])
  const results = new Map()
  const sizes = new Map()
  const cases = [["identity", []], ["br", ["Accept-Encoding: br"]], ["gzip", ["Accept-Encoding: gzip"]]]
  try {
    for (const [name, headers] of cases) {
      const r = await run(available.curl ?? "curl", [
        "-s",
        "-o",
        join(tmp, `app.${name}`),
        "-w",
        "%{size_download} %{http_code}",
        ...headers.flatMap((h) => ["-H", h]),
        `http://127.0.0.1:${server.port}/app.js`
      ], { timeoutMs: 10_000 })
      const [size, status] = r.out.trim().split(" ").map(Number)
      const body = readFileSync(join(tmp, `app.${name}`))
      const decoded = name === "br" ? zlib.brotliDecompressSync(body) : name === "gzip" ? zlib.gunzipSync(body) : body
      if (status !== 200 || !decoded.equals(original)) {
        throw new Error(`${name}: status ${status}, body does not decode to the file`)
      }
      sizes.set(name, size)
    }
    const seconds = Math.max(1, Math.round(DURATION / ROUNDS))
    for (const [name] of cases) results.set(name, [])
    if (WARMUP > 0) await wrk(`http://127.0.0.1:${server.port}/app.js`, { connections: CONNECTIONS, seconds: WARMUP })
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, headers] of round % 2 === 0 ? cases : [...cases].reverse()) {
        log(`compression: ${name}, round ${round + 1}/${ROUNDS}`)
        results.get(name).push(
          await wrk(`http://127.0.0.1:${server.port}/app.js`, { connections: CONNECTIONS, seconds, headers })
        )
      }
    }
  } finally {
    await server.stop()
    collectStderr(server, "compression")
  }
  const combined = new Map([...results].map(([k, rs]) => [k, combine(rs)]))
  for (const [name, r] of combined) describeWrkTrouble("fiberhttp", `compression ${name}`, r)
  const identity = combined.get("identity")
  const title = `20 KiB JS, ${CONNECTIONS} keep-alive conns, ${SPAN}`
  for (const name of ["br", "gzip"]) {
    const mine = combined.get(name)
    row(
      "11",
      `${title}, ${name}`,
      `${fmt(mine.rps)} req/s, ${fmt(sizes.get(name))} B`,
      "identity",
      `${fmt(identity.rps)} req/s, ${fmt(sizes.get("identity"))} B`,
      x(ratio(mine.rps, identity.rps))
    )
  }
  const gzip9 = execFileSync("gzip", ["-9nc", file]).length
  const brotliCli = binary("brotli")
  const brotli11 = brotliCli === undefined
    ? zlib.brotliCompressSync(original).length
    : execFileSync(brotliCli, ["-c", "-q", "11", file]).length
  row(
    "11",
    "20 KiB JS, gzip size",
    `${fmt(sizes.get("gzip"))} B`,
    "gzip -9n",
    `${fmt(gzip9)} B`,
    x(sizes.get("gzip") / gzip9)
  )
  row(
    "11",
    "20 KiB JS, br size",
    `${fmt(sizes.get("br"))} B`,
    brotliCli === undefined ? "brotli q11 (node:zlib)" : "brotli -q 11",
    `${fmt(brotli11)} B`,
    x(sizes.get("br") / brotli11)
  )
}

/**
 * Section 14: what the live inspector costs. Three servers on the 1 KiB page,
 * interleaved: this build with --inspector and one viewer reading its event
 * stream (a batch every 100 ms: lifecycle events and the connections'
 * changed counters), the same with no viewer, and, given BASE_BIN, another
 * build (main's) with no inspector at all; with each, the CPU time the
 * server process spent per response (less disturbed by other load than the
 * rate). Targets: one viewer within 10% of none; no viewer within 3% of the
 * other build. Also `--workers 2 --inspector` with one viewer of the primary
 * (its workers forwarding their batches over IPC) against the same with
 * none, CPU counted over the primary and its workers: the viewer within 10%.
 */
const inspectorSection = async () => {
  const base = env.BASE_BIN === undefined ? undefined : resolve(env.BASE_BIN)
  if (base !== undefined && !existsSync(base)) throw new Error(`BASE_BIN ${base} is missing`)
  const startBuild = async (kind, name, bin, extra) => {
    const child = start(process.execPath, [bin, "server", "0", "--root", root, "--quiet", "--no-compress", ...extra])
    const port = await waitFor(child, name, async () => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(child.out)
      return m === null ? undefined : Number(m[1])
    })
    const inspector = /inspector: http:\/\/127\.0\.0\.1:(\d+)\//.exec(child.out)
    return { kind, name, port, inspector: inspector && Number(inspector[1]), child, stop: () => stop(child, "SIGINT") }
  }
  const servers = []
  /** The viewer: reads the whole event stream as a page would, counting batches, events and what was dropped. */
  const viewer = { batches: 0, events: 0, connections: 0, dropped: 0, socket: undefined }
  /** CPU ms and responses of each server over its runs. */
  const cpu = new Map()
  /** The viewer of the --workers 2 server, and what it read. */
  let workersViewer
  let workersViewerBytes = 0
  try {
    servers.push(await startBuild("viewer", "one viewer", BIN, ["--inspector"]))
    servers.push(await startBuild("none", "no viewer", BIN, ["--inspector"]))
    if (base !== undefined) servers.push(await startBuild("base", "other build", base, []))
    servers.push(await startBuild("wviewer", "--workers 2, one viewer", BIN, ["--inspector", "--workers", "2"]))
    servers.push(await startBuild("wnone", "--workers 2, no viewer", BIN, ["--inspector", "--workers", "2"]))
    const watchedWorkers = servers.find((server) => server.kind === "wviewer")
    workersViewer = net.connect({ port: watchedWorkers.inspector, host: "127.0.0.1" })
    workersViewer.on("error", () => {})
    workersViewer.write("GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
    workersViewer.on("data", (d) => void (workersViewerBytes += d.length))
    const watched = servers[0]
    viewer.socket = net.connect({ port: watched.inspector, host: "127.0.0.1" })
    viewer.socket.on("error", () => {})
    viewer.socket.write("GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
    let tail = ""
    viewer.socket.on("data", (d) => {
      const text = tail + d.toString("latin1")
      const lines = text.split("\n")
      tail = lines.pop()
      for (const line of lines) {
        if (!line.startsWith("data: {\"events\"")) continue
        const batch = JSON.parse(line.slice(6))
        viewer.batches++
        viewer.events += batch.events.length
        viewer.connections += batch.connections.length
        viewer.dropped += batch.dropped ?? 0
      }
    })
    const url = (server) => `http://127.0.0.1:${server.port}/index.html`
    if (WARMUP > 0) {
      for (const server of servers) {
        log(`inspector warm-up: ${server.name}`)
        await wrk(url(server), { connections: CONNECTIONS, seconds: WARMUP })
      }
    }
    const results = await interleaved(
      servers,
      "inspector",
      async (server, seconds) => {
        const before = cpuMsOfTree(server.child.pid)
        const r = await wrk(url(server), { connections: CONNECTIONS, seconds })
        const spent = cpu.get(server.kind) ?? { ms: 0, requests: 0 }
        cpu.set(server.kind, {
          ms: spent.ms + cpuMsOfTree(server.child.pid) - before,
          requests: spent.requests + r.requests
        })
        return r
      }
    )
    const cpuPerResponse = (kind) => 1000 * cpu.get(kind).ms / cpu.get(kind).requests
    for (const [kind, r] of results) describeWrkTrouble(kind, "inspector", r)
    const title = `1 KiB file, ${CONNECTIONS} keep-alive conns, ${SPAN}`
    const one = results.get("viewer")
    const none = results.get("none")
    const r1 = ratio(one.rps, none.rps)
    const figures = (kind, r) => `${fmt(r.rps)} req/s, ${fmt(cpuPerResponse(kind))} µs CPU/response`
    const cpuRatio = (a, b) => `CPU/response ${x(ratio(cpuPerResponse(a), cpuPerResponse(b)))}`
    row(
      "14",
      `${title}, one inspector viewer`,
      figures("viewer", one),
      "no viewer",
      figures("none", none),
      `${x(r1)} (${cpuRatio("viewer", "none")})`,
      ">= 0.90x",
      verdict(r1 >= 0.9)
    )
    notes.push(
      `inspector: the viewer took ${fmt(viewer.batches)} batches with ${fmt(viewer.events)} events and ` +
        `${fmt(viewer.connections)} connection figures, and was told of ${fmt(viewer.dropped)} dropped`
    )
    const wOne = results.get("wviewer")
    const wNone = results.get("wnone")
    const r3 = ratio(wOne.rps, wNone.rps)
    row(
      "14",
      `${title}, --workers 2, one inspector viewer of the primary`,
      figures("wviewer", wOne),
      "--workers 2, no viewer",
      figures("wnone", wNone),
      `${x(r3)} (${cpuRatio("wviewer", "wnone")})`,
      ">= 0.90x",
      verdict(r3 >= 0.9)
    )
    notes.push(`inspector: the --workers 2 viewer read ${fmt(workersViewerBytes)} bytes of events`)
    if (base === undefined) {
      row("14", `${title}, no viewer`, figures("none", none), "other build", "BASE_BIN not set: skipped")
    } else {
      const theirs = results.get("base")
      const r2 = ratio(none.rps, theirs.rps)
      row(
        "14",
        `${title}, no viewer`,
        figures("none", none),
        "other build",
        figures("base", theirs),
        `${x(r2)} (${cpuRatio("none", "base")})`,
        ">= 0.97x",
        verdict(r2 >= 0.97)
      )
    }
  } finally {
    viewer.socket?.destroy()
    workersViewer?.destroy()
    await stopAll(servers, "inspector")
  }
}

// WRK=/path, NGINX=/path: other binaries (a path that does not exist counts as missing)
const binary = (
  name
) => (env[name.toUpperCase()] !== undefined
  ? (existsSync(env[name.toUpperCase()]) ? env[name.toUpperCase()] : undefined)
  : which(name))
const available = {
  wrk: binary("wrk"),
  nginx: binary("nginx"),
  caddy: binary("caddy"),
  curl: which("curl"),
  httpServer: existsSync(HTTP_SERVER) ? HTTP_SERVER : undefined
}
const missingWrk = "wrk is not installed: `sudo apt-get install -y wrk` (Debian/Ubuntu), then rerun"
const missingNginx =
  "nginx is not installed: `sudo apt-get install -y nginx-light` (stop the service it may start: `sudo systemctl disable --now nginx`)"

const missing = (kind) =>
  (kind === "nginx" && NGINX === undefined) || (kind === "http-server" && available.httpServer === undefined) ||
    (kind === "caddy" && available.caddy === undefined)
    ? "not installed: skipped"
    : undefined

const wrkServers = (wanted) => {
  const list = SERVERS.filter((s) => wanted.includes(s))
  if (!list.includes("fiberhttp")) list.unshift("fiberhttp")
  return list
}

const TARGETS = {
  small: { node: 1.5, "http-server": 2, nginx: 0.5, caddy: 1, "node-constant": 1 },
  close: { node: 1.2 },
  large: { node: 0.9 }
}

/** Combines the slices of one server's rounds: mean throughput, median latency percentiles, summed trouble. */
const combine = (slices) => {
  const mean = (f) => slices.reduce((a, r) => a + f(r), 0) / slices.length
  const errors = slices.map((r) => r.socketErrors).filter((e) => e !== undefined)
  return {
    command: slices.map((r) => r.command).join("; "),
    requests: slices.reduce((a, r) => a + r.requests, 0),
    rps: mean((r) => r.rps),
    bytesPerSec: mean((r) => r.bytesPerSec),
    p50: median(slices.map((r) => r.p50)),
    p99: median(slices.map((r) => r.p99)),
    max: slices.some((r) => r.max === undefined) ? undefined : Math.max(...slices.map((r) => r.max)),
    non2xx: slices.reduce((a, r) => a + r.non2xx, 0),
    socketErrors: errors.length === 0
      ? undefined
      : Object.fromEntries(
        ["connect", "read", "write", "timeout"].map((k) => [k, errors.reduce((a, e) => a + e[k], 0)])
      ),
    failed: slices.some((r) => r.failed),
    raw: slices.map((r) => r.raw).join("\n")
  }
}

/**
 * Runs `load(server)` for every server in ROUNDS rounds, the order reversed
 * every other round, so that a change in the machine's load hits all alike;
 * each server gets DURATION seconds in all (ROUNDS slices).
 */
const interleaved = async (servers, what, load) => {
  const slices = new Map(servers.map((s) => [s.kind, []]))
  const seconds = Math.max(1, Math.round(DURATION / ROUNDS))
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
      log(`${what}: ${server.name}, round ${round + 1}/${ROUNDS}`)
      slices.get(server.kind).push(await load(server, seconds))
    }
  }
  return new Map([...slices].map(([kind, rs]) => [kind, combine(rs)]))
}

/** Starts the servers of `kinds` that are available; each one's check must pass, else it is left out with a note. */
const startAll = async (kinds, check) => {
  const servers = []
  for (const kind of kinds) {
    if (kind === "nginx" && NGINX === undefined) continue
    if (kind === "http-server" && available.httpServer === undefined) continue
    if (kind === "caddy" && available.caddy === undefined) continue
    const server = await startServer(kind)
    servers.push(server)
    const problem = await check(server)
    if (problem !== undefined) {
      notes.push(`${server.name}: ${problem}: its rows are left out`)
      server.skip = true
    }
  }
  return servers
}
const stopAll = async (servers, what) => {
  for (const server of servers) {
    await server.stop()
    collectStderr(server, what)
  }
}

/** Sections 1 and 2: all servers up, each warmed up, then the keep-alive runs and the connection-per-request runs. */
const smallAndClose = async (page) => {
  const results = { small: new Map(), close: new Map() }
  const all = []
  try {
    all.push(
      ...(await startAll(
        wrkServers(["fiberhttp", "node", "node-constant", "http-server", "nginx", "caddy"]),
        async (server) => {
          const r = await request(server.port, "/index.html")
          return r.status === 200 && r.body?.equals(Buffer.from(page))
            ? undefined
            : `GET /index.html gave ${r.status ?? r.error}, not the 1 KiB page`
        }
      ))
    )
    const servers = all.filter((s) => !s.skip)
    const url = (server) => `http://127.0.0.1:${server.port}/index.html`
    if (WARMUP > 0) {
      for (const server of servers) {
        log(`warm-up: ${server.name}`)
        await wrk(url(server), { connections: CONNECTIONS, seconds: WARMUP })
      }
    }
    if (sections.has("small")) {
      results.small = await interleaved(
        servers,
        "small, keep-alive",
        (server, seconds) => wrk(url(server), { connections: CONNECTIONS, seconds })
      )
    }
    if (sections.has("close")) {
      results.close = await interleaved(
        servers,
        "small, connection per request",
        (server, seconds) => wrk(url(server), { connections: CONNECTIONS, seconds, headers: ["Connection: close"] })
      )
    }
  } finally {
    await stopAll(all, "small files")
  }
  const latency = (r) => `${fmt(r.rps)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms`
  const others = ["node", "node-constant", "http-server", "nginx", "caddy"].filter((k) => SERVERS.includes(k))
  for (
    const [key, title, describe] of [
      ["small", `1 KiB file, ${CONNECTIONS} keep-alive conns, ${SPAN}`, latency],
      ["close", `1 KiB file, Connection: close, ${CONNECTIONS} conns, ${SPAN}`, (r) => `${fmt(r.rps)} req/s`]
    ]
  ) {
    if (!sections.has(key)) continue
    for (const [kind, r] of results[key]) {
      describeWrkTrouble(SERVER_LABEL[kind], key === "small" ? "small keep-alive" : "connection per request", r)
    }
    const number = key === "small" ? "1" : "2"
    const mine = results[key].get("fiberhttp")
    if (mine === undefined) {
      row(number, title, "no figure (see notes)")
      continue
    }
    for (const kind of others) {
      const theirs = results[key].get(kind)
      const target = TARGETS[key][kind]
      if (theirs === undefined) {
        row(
          number,
          title,
          describe(mine),
          SERVER_LABEL[kind],
          missing(kind) ?? "no figure",
          "",
          target ? `≥ ${target}x` : ""
        )
        continue
      }
      const r = ratio(mine.rps, theirs.rps)
      row(
        number,
        title,
        describe(mine),
        SERVER_LABEL[kind],
        describe(theirs),
        x(r),
        target ? `≥ ${target}x` : "",
        target ? verdict(r >= target) : ""
      )
    }
    if (others.length === 0) row(number, title, describe(mine))
  }
}

/** Section 3: the large file; the servers fresh for each concurrency, so a peak RSS is that concurrency's. */
const large = async () => {
  const size = statSync(join(root, "large.bin")).size
  for (const connections of numbers("LARGE")) {
    const all = []
    let results = new Map()
    const peaks = new Map()
    try {
      all.push(
        ...(await startAll(wrkServers(["fiberhttp", "node", "nginx"]), async (server) => {
          const r = await request(server.port, "/large.bin", { method: "HEAD" })
          return r.status === 200 && r.contentLength === size
            ? undefined
            : `HEAD /large.bin gave ${r.status ?? r.error}, length ${r.contentLength}`
        }))
      )
      const servers = all.filter((s) => !s.skip)
      const samplers = servers.map((s) => [s.kind, rssSampler(s.pid)])
      results = await interleaved(
        servers,
        `large file, ${connections} downloads`,
        (server, seconds) => wrk(`http://127.0.0.1:${server.port}/large.bin`, { connections, seconds, timeout: 60 })
      )
      for (const [kind, peak] of samplers) peaks.set(kind, peak())
    } finally {
      await stopAll(all, `large file, ${connections} downloads`)
    }
    for (const [kind, r] of results) {
      r.peakRss = peaks.get(kind)
      // a download cut by the end of a run is expected: only other trouble counts
      if (
        r.failed || r.non2xx > 0 ||
        (r.socketErrors && r.socketErrors.connect + r.socketErrors.write + r.socketErrors.timeout > 0)
      ) {
        describeWrkTrouble(SERVER_LABEL[kind], `large file, ${connections} downloads`, r)
      }
    }
    const title = `${LARGE_MIB} MiB file, ${connections} concurrent downloads, ${SPAN}`
    const describe = (r, kind) =>
      `${fmt(r.bytesPerSec / MiB)} MiB/s, peak RSS ${mib(r.peakRss)}${kind === "nginx" ? " (worker)" : ""}`
    const mine = results.get("fiberhttp")
    if (mine === undefined) {
      row("3", title, "no figure (see notes)")
      continue
    }
    for (const kind of ["node", "nginx"].filter((k) => SERVERS.includes(k))) {
      const theirs = results.get(kind)
      const target = TARGETS.large[kind]
      if (theirs === undefined) {
        row("3", title, describe(mine), SERVER_LABEL[kind], missing(kind) ?? "no figure")
        continue
      }
      const r = ratio(mine.bytesPerSec, theirs.bytesPerSec)
      row(
        "3",
        title,
        describe(mine),
        SERVER_LABEL[kind],
        describe(theirs, kind),
        x(r),
        target ? `≥ ${target}x` : "",
        target ? verdict(r >= target) : ""
      )
    }
    if (connections === 50) {
      row(
        "3",
        `fiberhttp peak RSS, 50 × ${LARGE_MIB} MiB downloads`,
        mib(mine.peakRss),
        "",
        "",
        "",
        "< 150 MiB",
        verdict(mine.peakRss < 150 * MiB)
      )
    }
  }
}

/** CPU time (user + system) a process has used so far, in ms; NaN when it cannot be read. */
/** CPU ms of a process and its children (a primary and its workers). */
const cpuMsOfTree = (pid) => {
  let children = []
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(" ").filter((c) => c !== "")
    )
  } catch {}
  return children.reduce((sum, child) => sum + cpuMsOf(Number(child)), cpuMsOf(pid))
}

const cpuMsOf = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1).split(" ")
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

/** Responses per connection and the worst wait of one (scratchpad/studies/mid-fairness.mjs). */
const FAIRNESS = join(PROJECT, "scratchpad/studies/mid-fairness.mjs")

/**
 * Section 9: mid-size files (a 300 KB script bundle, a 2 MB image) under
 * 200 connections, the servers interleaved: requests per second, and
 * fairness (p50, p99, max; a p99 far above the median means connections
 * starve) and timeouts at wrk's --timeout; the CPU each server's process
 * spends per response over those runs; then, per server, responses per
 * connection and the worst wait of one (mid-fairness.mjs: a connection
 * that waits seconds while others are served shows there, not in a total).
 */
const mid = async () => {
  const fairSeconds = Math.max(3, Math.round(DURATION / 2))
  const connections = Number(setting("MID_CONNECTIONS"))
  const threads = Number(setting("MID_THREADS"))
  for (const size of numbers("MID_SIZES")) {
    const path = `/mid-${size}.bin`
    const all = []
    let results = new Map()
    /** CPU time of each server's process over its wrk runs, and the requests they made. */
    const cpu = new Map()
    /** mid-fairness.mjs's figures per server. */
    const fairness = new Map()
    try {
      all.push(
        ...(await startAll(wrkServers(["fiberhttp", "http-server", "nginx", "caddy"]), async (server) => {
          const r = await request(server.port, path, { method: "HEAD" })
          return r.status === 200 && r.contentLength === size
            ? undefined
            : `HEAD ${path} gave ${r.status ?? r.error}, length ${r.contentLength}`
        }))
      )
      const servers = all.filter((s) => !s.skip)
      const url = (server) => `http://127.0.0.1:${server.port}${path}`
      if (WARMUP > 0) {
        for (const server of servers) {
          log(`warm-up: ${server.name}, ${path}`)
          await wrk(url(server), { connections, seconds: WARMUP, threads })
        }
      }
      results = await interleaved(
        servers,
        `mid-size file ${fmt(size)} B, ${connections} conns`,
        async (server, seconds) => {
          const before = cpuMsOf(server.pid)
          const r = await wrk(url(server), { connections, seconds, threads, timeout: 10 })
          const used = cpuMsOf(server.pid) - before
          const spent = cpu.get(server.kind) ?? { ms: 0, requests: 0 }
          cpu.set(server.kind, { ms: spent.ms + used, requests: spent.requests + r.requests })
          return r
        }
      )
      for (const server of servers) {
        log(`mid-size file ${fmt(size)} B: responses per connection, ${server.name}`)
        const r = await run(process.execPath, [
          FAIRNESS,
          String(server.port),
          path,
          String(connections),
          String(fairSeconds),
          "1"
        ], { timeoutMs: (fairSeconds + 30) * 1000 })
        try {
          fairness.set(server.kind, JSON.parse(r.out.trim().split("\n").at(-1)))
        } catch {
          notes.push(`mid-fairness.mjs against ${server.name} gave no figure: ${(r.out + r.err).trim().slice(-300)}`)
        }
      }
    } finally {
      await stopAll(all, `mid-size file ${fmt(size)} B`)
    }
    for (const [kind, r] of results) describeWrkTrouble(SERVER_LABEL[kind], `mid-size file ${fmt(size)} B`, r)
    const title = `${fmt(size)} B file, ${connections} conns, wrk -t${threads}, ${SPAN}`
    const timeouts = (r) => r.socketErrors?.timeout ?? 0
    const cpuPerResponse = (kind) => {
      const c = cpu.get(kind)
      return c === undefined || !(c.requests > 0) ? "?" : ms(c.ms / c.requests)
    }
    const describe = (r, kind) =>
      `${fmt(r.rps)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, max ${ms(r.max)} ms, ${
        fmt(timeouts(r))
      } timeouts, CPU ${cpuPerResponse(kind)} ms/response`
    const fair = (f) =>
      f === undefined
        ? "no figure"
        : `${f.perConn.min}-${f.perConn.max} responses per connection, worst wait ${ms(f.worstGapMs.max)} ms`
    const mine = results.get("fiberhttp")
    if (mine === undefined) {
      row("12", title, "no figure (see notes)")
      continue
    }
    for (const kind of ["http-server", "nginx", "caddy"].filter((k) => SERVERS.includes(k))) {
      const theirs = results.get(kind)
      const target = kind === "http-server" ? 2 : undefined
      if (theirs === undefined) {
        row(
          "12",
          title,
          describe(mine, "fiberhttp"),
          SERVER_LABEL[kind],
          missing(kind) ?? "no figure",
          "",
          target ? `≥ ${target}x` : ""
        )
        continue
      }
      const r = ratio(mine.rps, theirs.rps)
      row(
        "12",
        title,
        describe(mine, "fiberhttp"),
        SERVER_LABEL[kind],
        describe(theirs, kind),
        x(r),
        target ? `≥ ${target}x` : "",
        target ? verdict(r >= target) : ""
      )
    }
    // fairness: every connection served, none waiting seconds while others are served again and again
    const mineFair = fairness.get("fiberhttp")
    for (const kind of ["http-server", "nginx", "caddy"].filter((k) => SERVERS.includes(k) && results.has(k))) {
      const theirs = fairness.get(kind)
      row(
        "12",
        `${fmt(size)} B file: fairness, ${connections} conns, ${fairSeconds} s (worst wait: ratio)`,
        fair(mineFair),
        SERVER_LABEL[kind],
        fair(theirs),
        mineFair && theirs ? x(ratio(mineFair.worstGapMs.max, theirs.worstGapMs.max)) : "",
        "every connection served",
        mineFair ? verdict(mineFair.perConn.min > 0) : ""
      )
    }
    row(
      "12",
      `${fmt(size)} B file: fiberhttp p99 and timeouts`,
      `p99 ${ms(mine.p99)} ms (${x(ratio(mine.p99, mine.p50))} the median), ${fmt(timeouts(mine))} timeouts`,
      "",
      "",
      "",
      "p99 < 1 s, no timeouts",
      verdict(mine.p99 < 1000 && timeouts(mine) === 0 && !mine.failed)
    )
  }
}

/** Starts loader.mjs (raised open-files limit) and resolves its first JSON line of `event`. */
const loaderEvent = (loader, event, timeoutMs) =>
  new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs
    const poll = setInterval(() => {
      for (const line of loader.out.split("\n")) {
        if (line.startsWith("{") && line.includes(`"event":"${event}"`)) {
          clearInterval(poll)
          loader.out = loader.out.slice(loader.out.indexOf(line) + line.length)
          resolve(JSON.parse(line))
          return
        }
      }
      if (loader.exitCode !== null || Date.now() > deadline) {
        clearInterval(poll)
        reject(new Error(`loader: no ${event} (${loader.err.trim().slice(-500)})`))
      }
    }, 20)
  })
const startLoader = (args) => start(process.execPath, [join(HERE, "loader.mjs"), ...args], { stdin: "pipe" })
const endLoader = async (loader) => {
  loader.stdin.end()
  await stop(loader, "SIGTERM", 10_000)
}

/** Section 4: fiberhttp's RSS with many idle keep-alive connections, and a request served meanwhile. */
const idle = async () => {
  for (const count of numbers("IDLE")) {
    log(`idle connections: ${fmt(count)}`)
    const server = await startServer("fiberhttp", ["--max-connections", "20000", "--keep-alive-timeout", "120"])
    const loader = startLoader(["idle", String(server.port), String(count), "/index.html"])
    try {
      await request(server.port, "/index.html") // the first request compiles the serving path
      const before = procStatus(server.pid).rss
      const ready = await loaderEvent(loader, "ready", 180_000)
      await sleep(1000)
      const rss = procStatus(server.pid).rss
      const probes = []
      let failures = 0
      for (let i = 0; i < 20; i++) {
        const r = await request(server.port, "/index.html")
        if (r.status === 200) probes.push(r.ms)
        else failures++
        await sleep(20)
      }
      loader.stdin.write("report\n")
      const report = await loaderEvent(loader, "report", 10_000)
      if (ready.failed > 0 || report.closedByPeer > 0 || failures > 0) {
        notes.push(
          `idle ${fmt(count)}: loader opened ${fmt(ready.opened)}, failed ${fmt(ready.failed)} ${
            JSON.stringify(ready.errors)
          }, ` +
            `closed by the server meanwhile ${fmt(report.closedByPeer)}; ${failures} of 20 probe requests failed`
        )
      }
      const title = `${fmt(count)} idle keep-alive connections (${fmt(ready.opened)} open)`
      const high = count >= 10_000
      row(
        "4",
        `${title}: RSS`,
        `${mib(rss)} (${mib(before)} before)`,
        "",
        "",
        "",
        high ? "< 300 MiB" : "",
        high ? verdict(rss < 300 * MiB) : ""
      )
      const p = median(probes)
      row(
        "4",
        `${title}: one GET meanwhile (new conn, 20 runs)`,
        `median ${ms(p)} ms, max ${ms(Math.max(...probes))} ms`,
        "",
        "",
        "",
        "< 10 ms",
        verdict(p !== undefined && p < 10 && failures === 0)
      )
    } finally {
      await endLoader(loader)
      await server.stop()
      collectStderr(server, `idle ${count}`)
    }
  }
}

/** Section 5: SIGINT with open connections of every kind; time to exit and to a bindable port. */
const shutdown = async (section = "5", extra = [], what = "") => {
  const count = Number(setting("SHUTDOWN_CONNECTIONS"))
  log(`shutdown with ${fmt(count)} connections${what}`)
  // a long keep-alive timeout: the idle connections must still be open at the SIGINT
  const server = await startServer("fiberhttp", [
    "--max-connections",
    "20000",
    "--keep-alive-timeout",
    "120",
    ...extra
  ])
  const loader = startLoader(["shutdown", String(server.port), String(count), "/index.html", "/large.bin"])
  try {
    const ready = await loaderEvent(loader, "ready", 120_000)
    await sleep(500)
    const t0 = process.hrtime.bigint()
    const wallT0 = performance.timeOrigin + performance.now()
    const since = () => Number(process.hrtime.bigint() - t0) / 1e6
    let exitedAt
    server.child.exited.then(() => (exitedAt = since()))
    process.kill(server.pid, "SIGINT")
    let bindableAt
    while (since() < 20_000 && (bindableAt === undefined || exitedAt === undefined)) {
      if (bindableAt === undefined && (await canBind(server.port))) bindableAt = since()
      await sleep(2)
    }
    await sleep(200)
    loader.stdin.write("report\n")
    const report = await loaderEvent(loader, "report", 10_000).catch(() => undefined)
    const kinds = Object.entries(ready.kinds)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ")
    if (ready.failed > 0) {
      notes.push(
        `shutdown: ${ready.failed} of the ${count} connections did not reach their state ${
          JSON.stringify(ready.errors)
        }`
      )
    }
    if (report !== undefined) {
      const seen = Object.entries(report.closes)
        .map(([k, c]) => `${c.count} ${k} between ${ms(c.first - wallT0)} and ${ms(c.last - wallT0)} ms`)
        .join(", ")
      notes.push(
        `shutdown${what}: closes seen by the loader, in ms after the SIGINT: ${
          seen || "none"
        } (stalled downloads do not read, so they see none)`
      )
    }
    const title = `SIGINT with ${fmt(ready.opened)} open connections (${kinds})${what}`
    row(
      section,
      title,
      `port bindable after ${bindableAt === undefined ? "> 20 s" : `${ms(bindableAt)} ms`}, process exited after ${
        exitedAt === undefined ? "> 20 s" : `${ms(exitedAt)} ms`
      }`,
      "",
      "",
      "",
      "< 500 ms to bindable",
      verdict(bindableAt !== undefined && bindableAt < 500)
    )
  } finally {
    await endLoader(loader)
    await stop(server.child, "SIGKILL", 2000)
    collectStderr(server, "shutdown")
  }
}

/** Section 6: cold client start-up against our server. */
const client = async (page) => {
  log(`client start-up: ${RUNS} runs each`)
  const server = await startServer("fiberhttp")
  try {
    const url = `http://127.0.0.1:${server.port}/index.html`
    const fetchScript = `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`
    const contenders = [
      { name: "fiberhttp", command: process.execPath, args: [BIN, "client", "-b", url] },
      { name: "node fetch", command: process.execPath, args: ["-e", fetchScript] },
      ...(available.curl ? [{ name: "curl", command: available.curl, args: ["-s", url] }] : [])
    ]
    const times = new Map(contenders.map((c) => [c.name, []]))
    for (let i = -1; i < RUNS; i++) {
      for (const c of contenders) {
        const r = await run(c.command, c.args, { timeoutMs: 10_000 })
        if (r.code !== 0 || r.out !== page) {
          notes.push(
            `client: \`${c.command} ${c.args.join(" ")}\` exit ${r.code}${
              r.timedOut ? " (timed out)" : ""
            }, ${r.out.length} bytes out, ${r.err.trim().slice(0, 200)}`
          )
          times.get(c.name).push(NaN)
        } else if (i >= 0) times.get(c.name).push(r.ms) // run -1 warms the file cache
      }
    }
    const med = (name) => median(times.get(name).filter((t) => !Number.isNaN(t)))
    const mine = med("fiberhttp")
    const title = `cold GET, wall time (median of ${RUNS})`
    const r = ratio(mine, med("node fetch"))
    row(
      "6",
      title,
      `${ms(mine)} ms`,
      "node fetch script",
      `${ms(med("node fetch"))} ms`,
      r === undefined ? "?" : `${r.toFixed(2)}x time`,
      "≤ 1x time",
      verdict(r !== undefined && r <= 1)
    )
    if (available.curl) {
      row(
        "6",
        title,
        `${ms(mine)} ms`,
        "curl",
        `${ms(med("curl"))} ms`,
        `${ratio(mine, med("curl"))?.toFixed(2)}x time`
      )
    } else row("6", title, `${ms(mine)} ms`, "curl", "not installed")
  } finally {
    await server.stop()
    collectStderr(server, "client")
  }
}

/**
 * Section 8: one directory of LISTING files listed (--listing) by fiberhttp
 * and by `python3 -m http.server`, each GET on a fresh connection timed by
 * curl (time_total), the servers interleaved, after one warm-up each.
 */
const listing = async () => {
  const count = Number(setting("LISTING"))
  const python = which("python3")
  const title = `directory listing of ${fmt(count)} entries, curl time_total (median of ${RUNS})`
  if (!available.curl) return row("8", title, "SKIPPED", "", "curl is not installed")
  const listed = join(tmp, "listing")
  mkdirSync(join(listed, "many"), { recursive: true })
  for (let i = 0; i < count; i++) {
    writeFileSync(join(listed, "many", `file-${String(i).padStart(6, "0")}.txt`), "x".repeat(i % 100))
  }
  log(`directory listing: ${fmt(count)} entries, ${RUNS} runs each`)
  const servers = []
  try {
    const mine = start(process.execPath, [
      BIN,
      "server",
      "0",
      "--root",
      listed,
      "--listing",
      "--quiet",
      "--no-compress"
    ])
    const minePort = await waitFor(mine, "fiberhttp", async () => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(mine.out)
      return m === null ? undefined : Number(m[1])
    })
    servers.push({ name: "fiberhttp", child: mine, port: minePort, times: [] })
    if (python !== undefined) {
      const port = await freePort()
      const child = start(python, ["-m", "http.server", String(port), "--bind", "127.0.0.1", "-d", listed])
      await waitFor(child, "python3 -m http.server", async () => ((await canConnect(port)) ? port : undefined))
      servers.push({ name: "python", child, port, times: [] })
    }
    for (let i = -1; i < RUNS; i++) {
      for (const server of i % 2 === 0 ? servers : [...servers].reverse()) {
        const r = await run(available.curl, [
          "-s",
          "-o",
          join(tmp, `listing-${server.name}.html`),
          "-w",
          "%{http_code} %{time_total}",
          `http://127.0.0.1:${server.port}/many/`
        ], { timeoutMs: 30_000 })
        const [status, seconds] = r.out.trim().split(" ")
        if (r.code !== 0 || status !== "200") {
          notes.push(`listing: ${server.name} answered ${status} (curl exit ${r.code}) ${r.err.trim().slice(0, 200)}`)
        } else if (i >= 0) server.times.push(Number(seconds) * 1000)
        if (i === -1) {
          const links = readFileSync(join(tmp, `listing-${server.name}.html`), "utf8").match(/href="file-/g)?.length
          if (links !== count) notes.push(`listing: ${server.name} listed ${links} of ${count} files`)
        }
      }
    }
    const mineMs = median(servers[0].times)
    if (python === undefined) return row("8", title, `${ms(mineMs)} ms`, "python3", "not installed")
    const theirs = median(servers[1].times)
    const r = ratio(mineMs, theirs)
    row(
      "8",
      title,
      `${ms(mineMs)} ms`,
      "python3 -m http.server",
      `${ms(theirs)} ms`,
      r === undefined ? "?" : `${r.toFixed(2)}x time`,
      "≤ 1x time",
      verdict(r !== undefined && r <= 1)
    )
  } finally {
    for (const server of servers) await stop(server.child, "SIGINT")
  }
}

/**
 * Section 9: what the client reports as TCP connect and first byte, against
 * curl -w's time_connect and time_starttransfer on the same nginx, cold
 * runs interleaved; then the first byte on a reused connection (--count
 * against one curl fetching the URL RUNS + 1 times).
 */
const timing = async () => {
  if (NGINX === undefined) {
    row("9", "timing: SKIPPED", missingNginx)
    return
  }
  if (!available.curl) {
    row("9", "timing: SKIPPED", "curl is not installed")
    return
  }
  const server = await startServer("nginx")
  try {
    const url = `http://127.0.0.1:${server.port}/index.html`
    log(`timing: ${RUNS} cold runs each, then ${RUNS} reused rounds each`)
    const mine = { connect: [], first: [] }
    const theirs = { connect: [], first: [] }
    for (let i = -1; i < RUNS; i++) {
      const a = await run(process.execPath, [BIN, "client", "--ttl", "-b", url], { timeoutMs: 10_000 })
      const m = /TCP connect ([\d.]+) ms, first byte ([\d.]+) ms/.exec(a.out + a.err)
      const b = await run(
        available.curl,
        ["-s", "-o", "/dev/null", "-w", "%{time_connect} %{time_starttransfer}", url],
        {
          timeoutMs: 10_000
        }
      )
      const [c, f] = b.out.trim().split(" ").map((t) => Number(t) * 1000)
      if (m === null) {
        notes.push(`timing: client --ttl printed no RTT line: ${(a.out + a.err).slice(0, 200)}`)
        continue
      }
      if (i < 0) continue // the first pair warms the page cache and nginx
      mine.connect.push(Number(m[1]))
      mine.first.push(Number(m[2]))
      theirs.connect.push(c)
      theirs.first.push(f)
    }
    const versus = (what, a, b, slack) => {
      const ma = median(a)
      const mb = median(b)
      row(
        "9",
        `${what} (median of ${a.length})`,
        `${fmt(ma, 3)} ms`,
        `curl ${what === "TCP connect" ? "time_connect" : "time_starttransfer"}`,
        `${fmt(mb, 3)} ms`,
        `${x(ratio(ma, mb))}, +${fmt(ma - mb, 3)} ms`,
        `≤ curl + ${slack} ms`,
        verdict(ma !== undefined && mb !== undefined && ma - mb <= slack)
      )
    }
    versus("TCP connect", mine.connect, theirs.connect, 0.1)
    versus("first byte", mine.first, theirs.first, 0.2)

    // reused: the rounds after the first, on one kept-alive connection
    const rounds = RUNS + 1
    const a = await run(
      process.execPath,
      [BIN, "client", "--json", "--count", String(rounds), "--interval", "0", url],
      { timeoutMs: 60_000 }
    )
    let reused = []
    try {
      reused = JSON.parse(a.out).rounds.filter((r) => r.reused).map((r) => r.timings.firstByteMs)
    } catch {
      notes.push(`timing: client --count --json gave no JSON: ${(a.out + a.err).slice(0, 200)}`)
    }
    const b = await run(
      available.curl,
      [
        "-s",
        ...Array.from({ length: rounds }, () => ["-o", "/dev/null", url]).flat(),
        "-w",
        "%{num_connects} %{time_starttransfer}\n"
      ],
      { timeoutMs: 60_000 }
    )
    const curlReused = b.out.trim().split("\n").map((l) => l.split(" ")).filter(([n]) => n === "0").map(([, t]) =>
      Number(t) * 1000
    )
    const ma = median(reused)
    const mb = median(curlReused)
    row(
      "9",
      `first byte, reused connection (median of ${reused.length} rounds)`,
      `${fmt(ma, 3)} ms`,
      `curl time_starttransfer, reused (${curlReused.length})`,
      `${fmt(mb, 3)} ms`,
      `${x(ratio(ma, mb))}, +${fmt(ma - mb, 3)} ms`,
      "≤ curl + 0.1 ms",
      verdict(ma !== undefined && mb !== undefined && ma - mb <= 0.1)
    )
  } finally {
    await server.stop()
    collectStderr(server, "timing")
  }
}

/** Runs `command` with stdout to /dev/null under /usr/bin/time: wall ms and peak RSS (bytes), or an error. */
const timed = (command, args) =>
  new Promise((resolve) => {
    const devNull = openSync("/dev/null", "w")
    const t0 = process.hrtime.bigint()
    const child = spawn("/usr/bin/time", ["-f", "%M", command, ...args], {
      detached: true,
      cwd: PROJECT,
      stdio: ["ignore", devNull, "pipe"]
    })
    closeSync(devNull)
    children.add(child)
    let err = ""
    child.stderr.on("data", (d) => (err = (err + d).slice(-4000)))
    const timer = setTimeout(() => killGroup(child), 300_000)
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      clearTimeout(timer)
      children.delete(child)
      const kb = Number(/(\d+)\s*$/.exec(err.trim())?.[1])
      resolve(
        code === 0 && !Number.isNaN(kb) ? { ms, rss: kb * 1024 } : { error: `exit ${code}: ${err.trim().slice(-300)}` }
      )
    })
  })

/** Section 10: a large file from nginx, saved with -o and written to /dev/null with -b, against curl. */
const download = async () => {
  if (NGINX === undefined) {
    row("10", "download: SKIPPED", missingNginx)
    return
  }
  if (!available.curl || !existsSync("/usr/bin/time")) {
    row("10", "download: SKIPPED", "needs curl and /usr/bin/time (Debian: apt-get install -y curl time)")
    return
  }
  const mibs = Number(setting("DOWNLOAD_MIB"))
  const runs = Number(setting("DOWNLOAD_RUNS"))
  const file = join(root, "download.bin")
  if (!existsSync(file)) {
    log(`download: writing a ${mibs} MiB file`)
    const block = randomBytes(MiB)
    const fd = openSync(file, "w")
    for (let i = 0; i < mibs; i++) writeSync(fd, block)
    closeSync(fd)
  }
  const server = await startServer("nginx")
  const saved = join(tmp, "saved.bin")
  try {
    const url = `http://127.0.0.1:${server.port}/download.bin`
    const cases = [
      { key: "fh -b", command: process.execPath, args: [BIN, "client", "-b", url] },
      { key: "curl -b", command: available.curl, args: ["-s", url] },
      { key: "fh -o", command: process.execPath, args: [BIN, "client", "-o", saved, url], file: saved },
      { key: "curl -o", command: available.curl, args: ["-s", "-o", saved, url], file: saved }
    ]
    const results = new Map(cases.map((c) => [c.key, []]))
    await timed(available.curl, ["-s", url]) // the file into the page cache
    for (let i = 0; i < runs; i++) {
      for (const c of i % 2 === 0 ? cases : [...cases].reverse()) {
        log(`download: ${c.key}, run ${i + 1}/${runs}`)
        const r = await timed(c.command, c.args)
        if (r.error !== undefined) notes.push(`download: \`${c.key}\` failed: ${r.error}`)
        else if (c.file !== undefined && statSync(c.file).size !== mibs * MiB) {
          notes.push(`download: \`${c.key}\` saved ${statSync(c.file).size} bytes`)
        } else results.get(c.key).push(r)
        if (c.file !== undefined) rmSync(c.file, { force: true })
      }
    }
    for (const mode of ["-o FILE", "-b > /dev/null"]) {
      const flag = mode.slice(0, 2)
      const a = results.get(`fh ${flag}`)
      const b = results.get(`curl ${flag}`)
      const wall = (rs) => median(rs.map((r) => r.ms))
      const peak = (rs) => (rs.length === 0 ? undefined : Math.max(...rs.map((r) => r.rss)))
      const title = `${fmt(mibs)} MiB from nginx, ${mode} (${a.length} runs; wall: median, RSS: highest)`
      const r = ratio(wall(a), wall(b))
      row(
        "10",
        `${title}: wall time`,
        `${ms(wall(a))} ms`,
        "curl",
        `${ms(wall(b))} ms`,
        r === undefined ? "?" : `${r.toFixed(2)}x time`,
        "≤ 1.5x time",
        verdict(r !== undefined && r <= 1.5)
      )
      row(
        "10",
        `${title}: peak RSS`,
        peak(a) === undefined ? "?" : `${mib(peak(a))} (runs: ${a.map((r) => fmt(r.rss / MiB)).join(", ")})`,
        "curl",
        peak(b) === undefined ? "?" : mib(peak(b)),
        x(ratio(peak(a), peak(b))),
        "< 64 MiB",
        verdict(peak(a) !== undefined && peak(a) < 64 * MiB)
      )
    }
  } finally {
    rmSync(saved, { force: true })
    await server.stop()
    collectStderr(server, "download")
  }
}

/** Section 7: the parser benchmark (its own process), its two ratios. */
const parser = async () => {
  log("parser benchmark")
  const r = await run(process.execPath, ["--import", "tsx", join(HERE, "parser.ts")], { timeoutMs: 180_000 })
  const blocks = [
    ...r.out.matchAll(
      /^(.+) \((\d+) bytes per buffer\)\n\s+fiberhttp RequestParser\s+([\d,]+) req\/s\n\s+node llhttp\s+([\d,]+) req\/s\n\s+ratio\s+([\d.]+)x/gm
    )
  ]
  if (r.code !== 0 || blocks.length === 0) {
    row("7", "request parser vs llhttp", "failed (see notes)")
    notes.push(`parser: exit ${r.code}${r.timedOut ? " (timed out)" : ""}: ${(r.out + r.err).trim().slice(-600)}`)
    return
  }
  for (const [, name, bytes, mine, theirs, rat] of blocks) {
    row("7", `request parser: ${name} (${bytes} B)`, `${mine} req/s`, "node llhttp", `${theirs} req/s`, `${rat}x`)
  }
}

// ---------------------------------------------------------------- main
/** A process and its descendants (a primary and its workers, nginx's master and workers). */
const processTree = (pid) => [pid, ...childPids(pid).flatMap(processTree)]
/** CPU time (user + system, in clock ticks of 10 ms) used so far by `pids` (those still running). */
const cpuTicks = (pids) =>
  pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
      return sum + Number(fields[11]) + Number(fields[12])
    } catch {
      return sum
    }
  }, 0)

/** The scheduling `--workers` uses unless NODE_CLUSTER_SCHED_POLICY says otherwise (src/net/NodeWorkers.ts). */
const DEFAULT_SCHEDULING = "none"

/**
 * Section 13: `--workers`. fiberhttp with 2 workers against nginx with 2
 * worker processes and against fiberhttp as one process, keep-alive and
 * connection per request, interleaved; the two node:cluster schedulings
 * (SCHED_NONE: the kernel hands connections to the workers accepting on the
 * shared socket; round-robin: the primary accepts and passes them on) side
 * by side; throughput for each of WORKER_COUNTS (wrk shares the two cores);
 * and SIGINT with SHUTDOWN_CONNECTIONS connections spread over 2 workers.
 */
const workersSection = async (page) => {
  const check = async (server) => {
    const r = await request(server.port, "/index.html")
    return r.status === 200 && r.body?.equals(Buffer.from(page))
      ? undefined
      : `GET /index.html gave ${r.status ?? r.error}, not the 1 KiB page`
  }
  const url = (server) => `http://127.0.0.1:${server.port}/index.html`
  const withPolicy = (policy) => ({ env: { ...env, NODE_CLUSTER_SCHED_POLICY: policy } })
  const variants = [
    [
      "none",
      "fiberhttp --workers 2 (SCHED_NONE)",
      () => startServer("fiberhttp", ["--workers", "2"], withPolicy("none"))
    ],
    ["rr", "fiberhttp --workers 2 (round-robin)", () => startServer("fiberhttp", ["--workers", "2"], withPolicy("rr"))],
    ["one", "fiberhttp, one process", () => startServer("fiberhttp")],
    ...(NGINX === undefined
      ? []
      : [["nginx2", "nginx, 2 workers", () => startServer("nginx", [], { nginxWorkers: 2 })]])
  ]
  const measureAll = async (servers, what) => {
    if (WARMUP > 0) {
      for (const server of servers) {
        log(`warm-up: ${server.name}`)
        await wrk(url(server), { connections: CONNECTIONS, seconds: WARMUP })
      }
    }
    // CPU per request, of the server's processes together (the primary's included): on a machine
    // others load, how many requests a server gets through depends on its share of the cores, and
    // what each costs does much less
    const cpu = { keep: new Map(), close: new Map() }
    const measured = (key, headers) => async (server, seconds) => {
      const pids = processTree(server.child.pid)
      const before = cpuTicks(pids)
      const r = await wrk(url(server), { connections: CONNECTIONS, seconds, headers })
      const used = (cpuTicks(pids) - before) * 10_000
      if (r.requests > 0) cpu[key].set(server.kind, [...(cpu[key].get(server.kind) ?? []), used / r.requests])
      return r
    }
    const keep = await interleaved(servers, `${what}, keep-alive`, measured("keep", []))
    const close = what === "workers"
      ? await interleaved(servers, `${what}, connection per request`, measured("close", ["Connection: close"]))
      : new Map()
    for (const [key, results] of [["keep", keep], ["close", close]]) {
      for (const [kind, r] of results) r.cpuUs = median(cpu[key].get(kind) ?? [])
    }
    for (const [kind, r] of keep) describeWrkTrouble(kind, `${what} keep-alive`, r)
    for (const [kind, r] of close) describeWrkTrouble(kind, `${what} connection per request`, r)
    return { keep, close }
  }
  const startVariants = async (list) => {
    const servers = []
    for (const [kind, name, startIt] of list) {
      const server = await startIt()
      server.kind = kind
      server.name = name
      servers.push(server)
      const problem = await check(server)
      if (problem !== undefined) {
        notes.push(`workers: ${name}: ${problem}: its rows are left out`)
        server.skip = true
      }
    }
    return servers
  }

  let main = { keep: new Map(), close: new Map() }
  let servers = []
  try {
    servers = await startVariants(variants)
    main = await measureAll(servers.filter((s) => !s.skip), "workers")
  } finally {
    await stopAll(servers, "workers")
  }
  const cpuText = (r) => (r.cpuUs === undefined ? "" : `, ${fmt(r.cpuUs)} µs CPU/req`)
  const latency = (r) => `${fmt(r.rps)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms${cpuText(r)}`
  const nameOf = new Map(variants.map(([kind, name]) => [kind, name]))
  const mineKind = DEFAULT_SCHEDULING
  const otherPolicy = mineKind === "none" ? "rr" : "none"
  for (
    const [key, title, describe] of [
      ["keep", `1 KiB file, ${CONNECTIONS} keep-alive conns, ${SPAN}`, latency],
      [
        "close",
        `1 KiB file, Connection: close, ${CONNECTIONS} conns, ${SPAN}`,
        (r) => `${fmt(r.rps)} req/s${cpuText(r)}`
      ]
    ]
  ) {
    const results = main[key]
    const mine = results.get(mineKind)
    if (mine === undefined) {
      row("13", title, "no figure (see notes)")
      continue
    }
    for (const kind of ["nginx2", "one", otherPolicy]) {
      const theirs = results.get(kind)
      if (theirs === undefined) {
        if (kind === "nginx2") {
          row("13", title, `--workers 2: ${describe(mine)}`, "nginx, 2 workers", missing("nginx") ?? "no figure")
        }
        continue
      }
      const cpuRatio = ratio(mine.cpuUs, theirs.cpuUs)
      row(
        "13",
        title,
        `${kind === otherPolicy ? nameOf.get(mineKind) : "--workers 2"}: ${describe(mine)}`,
        nameOf.get(kind),
        describe(theirs),
        `${x(ratio(mine.rps, theirs.rps))}${cpuRatio === undefined ? "" : ` (CPU/req ${x(cpuRatio)})`}`
      )
    }
  }

  // how throughput grows with workers: each count its own server, interleaved
  const counts = numbers("WORKER_COUNTS")
  let scaling = new Map()
  servers = []
  try {
    servers = await startVariants(
      counts.map((n) => [`w${n}`, `fiberhttp --workers ${n}`, () => startServer("fiberhttp", ["--workers", String(n)])])
    )
    scaling = (await measureAll(servers.filter((s) => !s.skip), "workers scaling")).keep
  } finally {
    await stopAll(servers, "workers scaling")
  }
  const base = scaling.get(`w${counts[0]}`)
  for (const n of counts) {
    const r = scaling.get(`w${n}`)
    if (r === undefined) continue
    row(
      "13",
      `1 KiB file, ${CONNECTIONS} keep-alive conns, --workers ${n} (${os.cpus().length} cores, wrk on them too)`,
      latency(r),
      n === counts[0] ? "" : `--workers ${counts[0]}`,
      n === counts[0] ? "" : `${fmt(base?.rps)} req/s`,
      n === counts[0] ? "" : x(ratio(r.rps, base?.rps))
    )
  }

  await shutdown("13", ["--workers", "2"], ", --workers 2")
}

const machine = () => {
  const cpus = os.cpus()
  const version = (cmd, args, re) => {
    const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 5000 })
    return re.exec(`${r.stdout ?? ""}${r.stderr ?? ""}`)?.[1] ?? "?"
  }
  return [
    `CPU: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores; ${fmt(os.totalmem() / 1024 ** 3, 1)} GiB RAM`,
    `OS: ${os.type()} ${os.release()} (${os.arch()}); node ${process.version}; load average ${loadAtStart} at the start, ${
      os.loadavg()[0].toFixed(2)
    } at the end`,
    `tools: wrk ${available.wrk ? version("wrk", ["-v"], /wrk (\S+)/) : "missing"}, nginx ${
      available.nginx ? version(available.nginx, ["-v"], /nginx\/(\S+)/) : "missing"
    }, ` +
    `http-server ${
      available.httpServer
        ? JSON.parse(readFileSync(join(PROJECT, "node_modules/http-server/package.json"), "utf8")).version
        : "missing"
    }, curl ${available.curl ? version("curl", ["--version"], /curl (\S+)/) : "missing"}, caddy ${
      available.caddy ? version(available.caddy, ["version"], /v?(\d+\.\d+\.\d+)/) : "missing"
    }`
  ]
}

const reproduce = () => {
  const set = Object.keys(DEFAULTS)
    .filter((k) => env[k] !== undefined && env[k] !== DEFAULTS[k])
    .map((k) => `${k}=${env[k]}`)
  for (const k of ["WRK", "NGINX", "CADDY", "BASELINE_STAT", "FIBERHTTP_BIN", "BASE_BIN"]) {
    if (env[k] !== undefined) set.push(`${k}=${env[k]}`)
  }
  return `npm run build && ${[...set, "npm run bench"].join(" ")}`
}

const table = () => {
  const header = ["#", "benchmark", "fiberhttp", "vs", "their figure", "ratio", "target", ""]
  const all = [header, ...rows].map((r) => r.map((c) => String(c).replace(/\|/g, "\\|")))
  const widths = header.map((_, i) => Math.max(3, ...all.map((r) => r[i].length)))
  const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`
  return [line(all[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...all.slice(1).map(line)].join("\n")
}

const loadAtStart = os.loadavg()[0].toFixed(2)

const main = async () => {
  // the build under test, copied so that a rebuild meanwhile does not change it
  const source = env.FIBERHTTP_BIN ? resolve(env.FIBERHTTP_BIN) : join(PROJECT, "dist/fiberhttp.js")
  if (!existsSync(source)) {
    if (env.FIBERHTTP_BIN) throw new Error(`${source} is missing`)
    log("dist/fiberhttp.js is missing: npm run build")
    const b = await run("npm", ["run", "build"], { timeoutMs: 300_000 })
    if (b.code !== 0) throw new Error(`npm run build failed: ${(b.out + b.err).slice(-2000)}`)
  }
  tmp = mkdtempSync(join(os.tmpdir(), "fiberhttp-bench-"))
  const dist = join(tmp, "dist")
  mkdirSync(dist)
  const built = statSync(source).mtime
  for (const f of readdirSync(dirname(source))) {
    if (f.startsWith("fiberhttp.")) copyFileSync(join(dirname(source), f), join(dist, f))
  }
  BIN = join(dist, basename(source))
  root = join(tmp, "www")
  mkdirSync(root)
  NGINX = SERVERS.includes("nginx") || sections.has("timing") || sections.has("download") || sections.has("workers")
    ? available.nginx
    : undefined
  const needsLarge = sections.has("large") || sections.has("shutdown") || sections.has("workers")
  const page = makeFiles(root, { large: needsLarge, mid: sections.has("mid") })
  let head = "?"
  try {
    head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: PROJECT, stdio: ["ignore", "pipe", "ignore"] })
      .toString().trim()
  } catch {}
  if (os.loadavg()[0] > 0.5) log(`load average ${loadAtStart}: other work is running, the figures will be noisy`)
  log(`fiberhttp ${source} (built ${built.toISOString()}, tree at ${head}); sections: ${[...sections].join(", ")}`)

  const attempt = async (name, body) => {
    try {
      await body()
    } catch (error) {
      notes.push(`section ${name} failed: ${error.stack ?? error}`)
      row(String(SECTION_NAMES.indexOf(name) + 1), `${name}: failed (see notes)`, "")
      log(`section ${name} failed: ${error.message}`)
    }
  }
  const wrkSections = ["small", "close", "large", "mid"].filter((s) => sections.has(s))
  if (wrkSections.length > 0 && available.wrk === undefined) {
    for (const s of wrkSections) row(String(SECTION_NAMES.indexOf(s) + 1), `${s}: SKIPPED`, missingWrk)
    log(missingWrk)
  } else {
    if (SERVERS.includes("nginx") && NGINX === undefined && wrkSections.length > 0) {
      notes.push(`nginx rows skipped: ${missingNginx}`)
      log(missingNginx)
    }
    if (
      SERVERS.includes("http-server") && available.httpServer === undefined &&
      (sections.has("small") || sections.has("close"))
    ) {
      notes.push("http-server rows skipped: it is a devDependency, run `npm install`")
    }
    if (sections.has("small") || sections.has("close")) await attempt("small", () => smallAndClose(page))
    if (sections.has("large")) await attempt("large", large)
    if (sections.has("mid")) await attempt("mid", mid)
  }
  if (sections.has("idle")) await attempt("idle", idle)
  if (sections.has("shutdown")) await attempt("shutdown", shutdown)
  if (sections.has("client")) await attempt("client", () => client(page))
  if (sections.has("parser")) await attempt("parser", parser)
  if (sections.has("listing")) await attempt("listing", listing)
  if (sections.has("timing")) await attempt("timing", timing)
  if (sections.has("download")) await attempt("download", download)
  if (sections.has("compress")) {
    if (available.wrk === undefined) row("11", "compress: SKIPPED", missingWrk)
    else await attempt("compress", compressSection)
  }
  if (sections.has("workers")) {
    if (available.wrk === undefined) row("13", "workers: SKIPPED", missingWrk)
    else await attempt("workers", () => workersSection(page))
  }
  if (sections.has("inspector")) {
    if (available.wrk === undefined) row("14", "inspector: SKIPPED", missingWrk)
    else await attempt("inspector", inspectorSection)
  }

  const out = [
    "",
    `fiberhttp benchmarks, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, tree ${head}, dist built ${
      built.toISOString().slice(0, 19).replace("T", " ")
    } UTC`,
    ...machine(),
    `loopback only; wrk ${THREADS} threads; servers: fiberhttp \`server 0 --root DIR --quiet\`, node:http = scratchpad/bench/baseline.mjs (stat + createReadStream().pipe(res)), ` +
    `node:http constant = scratchpad/bench/baseline-constant.mjs (one buffer, no file; its target is a stretch), ` +
    `http-server \`-c-1 -s\`, nginx 1 worker, sendfile on, access_log off, Caddy \`file-server\` (no access log); ratio = fiberhttp / other (for times: fiberhttp's time / other's); ` +
    `sections 1-3: each server ${SPAN} interleaved, req/s and MiB/s the mean of the rounds, p50/p99 their median`,
    "",
    table(),
    ""
  ]
  if (notes.length > 0) out.push("Notes:", ...notes.map((n) => `- ${n}`), "")
  out.push(`reproduce: ${reproduce()}   (took ${fmt((Date.now() - started) / 1000)} s)`)
  console.log(out.join("\n"))
}

try {
  await main()
} catch (error) {
  console.error(error.stack ?? error)
  process.exitCode = 1
} finally {
  clearTimeout(watchdog)
  cleanupSync()
}

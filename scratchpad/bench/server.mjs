// Static-file throughput of the built `fiberhttp server`, compared in the
// same run with a minimal static file server on node:http + node:fs (the
// baseline lives here only; fiberhttp never uses node:http). A load generator
// of our own runs in a separate process: N keep-alive connections on
// loopback, each sending a GET and waiting for the whole response (by
// Content-Length) before the next. Rounds alternate between the two servers
// so that machine noise hits both alike; the best round of each is reported.
//
//   npm run build && node scratchpad/bench/server.mjs
//   PROFILE=/tmp/prof CASES=small node scratchpad/bench/server.mjs   (fiberhttp under --cpu-prof)
//   COMPARE_BIN=/path/to/other/fiberhttp.js ...    (another build in the same rounds)
//   FIBERHTTP_BIN=/path/to/fiberhttp.js ...         (instead of dist/fiberhttp.js)
//   CONNECTIONS=50 DURATION=5 ROUNDS=2 CASES=small,404,large node scratchpad/bench/server.mjs
//
// Internal modes (this file re-runs itself): --baseline ROOT, --load PORT PATH CONNECTIONS SECONDS
import { spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { extname, join, normalize, sep } from "node:path"

const SELF = new URL(import.meta.url).pathname

// ---------------------------------------------------------------- baseline
// What a small hand-written node:http static server does: stat, headers, a
// read stream piped to the response (the way `serve-static`/`http-server` do).
const baseline = (root) => {
  const types = { ".html": "text/html; charset=utf-8", ".bin": "application/octet-stream" }
  const server = http.createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(req.url.split("?")[0])))
    if (!path.startsWith(root + sep)) {
      res.writeHead(400).end()
      return
    }
    let info
    try {
      info = statSync(path)
    } catch {
      const body = "<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1></body></html>\n"
      res.writeHead(404, { "Content-Type": "text/html; charset=utf-8", "Content-Length": body.length }).end(body)
      return
    }
    res.writeHead(200, {
      "Content-Type": types[extname(path)] ?? "application/octet-stream",
      "Content-Length": info.size,
      "Last-Modified": info.mtime.toUTCString(),
      ETag: `"${info.ino.toString(16)}-${info.size.toString(16)}-${info.mtimeMs.toString(16)}"`,
      "Accept-Ranges": "bytes"
    })
    createReadStream(path).pipe(res)
  })
  server.keepAliveTimeout = 5000
  server.listen(0, "127.0.0.1", () => console.log(`port ${server.address().port}`))
}

// ---------------------------------------------------------------- load generator
const load = (port, path, connections, seconds) => {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: bench\r\n\r\n`)
  const deadline = Date.now() + seconds * 1000
  let responses = 0
  let bytes = 0
  let errors = 0
  let open = 0
  const statuses = {}

  const connect = () => {
    if (Date.now() >= deadline) return
    open++
    const socket = net.connect(port, "127.0.0.1")
    socket.setNoDelay(true)
    let buffered = Buffer.alloc(0)
    let bodyLeft = -1
    let closeAfter = false
    socket.on("connect", () => socket.write(request))
    socket.on("data", (data) => {
      buffered = buffered.length === 0 ? data : Buffer.concat([buffered, data])
      while (true) {
        if (bodyLeft < 0) {
          const end = buffered.indexOf("\r\n\r\n")
          if (end === -1) return
          const head = buffered.subarray(0, end).toString("latin1")
          const status = head.slice(9, 12)
          statuses[status] = (statuses[status] ?? 0) + 1
          const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
          closeAfter = /\r\nconnection:[ \t]*close/i.test(head)
          bodyLeft = length === null ? 0 : Number(length[1])
          buffered = buffered.subarray(end + 4)
        }
        const take = Math.min(bodyLeft, buffered.length)
        bodyLeft -= take
        bytes += take
        buffered = buffered.subarray(take)
        if (bodyLeft > 0) return
        bodyLeft = -1
        responses++
        if (closeAfter || Date.now() >= deadline) {
          socket.destroy()
          return
        }
        socket.write(request)
      }
    })
    socket.on("error", () => errors++)
    socket.on("close", () => {
      open--
      // the server ends persistent connections after its max requests: open another
      connect()
      if (open === 0) finish()
    })
  }

  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    const elapsed = seconds
    console.log(
      JSON.stringify({
        responses,
        bytes,
        errors,
        statuses,
        reqPerSec: responses / elapsed,
        mbPerSec: bytes / elapsed / 1e6
      })
    )
    process.exit(0)
  }
  for (let i = 0; i < connections; i++) connect()
  // bounded whatever the servers do
  setTimeout(finish, seconds * 1000 + 3000).unref()
}

// ---------------------------------------------------------------- driver
const startServer = (args, name) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 10_000)
    child.stdout.on("data", (data) => {
      out += data
      const port = /(?:port |127\.0\.0\.1:)(\d+)/.exec(out)
      if (port !== null) {
        clearTimeout(timer)
        resolve({ child, port: Number(port[1]) })
      }
    })
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}: ${out}`)))
  })

const runLoad = (port, path, connections, seconds) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, "--load", String(port), path, String(connections), String(seconds)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (data) => (out += data))
    child.on("exit", () => {
      try {
        resolve(JSON.parse(out))
      } catch {
        reject(new Error(`load generator printed: ${out}`))
      }
    })
  })

const driver = async () => {
  const BIN = process.env.FIBERHTTP_BIN ?? new URL("../../dist/fiberhttp.js", import.meta.url).pathname
  if (!existsSync(BIN)) {
    console.error(`${BIN} is missing: run npm run build first`)
    process.exit(1)
  }
  const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50)
  const SECONDS = Number(process.env.DURATION ?? 5)
  const ROUNDS = Number(process.env.ROUNDS ?? 2)
  const PROFILE = process.env.PROFILE // a directory: run fiberhttp under --cpu-prof, write the profile there

  const root = mkdtempSync(join(tmpdir(), "fiberhttp-bench-"))
  // a ~4.6 KB HTML page, deterministic
  let page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>bench</title></head><body>\n"
  for (let i = 0; page.length < 4600; i++) {
    page += `<p>Paragraph ${i}: ${createHash("sha256").update(String(i)).digest("hex")}</p>\n`
  }
  page += "</body></html>\n"
  writeFileSync(join(root, "small.html"), page)
  writeFileSync(join(root, "large.bin"), randomBytes(1024 * 1024))

  const cases = [
    { name: `small file (${statSync(join(root, "small.html")).size} B)`, path: "/small.html", status: "200" },
    { name: "404", path: "/missing.html", status: "404" },
    { name: "1 MiB file", path: "/large.bin", status: "200" }
  ].filter((_, i) => (process.env.CASES ?? "small,404,large").split(",").includes(["small", "404", "large"][i]))

  const fiberArgs = (bin) => [
    ...(PROFILE ? ["--cpu-prof", "--cpu-prof-dir", PROFILE] : []),
    bin,
    "server",
    "0",
    "--root",
    root,
    "--quiet"
  ]
  const fiber = await startServer(fiberArgs(BIN), "fiberhttp")
  const node = await startServer([SELF, "--baseline", root], "node:http baseline")
  const servers = [
    { name: "fiberhttp", port: fiber.port, child: fiber.child },
    { name: "node:http", port: node.port, child: node.child }
  ]
  // another build of fiberhttp in the same rounds, e.g. the one before a change
  if (process.env.COMPARE_BIN) {
    const other = await startServer(fiberArgs(process.env.COMPARE_BIN), "fiberhttp (compared)")
    servers.push({ name: "compared", port: other.port, child: other.child })
  }

  console.log(`${CONNECTIONS} keep-alive connections, ${SECONDS} s per round, ${ROUNDS} round(s) each, alternating`)
  try {
    for (const c of cases) {
      const best = {}
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
          const r = await runLoad(s.port, c.path, CONNECTIONS, SECONDS)
          const wrong = Object.keys(r.statuses).filter((k) => k !== c.status)
          if (wrong.length > 0 || r.errors > 0) {
            console.log(
              `  ${s.name} ${c.path}: unexpected statuses ${JSON.stringify(r.statuses)}, ${r.errors} socket errors`
            )
          }
          if (best[s.name] === undefined || r.reqPerSec > best[s.name].reqPerSec) best[s.name] = r
        }
      }
      const n = best["node:http"]
      const figures = (name) =>
        `${name} ${best[name].reqPerSec.toFixed(0).padStart(6)} req/s ${
          best[name].mbPerSec.toFixed(1).padStart(7)
        } MB/s`
      let line = `${c.name.padEnd(22)} ${figures("fiberhttp")} | ${figures("node:http")} | ratio ${
        (best["fiberhttp"].reqPerSec / n.reqPerSec).toFixed(2)
      }`
      if (best["compared"] !== undefined) {
        line += ` | ${figures("compared")} ratio ${(best["compared"].reqPerSec / n.reqPerSec).toFixed(2)}`
      }
      console.log(line)
    }
  } finally {
    for (const s of servers) s.child.kill("SIGINT")
    await Promise.all(
      servers.map((s) =>
        new Promise((resolve) => s.child.exitCode !== null ? resolve() : s.child.once("exit", resolve))
      )
    )
    rmSync(root, { recursive: true, force: true })
  }
  console.log(
    `reproduce: npm run build && CONNECTIONS=${CONNECTIONS} DURATION=${SECONDS} ROUNDS=${ROUNDS} node scratchpad/bench/server.mjs`
  )
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === "--baseline") baseline(rest[0])
else if (mode === "--load") load(Number(rest[0]), rest[1], Number(rest[2]), Number(rest[3]))
else await driver()

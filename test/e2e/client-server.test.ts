// End-to-end: the built client against the built server, both as processes.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bin, ensureBuilt, runClient as client } from "./support.ts"

let dir = ""
let server: ChildProcess | undefined
let base = ""
const big = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 31 + (i >> 8)) % 256))

beforeAll(async () => {
  ensureBuilt()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-client-server-"))
  fs.writeFileSync(path.join(dir, "index.html"), "<h1>home</h1>\n")
  fs.mkdirSync(path.join(dir, "sub"))
  fs.writeFileSync(path.join(dir, "sub", "index.html"), "sub\n")
  fs.writeFileSync(path.join(dir, "big.bin"), big)
  server = spawn(process.execPath, [bin, "server", "--root", dir, "--quiet", "0"], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  base = await new Promise<string>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 15_000)
    server!.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)?.[0]
      if (url !== undefined) {
        clearTimeout(timer)
        resolve(url)
      }
    })
  })
}, 60_000)

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r))
    server.kill("SIGTERM")
    await exited
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("fiberhttp client against fiberhttp server", () => {
  it("GET / returns the index with the server's headers", async () => {
    const result = await client([base])
    expect(result.code).toBe(0)
    const text = result.stdout.toString()
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(text).toContain("\r\nContent-Length: 14\r\n")
    expect(text.endsWith("\r\n\r\n<h1>home</h1>\n")).toBe(true)
  })

  it("a 3 MiB binary file arrives byte for byte, to stdout and with -o", async () => {
    const result = await client(["-b", `${base}big.bin`])
    expect(result.code).toBe(0)
    expect(result.stdout.length).toBe(big.length)
    expect(result.stdout.equals(big)).toBe(true)
    const file = path.join(dir, "copy.bin")
    const saved = await client(["-o", file, `${base}big.bin`])
    expect(saved.code).toBe(0)
    expect(fs.readFileSync(file).equals(big)).toBe(true)
  })

  it("HEAD, 404 and -L through the directory redirect", async () => {
    const head = await client(["-X", "HEAD", `${base}big.bin`])
    expect(head.code).toBe(0)
    expect(head.stdout.toString()).toContain(`Content-Length: ${big.length}\r\n`)
    expect(head.stdout.toString().endsWith("\r\n\r\n")).toBe(true)
    const missing = await client([`${base}nothing-here`])
    expect(missing.code).toBe(0)
    expect(missing.stdout.toString()).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/)
    const followed = await client(["-L", "-b", `${base}sub`])
    expect(followed.code).toBe(0)
    expect(followed.stdout.toString()).toBe("sub\n")
  })

  it("--count reuses one kept-alive connection; --json reports it", async () => {
    const result = await client(["--count", "3", "--interval", "0", "--json", base])
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout.toString())
    expect(report.rounds.map((r: { status: number; reused: boolean }) => [r.status, r.reused])).toEqual([
      [200, false],
      [200, true],
      [200, true]
    ])
    expect(report.stats.count).toBe(3)
  })

  it("several targets in order, the seed's host-port form among them", async () => {
    const port = new URL(base).port
    const result = await client(["-b", `${base}sub/`, "127.0.0.1/index.html", port])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe(`==> ${base}sub/ <==\nsub\n\n==> ${base}index.html <==\n<h1>home</h1>\n`)
  })
})

// The built server under Debian's libfaketime: the wall clock is stepped a day ahead after start-up
// (as an NTP step or a resume from suspend would), the monotonic clock is left alone. Date headers, a
// 408's Date and access-log times follow the wall clock; the header timeout does not move.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseHttpDate } from "../../src/http/date.ts"
import { bin, ensureBuilt, type Fixture, get, makeFixture, RawConnection, sleep, waitFor } from "./hostileSupport.ts"

const DAY = 86_400_000

/** libfaketime.so.1 from Debian's faketime package (apt-get install faketime). */
const libfaketime = (): string => {
  for (const dir of ["/usr/lib", "/usr/lib64", "/usr/local/lib"]) {
    if (!fs.existsSync(dir)) continue
    for (const sub of ["", ...fs.readdirSync(dir)]) {
      const candidate = path.join(dir, sub, "faketime", "libfaketime.so.1")
      if (fs.existsSync(candidate)) return candidate
    }
  }
  throw new Error("libfaketime.so.1 not found: apt-get install faketime")
}

let fixture: Fixture
let stampFile = ""
let child: ChildProcess
let out = ""
let port = 0

beforeAll(async () => {
  ensureBuilt()
  fixture = makeFixture()
  stampFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-faketime-")), "stamp")
  fs.writeFileSync(stampFile, "+0\n")
  child = spawn(process.execPath, [bin, "server", "0", "--root", fixture.root, "--header-timeout", "1"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      LD_PRELOAD: libfaketime(),
      FAKETIME_TIMESTAMP_FILE: stampFile,
      FAKETIME_NO_CACHE: "1",
      FAKETIME_DONT_FAKE_MONOTONIC: "1"
    }
  })
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()))
  expect(await waitFor(() => out.includes("Press Ctrl-C to stop."), 20_000)).toBe(true)
  port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1])
}, 30_000)

afterAll(async () => {
  const exited = new Promise((resolve) => child.on("exit", resolve))
  child.kill("SIGINT")
  await exited
  fixture.cleanup()
  fs.rmSync(path.dirname(stampFile), { recursive: true, force: true })
})

describe("the wall clock stepped after start-up (libfaketime)", () => {
  it("Date headers, a 408's Date and log times move with it; the header timeout does not", async () => {
    const before = await RawConnection.connect(port)
    before.send(get("/small.txt"))
    const unstepped = parseHttpDate((await before.response())!.headers.get("date")!)!
    expect(Math.abs(unstepped - Date.now())).toBeLessThan(60_000)
    before.destroy()

    fs.writeFileSync(stampFile, "+1d\n")
    const conn = await RawConnection.connect(port)
    conn.send(get("/small.txt"))
    const response = (await conn.response())!
    expect(response.status).toBe(200)
    const stepped = parseHttpDate(response.headers.get("date")!)!
    expect(Math.abs(stepped - (Date.now() + DAY))).toBeLessThan(60_000)
    expect(await waitFor(() => (out.match(/"GET \/small\.txt HTTP\/1\.1" 200/g) ?? []).length === 2, 5000)).toBe(true)
    const logged = out.split("\n").filter((l) => l.includes(`"GET /small.txt HTTP/1.1" 200`))
    const loggedAt = Date.parse(logged[1]!.split(" ")[0]!)
    expect(Math.abs(loggedAt - (Date.now() + DAY))).toBeLessThan(60_000)

    // a header section that never ends: 408 after --header-timeout 1 by the monotonic clock
    const slow = await RawConnection.connect(port)
    const sent = Date.now()
    slow.send("GET /small.txt HTTP/1.1\r\nHo")
    const timedOut = (await slow.response())!
    const waited = Date.now() - sent
    expect(timedOut.status).toBe(408)
    expect(waited).toBeGreaterThan(800)
    expect(waited).toBeLessThan(5000)
    expect(Math.abs(parseHttpDate(timedOut.headers.get("date")!)! - (Date.now() + DAY))).toBeLessThan(60_000)
    conn.destroy()
    slow.destroy()
    await sleep(10)
  }, 30_000)
})

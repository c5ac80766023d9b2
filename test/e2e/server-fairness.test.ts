// Fairness between connections on real loopback sockets: 200 keep-alive connections opened at once,
// each asking for a cached 300 KB file again and again (firstResponses.mjs, its own process). Node's
// listener accepts one connection per turn of the event loop; a server that answered every ready
// connection in full within a turn left the last connections in the kernel's accept queue while the
// first were served dozens of times (about 90 responses each before the last got one). The server
// bounds the bytes it writes per turn, so every connection is answered before any has had many.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { byteAt, ensureBuilt, type Fixture, makeFixture, startServer } from "./hostileSupport.ts"

const SIZE = 300_000
const CONNECTIONS = 200
const LARGE = 2_000_000

let fixture: Fixture

beforeAll(() => {
  ensureBuilt()
  fixture = makeFixture()
  const file = path.join(fixture.root, "bundle.js")
  const bytes = Buffer.allocUnsafe(SIZE)
  for (let i = 0; i < SIZE; i++) bytes[i] = byteAt(i)
  fs.writeFileSync(file, bytes)
  const large = path.join(fixture.root, "photo.bin")
  const largeBytes = Buffer.allocUnsafe(LARGE)
  for (let i = 0; i < LARGE; i++) largeBytes[i] = byteAt(i)
  fs.writeFileSync(large, largeBytes)
  // settled long ago: the cache keeps their bytes from the first read on
  const past = new Date(Date.now() - 60_000)
  fs.utimesSync(file, past, past)
  fs.utimesSync(large, past, past)
})

/** curl's output for `args`, as bytes. */
const curl = (args: ReadonlyArray<string>) =>
  new Promise<Buffer>((resolve, reject) =>
    execFile(
      "curl",
      ["-sS", ...args],
      { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => error ? reject(error) : resolve(stdout)
    )
  )

afterAll(() => fixture.cleanup())

const firstResponses = (port: number) =>
  new Promise<{ readonly answered: number; readonly mostBeforeAll: number }>((resolve, reject) => {
    const script = path.join(import.meta.dirname, "firstResponses.mjs")
    execFile(
      process.execPath,
      [script, String(port), "/bundle.js", String(CONNECTIONS), "30000"],
      { timeout: 60_000 },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout.trim())))
    )
  })

describe("fairness between connections under load", () => {
  it("200 connections opened at once: each is answered before any other has had 40 responses", async () => {
    const server = await startServer(fixture.root, ["--quiet"])
    try {
      const { answered, mostBeforeAll } = await firstResponses(server.port)
      expect(answered).toBe(CONNECTIONS)
      // about 10-15 here; about 90 without the budget per turn
      expect(mostBeforeAll).toBeLessThan(40)
    } finally {
      expect((await server.stop()).code).toBe(0)
    }
  }, 90_000)

  it("a 2 MB file, cached after its first response, comes whole and in ranges to curl", async () => {
    const server = await startServer(fixture.root, ["--quiet"])
    try {
      const url = `http://127.0.0.1:${server.port}/photo.bin`
      const expected = Buffer.from(Array.from({ length: LARGE }, (_, i) => byteAt(i)))
      // the first from disk (read whole for the cache), the others from memory
      for (let i = 0; i < 3; i++) expect(Buffer.compare(await curl([url]), expected)).toBe(0)
      const ranged = await curl(["-r", "524000-1600000", url])
      expect(Buffer.compare(ranged, expected.subarray(524000, 1600001))).toBe(0)
    } finally {
      expect((await server.stop()).code).toBe(0)
    }
  }, 60_000)
})

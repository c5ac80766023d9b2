// Out of file descriptors against the real server (ulimit -n 64): refusals before any head, never a
// 200 head cut short; an overload logged once, not per request.
import { describe, expect, it } from "@effect/vitest"
import { ensureBuilt, get, makeFixture, RawConnection, sleep, startServer } from "./hostileSupport.ts"

describe("out of descriptors", () => {
  it(
    "files that cannot be opened: 503 with Retry-After before any head, never a 200 cut short; logged once, not per request",
    async () => {
      ensureBuilt()
      const fixture = makeFixture()
      const server = await startServer(fixture.root, ["--quiet"], { maxFds: 64 })
      try {
        const conns: Array<RawConnection> = []
        for (let i = 0; i < 60; i++) conns.push(await RawConnection.connect(server.port))
        await sleep(300)
        const alive = conns.filter((c) => !c.ended)
        // every descriptor is held by a connection now: ask for a streamed file and a small one on each
        alive.forEach((c, i) => c.send(get(i % 2 === 0 ? "/medium.bin" : "/index.html")))
        const responses = await Promise.all(alive.map((c) => c.response()))
        // a response either arrives whole or is a refusal: no head promising 307,200 bytes then a close
        expect(responses.filter((r) => r === undefined)).toHaveLength(0)
        expect(responses.map((r) => r!.status).filter((s) => s !== 200 && s !== 503)).toEqual([])
        for (const r of responses) if (r!.status === 503) expect(r!.headers.get("retry-after")).toBeDefined()
        // an overload is not a bug: no stack trace per request on stderr
        const errors = server.stderr().split("\n").filter((l) => l.startsWith("error:"))
        const refusedAccepts = errors.filter((l) => l.includes("cannot accept connections"))
        expect(errors.length - refusedAccepts.length).toBeLessThanOrEqual(1)
        // connections refused at accept meanwhile are said at most once a second
        expect(refusedAccepts.length).toBeLessThanOrEqual(5)
        for (const c of conns) c.destroy()
      } finally {
        await server.stop()
        fixture.cleanup()
      }
    },
    30_000
  )
})

// Out of descriptors at accept, against the built server under `ulimit -n`: the refusal is said on
// stderr at most once a second, the connections already open are still served, and once descriptors
// free up new connections are accepted again.
import { describe, expect, it } from "@effect/vitest"
import { ensureBuilt, fdsOf, get, makeFixture, RawConnection, sleep, startServer, waitFor } from "./hostileSupport.ts"

describe("accept failures (ulimit -n 48)", () => {
  it(
    "EMFILE at accept: logged at most once a second, open connections served, new ones accepted once descriptors free up",
    async () => {
      ensureBuilt()
      const fixture = makeFixture()
      const server = await startServer(fixture.root, ["--quiet"], { maxFds: 48 })
      try {
        const baseFds = fdsOf(server.pid)
        // files changed less than a second ago are not cached: let small.txt settle, so that the cache
        // answers it below without a descriptor
        await sleep(1100)
        const kept = await RawConnection.connect(server.port)
        kept.send(get("/small.txt"))
        expect((await kept.response())?.status).toBe(200)
        // more connections than descriptors, opened again and again for three seconds
        const flood: Array<RawConnection> = []
        const started = Date.now()
        while (Date.now() - started < 3000) {
          const batch = await Promise.all(Array.from({ length: 20 }, () => RawConnection.connect(server.port)))
          flood.push(...batch)
          await sleep(100)
        }
        const elapsedS = (Date.now() - started) / 1000
        const refusals = server.stderr().split("\n").filter((l) => l.includes("out of file descriptors (EMFILE)"))
        expect(refusals.length).toBeGreaterThanOrEqual(1)
        expect(refusals.length).toBeLessThanOrEqual(Math.ceil(elapsedS) + 1)
        expect(refusals[0]).toMatch(/cannot accept connections on 127\.0\.0\.1:\d+: out of file descriptors \(EMFILE\)/)
        // the connection it already had is still served meanwhile: what needs no descriptor as usual, a
        // file that cannot be opened with the documented 503 and Retry-After
        kept.send(get("/missing"))
        expect((await kept.response())?.status).toBe(404)
        kept.send(get("/small.txt"))
        const file = (await kept.response())!
        expect([200, 503]).toContain(file.status)
        if (file.status === 503) expect(file.headers.get("retry-after")).toBe("1")
        // descriptors free up: new connections are accepted and served again
        for (const c of flood) c.destroy()
        expect(await waitFor(() => fdsOf(server.pid) <= baseFds + 1, 5000)).toBe(true)
        const fresh = await RawConnection.connect(server.port)
        fresh.send(get("/index.html"))
        expect((await fresh.response())?.status).toBe(200)
        fresh.destroy()
        kept.destroy()
      } finally {
        expect((await server.stop()).code).toBe(0)
        fixture.cleanup()
      }
    },
    30_000
  )
})

// Connection churn against the real server: what closed connections leave in the heap (watchdog entries
// included) must not outlive them by a whole timeout.
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { ensureBuilt, get, liveHeap, makeFixture, startServer } from "./hostileSupport.ts"

describe("connection churn", () => {
  it("5,000 short connections leave nothing alive once they are closed (default 30 s timeouts)", async () => {
    ensureBuilt()
    const fixture = makeFixture()
    const snapshots = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-heap-"))
    const server = await startServer(fixture.root, ["--quiet"], {
      nodeOptions: ["--heapsnapshot-signal=SIGUSR2"],
      cwd: snapshots
    })
    const one = () =>
      new Promise<void>((done) => {
        const c = net.connect(server.port, "127.0.0.1", () => c.end(get("/small.txt", "Connection: close\r\n")))
        c.on("data", () => {})
        c.on("close", () => done())
        c.on("error", () => done())
      })
    const churn = async (n: number) => {
      let started = 0
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (started++ < n) await one()
      }))
    }
    try {
      await churn(2000)
      const before = await liveHeap(server, snapshots)
      await churn(5000)
      const after = await liveHeap(server, snapshots)
      console.log(`churn: live objects ${before.objects} -> ${after.objects}`)
      // before the stale entries were dropped: about +22,000 objects (4.5 per connection) for 30 s
      expect(after.objects - before.objects).toBeLessThan(5000)
    } finally {
      await server.stop()
      fixture.cleanup()
      fs.rmSync(snapshots, { recursive: true, force: true })
    }
  }, 120_000)
})

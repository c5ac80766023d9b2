// The long versions of the hostile-client checks (test/e2e/hostile-load.test.ts has the short ones),
// against the built server on loopback. Run through server.mjs; see there for the knobs. Prints each
// check's figures as it goes, then a pass/fail summary; exits 1 if any check failed.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  canBind,
  ensureBuilt,
  exchange,
  fdsOf,
  type Fixture,
  get,
  liveHeap,
  makeFixture,
  mixedLoad,
  parseResponses,
  RawConnection,
  rssOf,
  type RunningServer,
  sleep,
  snapshotBuild,
  startServer,
  waitFor
} from "../../test/e2e/hostileSupport.ts"

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number`)
  return value
}

const knobs = {
  requests: env("SOAK_REQUESTS", 100_000),
  concurrency: env("SOAK_CONCURRENCY", 16),
  slow: env("SOAK_SLOW", 200),
  slowSeconds: env("SOAK_SLOW_SECONDS", 10),
  stalled: env("SOAK_STALLED", 64),
  flood: env("SOAK_FLOOD", 2000),
  pipeline: env("SOAK_PIPELINE", 100_000),
  shutdowns: env("SOAK_SHUTDOWNS", 5),
  timeLimit: env("SOAK_TIME_LIMIT", 900)
}
const only = process.env.SOAK_ONLY?.split(",").map((s) => s.trim())

const MiB = 1024 * 1024
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`
const started = Date.now()
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`
const say = (line: string) => console.log(`[${elapsed()}] ${line}`)

/** Servers started and not yet stopped: killed if the run is cut short. */
const running = new Set<RunningServer>()
/** The build under test, copied once at the start: a rebuild of dist/ during the run changes nothing. */
let build: { readonly bin: string; readonly cleanup: () => void } | undefined
const serve = async (
  fixture: Fixture,
  args: ReadonlyArray<string>,
  options: { readonly nodeOptions?: ReadonlyArray<string>; readonly cwd?: string } = {}
) => {
  const server = await startServer(fixture.root, args, { ...options, bin: build!.bin })
  running.add(server)
  void server.exited.then(() => running.delete(server))
  return server
}

const deadline = setTimeout(() => {
  console.log(`\nFAIL: the run went past SOAK_TIME_LIMIT=${knobs.timeLimit}s; stopping`)
  for (const server of running) server.child.kill("SIGKILL")
  process.exit(1)
}, knobs.timeLimit * 1000)

interface Result {
  readonly name: string
  readonly pass: boolean
  readonly figures: string
  readonly problems: ReadonlyArray<string>
}

const results: Array<Result> = []

/** Runs a check: it returns its figures and the problems it found (none: pass). */
const check = async (name: string, run: () => Promise<{ figures: string; problems: Array<string> }>) => {
  if (only !== undefined && !only.includes(name)) return
  say(`${name}: start`)
  try {
    const { figures, problems } = await run()
    results.push({ name, pass: problems.length === 0, figures, problems })
    say(`${name}: ${problems.length === 0 ? "PASS" : "FAIL"} ${figures}`)
    for (const p of problems.slice(0, 10)) say(`  ${p}`)
  } catch (error) {
    results.push({ name, pass: false, figures: "", problems: [String(error)] })
    say(`${name}: FAIL ${String(error)}`)
  }
}

const timedGet = async (port: number): Promise<{ status: number; ms: number }> => {
  const got = await exchange(port, get("/small.txt", "Connection: close\r\n"), { timeoutMs: 5000 })
  return { status: parseResponses(got.data).responses[0]?.status ?? 0, ms: got.ms }
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

/** A normal client, one GET at a time, until `stop.stopped`: statuses and latencies. */
const normalClient = (port: number, stop: { stopped: boolean }, gapMs = 50) => {
  const seen: Array<{ status: number; ms: number }> = []
  const done = (async () => {
    while (!stop.stopped) {
      seen.push(await timedGet(port))
      await sleep(gapMs)
    }
    return seen
  })()
  return done
}

const summarize = (seen: ReadonlyArray<{ status: number; ms: number }>) => {
  const ms = seen.map((s) => s.ms)
  return `${seen.length} normal GETs, p50 ${percentile(ms, 50)} ms, p99 ${percentile(ms, 99)} ms, max ${
    Math.max(0, ...ms)
  } ms`
}

const main = async () => {
  ensureBuilt()
  build = snapshotBuild()
  say(`knobs ${JSON.stringify(knobs)}`)
  const fixture = makeFixture({ bigSize: 64 * MiB })
  try {
    await check("leaks", async () => {
      const problems: Array<string> = []
      // Live objects are counted from heap snapshots (each after a full collection): RSS alone
      // swings by tens of MiB with the collector. Short timeouts, so that whatever a connection
      // leaves scheduled has expired by the time of the last count.
      const snapshots = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-heap-"))
      const timeouts = ["--header-timeout", "2", "--keep-alive-timeout", "2", "--write-timeout", "2"]
      const server = await serve(fixture, ["--quiet", ...timeouts], {
        nodeOptions: ["--heapsnapshot-signal=SIGUSR2"],
        cwd: snapshots
      })
      try {
        const warm = await mixedLoad(server.port, fixture, { total: 5000, concurrency: knobs.concurrency, seed: 1 })
        problems.push(...warm.wrong)
        await sleep(3000)
        const baseFds = fdsOf(server.pid)
        const baseHeap = await liveHeap(server, snapshots)
        const baseRss = rssOf(server.pid)
        const series: Array<number> = []
        const steps = 10
        let ok = 0
        let broken = 0
        for (let step = 0; step < steps; step++) {
          const load = await mixedLoad(server.port, fixture, {
            total: Math.ceil(knobs.requests / steps),
            concurrency: knobs.concurrency,
            seed: 100 + step
          })
          ok += load.ok
          broken += load.broken
          problems.push(...load.wrong)
          series.push(rssOf(server.pid))
          say(`  leaks: ${ok} requests, RSS ${mib(series.at(-1)!)}, fds ${fdsOf(server.pid)}`)
        }
        const fdsBack = await waitFor(() => fdsOf(server.pid) <= baseFds, 5000)
        // past every timeout
        await sleep(3000)
        const endHeap = await liveHeap(server, snapshots)
        const endRss = rssOf(server.pid)
        const endFds = fdsOf(server.pid)
        if (broken > 0) problems.push(`${broken} connections broken`)
        if (!fdsBack) problems.push(`fds ${baseFds} -> ${endFds}`)
        // a leak of one object per request would be 100,000 objects; compiled code grows a little
        if (endHeap.objects - baseHeap.objects > Math.max(20_000, baseHeap.objects * 0.1)) {
          problems.push(`live objects ${baseHeap.objects} -> ${endHeap.objects}`)
        }
        if (endRss - baseRss > 96 * MiB) problems.push(`RSS ${mib(baseRss)} -> ${mib(endRss)}`)
        if (server.stderr() !== "") problems.push(`stderr: ${server.stderr().slice(0, 300)}`)
        return {
          figures: `${ok} mixed requests right; fds ${baseFds} -> ${endFds}; live heap ${baseHeap.objects} -> ` +
            `${endHeap.objects} objects (${mib(baseHeap.bytes)} -> ${mib(endHeap.bytes)}); RSS ${mib(baseRss)} -> ` +
            `${mib(endRss)} (series ${series.map((r) => (r / MiB).toFixed(0)).join(" ")} MiB)`,
          problems
        }
      } finally {
        const exit = await server.stop()
        if (exit.code !== 0) problems.push(`exit ${exit.code}`)
        fs.rmSync(snapshots, { recursive: true, force: true })
      }
    })

    await check("slowloris", async () => {
      const problems: Array<string> = []
      const server = await serve(fixture, ["--quiet", "--header-timeout", String(knobs.slowSeconds)])
      const request = Buffer.from(
        `GET /small.txt HTTP/1.1\r\nHost: a\r\nX-Slow: ${"s".repeat(100 * knobs.slowSeconds)}\r\n\r\n`,
        "latin1"
      )
      const slow: Array<RawConnection> = []
      for (let i = 0; i < knobs.slow; i++) slow.push(await RawConnection.connect(server.port))
      let sent = 0
      const drip = setInterval(() => {
        for (const conn of slow) if (!conn.ended) conn.send(request.subarray(sent, sent + 1))
        sent++
      }, 100)
      // the normal client comes once the slow ones are in: the burst of accepts is not the attack
      await sleep(500)
      const stop = { stopped: false }
      const normal = normalClient(server.port, stop)
      await waitFor(() => slow.every((c) => c.ended), knobs.slowSeconds * 1000 + 10_000)
      stop.stopped = true
      clearInterval(drip)
      const seen = await normal
      const answers = await Promise.all(slow.map((c) => c.response()))
      const closedAfter = slow.map((c) => (c.ended ? c.endedAt - c.openedAt : Infinity))
      for (const c of slow) c.destroy()
      const wrong = answers.filter((a) => a?.status !== 408 || a.headers.get("connection") !== "close").length
      if (wrong > 0) problems.push(`${wrong} slow connections without a 408 and Connection: close`)
      const limit = knobs.slowSeconds * 1000
      if (Math.min(...closedAfter) < limit - 100) {
        problems.push(`a slow connection closed early: ${Math.min(...closedAfter)} ms`)
      }
      if (Math.max(...closedAfter) > limit + 3000) {
        problems.push(`a slow connection closed late: ${Math.max(...closedAfter)} ms`)
      }
      if (seen.some((s) => s.status !== 200)) problems.push("a normal GET failed")
      // promptly: most well under a second, and none waits for the slow ones to be cleared
      // (a lone spike can come from elsewhere on a shared machine: the figures show it)
      if (percentile(seen.map((s) => s.ms), 90) > 500) problems.push("normal GETs: p90 over 500 ms")
      if (Math.max(...seen.map((s) => s.ms)) > Math.min(limit / 2, 3000)) {
        problems.push("a normal GET waited for the slow ones")
      }
      if (server.stderr() !== "") problems.push(`stderr: ${server.stderr().slice(0, 300)}`)
      await server.stop()
      return {
        figures:
          `${knobs.slow} slow connections closed ${Math.min(...closedAfter)}-${
            Math.max(...closedAfter)
          } ms after connecting ` +
          `(header timeout ${limit} ms); meanwhile ${summarize(seen)}`,
        problems
      }
    })

    await check("stalled", async () => {
      const problems: Array<string> = []
      const server = await serve(fixture, ["--trace", "--write-timeout", "2"])
      await timedGet(server.port)
      await sleep(300)
      const baseRss = rssOf(server.pid)
      const baseFds = fdsOf(server.pid)
      let maxRss = baseRss
      const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssOf(server.pid))), 50)
      const readers: Array<RawConnection> = []
      const t0 = Date.now()
      for (let i = 0; i < knobs.stalled; i++) {
        const r = await RawConnection.connect(server.port)
        r.socket.pause()
        r.send(get("/big.bin"))
        readers.push(r)
      }
      const stop = { stopped: false }
      const normal = normalClient(server.port, stop)
      const stalled = () => (server.stdout().match(/ completed .* reader stalled/g) ?? []).length
      const dropped = await waitFor(() => stalled() >= knobs.stalled, 30_000)
      const droppedAfter = Date.now() - t0
      const fdsBack = await waitFor(() => fdsOf(server.pid) <= baseFds, 5000)
      stop.stopped = true
      const seen = await normal
      clearInterval(sampler)
      for (const r of readers) r.destroy()
      if (!dropped) problems.push(`${stalled()} of ${knobs.stalled} dropped`)
      if (!fdsBack) problems.push(`fds ${baseFds} -> ${fdsOf(server.pid)}`)
      // knobs.stalled x 64 MiB asked for; what may be held is a chunk or two per connection
      if (maxRss - baseRss > Math.max(64 * MiB, knobs.stalled * 4 * MiB)) {
        problems.push(`RSS ${mib(baseRss)} -> ${mib(maxRss)}`)
      }
      if (seen.some((s) => s.status !== 200)) problems.push("a normal GET failed")
      if (server.stderr() !== "") problems.push(`stderr: ${server.stderr().slice(0, 300)}`)
      await server.stop()
      return {
        figures:
          `${knobs.stalled} stalled readers of a 64 MiB file dropped within ${droppedAfter} ms (write timeout 2 s); ` +
          `RSS ${mib(baseRss)} -> peak ${mib(maxRss)}; fds back to ${baseFds}: ${fdsBack}; meanwhile ${
            summarize(seen)
          }`,
        problems
      }
    })

    await check("flood", async () => {
      const problems: Array<string> = []
      const server = await serve(fixture, ["--quiet", "--max-connections", "100"])
      const held = await Promise.all(Array.from({ length: 100 }, () => RawConnection.connect(server.port)))
      for (const h of held) h.send(get("/small.txt"))
      const first = await Promise.all(held.map((h) => h.response()))
      if (first.some((r) => r?.status !== 200)) problems.push("a held connection was not served")
      const stop = { stopped: false }
      const heldLatency: Array<number> = []
      // the held connections keep asking while the flood comes
      const keepAsking = (async () => {
        while (!stop.stopped) {
          const t = Date.now()
          for (const h of held) h.send(get("/index.html"))
          const rs = await Promise.all(held.map((h) => h.response()))
          heldLatency.push(Date.now() - t)
          if (rs.some((r) => r?.status !== 200)) problems.push("a held connection failed during the flood")
          await sleep(50)
        }
      })()
      const outcomes = new Map<string, number>()
      const waves = Math.ceil(knobs.flood / 500)
      for (let w = 0; w < waves; w++) {
        const n = Math.min(500, knobs.flood - w * 500)
        const flood = await Promise.all(
          Array.from(
            { length: n },
            () => exchange(server.port, get("/small.txt"), { timeoutMs: 10_000 }).catch(() => undefined)
          )
        )
        for (const f of flood) {
          const key = f === undefined
            ? "refused"
            : !f.closed
            ? "left open"
            : parseResponses(f.data).responses.map((r) => r.status).join(",") || "closed"
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
        }
      }
      stop.stopped = true
      await keepAsking
      for (const h of held) h.destroy()
      const other = [...outcomes.keys()].filter((k) => k !== "503" && k !== "closed")
      if (other.length > 0) problems.push(`outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`)
      let after = await timedGet(server.port)
      for (let i = 0; i < 30 && after.status !== 200; i++) {
        await sleep(100)
        after = await timedGet(server.port)
      }
      if (after.status !== 200) problems.push("not served after the flood")
      if (Math.max(...heldLatency) > 2000) problems.push(`held connections waited ${Math.max(...heldLatency)} ms`)
      if (server.stderr() !== "") problems.push(`stderr: ${server.stderr().slice(0, 300)}`)
      await server.stop()
      return {
        figures:
          `${knobs.flood} connections past --max-connections 100: ${JSON.stringify(Object.fromEntries(outcomes))}; ` +
          `the 100 held ones answered in rounds of p50 ${percentile(heldLatency, 50)} ms, max ${
            Math.max(...heldLatency)
          } ms`,
        problems
      }
    })

    await check("pipeline", async () => {
      const problems: Array<string> = []
      const server = await serve(fixture, ["--quiet", "--max-requests", String(knobs.pipeline * 2)])
      await timedGet(server.port)
      await sleep(300)
      const baseRss = rssOf(server.pid)
      let maxRss = baseRss
      const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssOf(server.pid))), 50)
      const targets = ["/small.txt", "/missing.txt", "/index.html", "/sub"]
      const expected = [200, 404, 200, 301]
      const t0 = Date.now()
      // counted as they arrive rather than kept: 100,000 responses are 30 MB
      const conn = await RawConnection.connect(server.port)
      conn.send(Array.from({ length: knobs.pipeline }, (_, i) => get(targets[i % 4]!)).join(""))
      let answered = 0
      let misordered = 0
      const stop = { stopped: false }
      const normal = normalClient(server.port, stop, 200)
      while (answered < knobs.pipeline) {
        const r = await conn.response()
        if (r === undefined) break
        if (r.status !== expected[answered % 4]) misordered++
        answered++
      }
      const ms = Date.now() - t0
      stop.stopped = true
      const seen = await normal
      clearInterval(sampler)
      conn.destroy()
      if (answered !== knobs.pipeline) problems.push(`${answered} of ${knobs.pipeline} answered`)
      if (misordered > 0) problems.push(`${misordered} out of order`)
      if (maxRss - baseRss > 128 * MiB) problems.push(`RSS ${mib(baseRss)} -> ${mib(maxRss)}`)
      if (seen.some((s) => s.status !== 200)) problems.push("a normal GET failed")
      if (server.stderr() !== "") problems.push(`stderr: ${server.stderr().slice(0, 300)}`)
      await server.stop()
      return {
        figures:
          `${answered} pipelined requests answered in order in ${ms} ms (${Math.round((answered * 1000) / ms)}/s); ` +
          `RSS ${mib(baseRss)} -> peak ${mib(maxRss)}; meanwhile ${summarize(seen)}`,
        problems
      }
    })

    await check("shutdown", async () => {
      const problems: Array<string> = []
      const exits: Array<number> = []
      let answered = 0
      let cut = 0
      for (let round = 0; round < knobs.shutdowns; round++) {
        const server = await serve(fixture, ["0", "--quiet"])
        const signal = { stopped: false }
        const loads = server.ports.map((port, i) =>
          mixedLoad(port, fixture, {
            total: 10_000_000,
            concurrency: knobs.concurrency,
            seed: 1000 + round * 2 + i,
            signal,
            connectionTimeoutMs: 5000
          })
        )
        // stalled readers too: they must not hold the exit
        const stuck = await RawConnection.connect(server.port)
        stuck.socket.pause()
        stuck.send(get("/big.bin"))
        await sleep(500 + ((round * 397) % 1500))
        const sent = Date.now()
        const exit = await server.stop(15_000)
        signal.stopped = true
        const reports = await Promise.all(loads)
        stuck.destroy()
        exits.push(exit.at - sent)
        answered += reports.reduce((n, r) => n + r.ok, 0)
        cut += reports.reduce((n, r) => n + r.broken, 0)
        problems.push(...reports.flatMap((r) => r.wrong))
        if (exit.code !== 0) problems.push(`round ${round}: exit ${exit.code ?? exit.signal}`)
        if (exit.at - sent > 3000) problems.push(`round ${round}: exit after ${exit.at - sent} ms`)
        for (const port of server.ports) {
          if (!(await canBind(port))) problems.push(`round ${round}: port ${port} not free`)
        }
        if (server.stderr() !== "") problems.push(`stderr: ${server.stderr().slice(0, 300)}`)
      }
      return {
        figures: `${knobs.shutdowns} SIGINTs under load on two ports: exit 0 after ${exits.join(", ")} ms; ` +
          `${answered} requests answered right before, ${cut} connections cut mid-exchange, every port free`,
        problems
      }
    })
  } finally {
    for (const server of running) server.child.kill("SIGKILL")
    fixture.cleanup()
    build.cleanup()
  }

  console.log(`\nsoak summary (${elapsed()}):`)
  for (const r of results) console.log(`  ${r.pass ? "PASS" : "FAIL"}  ${r.name.padEnd(9)} ${r.figures}`)
  const failed = results.filter((r) => !r.pass)
  console.log(failed.length === 0 ? "all passed" : `${failed.length} failed`)
  clearTimeout(deadline)
  process.exitCode = failed.length === 0 ? 0 : 1
}

if (!fs.existsSync("/proc/self/status")) {
  console.log("the soak reads /proc: Linux only")
  process.exit(1)
}
await main()

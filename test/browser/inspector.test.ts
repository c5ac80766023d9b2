/**
 * `fiberhttp server --inspector` in a real browser (Debian's Chromium through
 * playwright-core): the view draws the connections the server holds, each in
 * its phase, and on SIGINT the shutdown steps in order with their times.
 * Also takes the view's screenshot: test-output/inspector.png, and with
 * UPDATE_SCREENSHOT=1 the README's www/img/inspector.png.
 * Skipped, with the reason, outside CI when /usr/bin/chromium is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser } from "playwright-core"
import { bin, type DevServer, ensureBuilt, repo, startServer } from "../e2e/devSupport.ts"
import { chromiumPath, launchChromium, skipReasonFor } from "./chromium.ts"

const skipReason = skipReasonFor("test/browser/inspector.test.ts")

/** A raw connection to the site that sends `data` (if any) and then reads nothing. */
const rawSocket = (port: number, data?: string): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => {
      if (data !== undefined) socket.write(data)
      resolve(socket)
    })
    socket.on("error", () => {})
    socket.once("error", reject)
  })

describe.skipIf(skipReason !== "")(`the inspector in Chromium${skipReason}`, () => {
  let site = ""
  let server: DevServer
  let browser: Browser | undefined
  const sockets: Array<net.Socket> = []

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(`CI=true and ${chromiumPath} is missing: the browser test must run (apt-get install chromium)`)
    }
    ensureBuilt()
    site = mkdtempSync(join(tmpdir(), "fiberhttp-inspector-"))
    writeFileSync(join(site, "index.html"), "<!DOCTYPE html><title>site</title><h1>site</h1>\n")
    writeFileSync(join(site, "big.bin"), new Uint8Array(64 * 1024 * 1024))
    // the keep-alive connection must still be idle at the Ctrl-C, seconds of polling later on a loaded machine
    server = await startServer(site, ["--inspector", "--quiet", "--grace", "1", "--keep-alive-timeout", "60"])
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await browser?.close()
    if (server !== undefined && server.child.exitCode === null) await server.stop()
    if (site !== "") rmSync(site, { recursive: true, force: true })
  })

  it("draws the connections in their phases, then the Ctrl-C sequence in order", async () => {
    const inspector = /inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(server.stdout())?.[1]
    expect(inspector).toBeDefined()
    // the site's port answers the site alone: nothing of the inspector is there
    const reserved = await fetch(`${server.url}events`)
    expect(reserved.status).toBe(404)

    const context = await browser!.newContext({ viewport: { width: 1280, height: 760 } })
    const page = await context.newPage()
    await page.goto(inspector!)
    await page.waitForSelector("#status.live", { timeout: 20_000 })

    // a request by the project's own client: drawn, then finalized with its reason
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [bin, "client", "-o", "/dev/null", server.url],
        (error) => error === null ? resolve() : reject(error)
      )
    )
    await page.waitForSelector(".conn.gone .reason", { timeout: 10_000 })
    expect(await page.textContent(".conn.gone .reason")).toBe("peer closed")
    // the connection lived less than a batch: its end says how many requests it served
    expect(await page.textContent(".conn.gone")).toContain("1 served")

    for (let i = 0; i < 9; i++) sockets.push(await rawSocket(server.port))
    // idle again after two keep-alive requests
    const twice = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2)
    sockets.push(await rawSocket(server.port, twice))
    for (let i = 0; i < 2; i++) sockets.push(await rawSocket(server.port, "GET /index.html HTTP/1.1\r\nHost: x"))
    for (let i = 0; i < 2; i++) {
      const stalled = await rawSocket(server.port, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
      stalled.pause()
      sockets.push(stalled)
    }
    const count = (phase: string) => page.locator(`.conn[data-phase="${phase}"]`).count()
    await expect.poll(() => count("idle"), { timeout: 10_000 }).toBe(10)
    // requests are no events: phases, requests served and bytes sent come as the batches' figures
    await expect.poll(() => count("reading-head"), { timeout: 10_000 }).toBe(2)
    await expect.poll(() => count("writing"), { timeout: 10_000 }).toBe(2)
    await expect.poll(() => page.textContent(`.conn[data-phase="writing"]`), { timeout: 10_000 }).toMatch(
      /GET \/big\.bin HTTP\/1\.1 · [\d.]+ (KiB|MiB) at/
    )
    expect(await page.textContent("#alive")).toBe("14 connection fibers")
    await expect.poll(() => page.locator(`.conn[data-phase="idle"]`, { hasText: "2 served" }).count(), {
      timeout: 10_000
    }).toBe(1)
    expect(await page.textContent("#tree")).toContain(`127.0.0.1:${server.port}`)
    await page.waitForTimeout(2600) // the client's finished connection fades out
    // test-output/inspector.png on every run; UPDATE_SCREENSHOT=1 also refreshes the README's picture
    await page.screenshot({ path: join(repo, "test-output/inspector.png") })
    if (process.env.UPDATE_SCREENSHOT === "1") await page.screenshot({ path: join(repo, "www/img/inspector.png") })

    const exited = server.stop()
    await page.waitForSelector("li.done[data-step=closed]", { timeout: 15_000 })
    const steps = await page.$$eval("ol.steps li", (items) =>
      items.map((li) => ({
        step: li.getAttribute("data-step"),
        done: li.classList.contains("done"),
        ms: Number(/\+(\d+) ms/.exec(li.textContent ?? "")?.[1])
      })))
    expect(steps.map((s) => s.step)).toEqual(["listeners-closed", "interrupting", "grace", "drained", "closed"])
    expect(steps.every((s) => s.done)).toBe(true)
    const times = steps.map((s) => s.ms)
    expect([...times].sort((a, b) => a - b)).toEqual(times)
    // the two stalled readers took no byte: given up within the grace period, after the idle ones went
    expect(await page.textContent("#steps")).toContain("interrupting 12 connection(s) between requests")
    await page.waitForSelector("#status.ended", { timeout: 10_000 })
    expect(await page.textContent("#status")).toBe("server stopped")
    await page.waitForFunction(() => document.querySelectorAll(".conn:not(.gone)").length === 0)
    // a signal is the normal way to stop the server (README: exit codes)
    expect((await exited).code).toBe(0)
    await context.close()
  }, 90_000)
})

describe.skipIf(skipReason !== "")(`the inspector's replay in Chromium${skipReason}`, () => {
  let server: DevServer
  let browser: Browser | undefined

  beforeAll(async () => {
    ensureBuilt()
    server = await startServer(join(repo, "www"), ["--quiet"])
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  })

  it("plays back the recorded Ctrl-C of 1,000 connections with a time slider, aggregated by phase", async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 760 } })
    const page = await context.newPage()
    await page.goto(`${server.url}inspector.html?replay=docs/ctrl-c-1000.txt`)
    await page.waitForSelector("#replay-bar.on")
    expect(await page.textContent("#status")).toMatch(/^replay: ctrl-c-1000\.txt \(\d+ events\)$/)
    const drag = (value: number) =>
      page.$eval("#slider", (s, v) => {
        const slider = s as HTMLInputElement
        slider.value = String(v)
        slider.dispatchEvent(new Event("input"))
      }, value)
    // just before the Ctrl-C: 1,000 connections, too many to draw one by one
    const shutdownAt = await page.evaluate(async () => {
      const text = await (await fetch("docs/ctrl-c-1000.txt")).text()
      const lines = text.trim().split("\n").map((l) => JSON.parse(l))
      const t = (e: { time: string }) => Date.parse(e.time)
      const closing = lines.find((e) => e.trace === "listeners-closed")
      return (t(closing) - t(lines[0])) / (t(lines.at(-1)) - t(lines[0]))
    })
    await drag(Math.floor(shutdownAt * 1000) - 5)
    expect(await page.textContent("#alive")).toBe("1000 connection fibers")
    expect(await page.textContent("[data-phase-count=idle]")).toBe("980")
    expect(await page.textContent("[data-phase-count=writing]")).toBe("20")
    expect(await page.locator("li.done").count()).toBe(0)
    // the end: every step done, in order, and no fiber left
    await drag(1000)
    expect(await page.locator("li.done").count()).toBe(5)
    expect(await page.textContent("#alive")).toBe("0 connection fibers")
    // and back: the slider rebuilds the tree from the start
    await drag(Math.floor(shutdownAt * 1000) - 5)
    expect(await page.textContent("#alive")).toBe("1000 connection fibers")
    await context.close()
  }, 60_000)
})

describe.skipIf(skipReason !== "")(`the inspector with --workers 2 in Chromium${skipReason}`, () => {
  let site = ""
  let server: DevServer
  let browser: Browser | undefined
  const sockets: Array<net.Socket> = []

  beforeAll(async () => {
    ensureBuilt()
    site = mkdtempSync(join(tmpdir(), "fiberhttp-inspector-workers-"))
    writeFileSync(join(site, "index.html"), "<!DOCTYPE html><title>site</title>\n")
    server = await startServer(site, ["--workers", "2", "--inspector", "--quiet"])
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await browser?.close()
    if (server !== undefined && server.child.exitCode === null) await server.stop()
    if (site !== "") rmSync(site, { recursive: true, force: true })
  })

  it("draws each worker above its connections, then each worker's shutdown and the primary's exit", async () => {
    const inspector = /inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(server.stdout())?.[1]
    const port = Number(new URL(server.url).port)
    const context = await browser!.newContext({ viewport: { width: 1280, height: 760 } })
    const page = await context.newPage()
    await page.goto(inspector!)
    await page.waitForSelector("[data-worker=w2]", { timeout: 20_000 })
    // connections kept open after one request each, in whichever worker took them
    for (let i = 0; i < 6; i++) sockets.push(await rawSocket(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    await page.waitForFunction(
      () => document.querySelectorAll("[data-worker] .conn[data-phase=idle]").length === 6,
      null,
      {
        timeout: 10_000
      }
    )
    // every connection is drawn under the worker its id names
    const placed = await page.$$eval(
      "[data-worker] .conn",
      (boxes) =>
        boxes.map((box) => [box.closest("[data-worker]")!.getAttribute("data-worker"), box.getAttribute("data-id")])
    )
    for (const [worker, id] of placed) expect(id!.startsWith(`${worker}:c`)).toBe(true)

    const exited = server.stop()
    await page.waitForSelector("#status.ended", { timeout: 15_000 })
    expect(await page.textContent("#status")).toBe("server stopped")
    await page.waitForSelector("li.done[data-step=workers-stopped]", { timeout: 5_000 })
    const order = await page.$$eval(
      "#steps li.done",
      (items) => items.map((li) => li.getAttribute("data-step") ?? li.getAttribute("data-worker-steps"))
    )
    const worker = ["asked", "listeners-closed", "draining", "drained", "closed", "exited"]
    expect(order).toEqual(["workers-stopping", "w1", ...worker, "w2", ...worker, "workers-stopped"])
    expect((await exited).code).toBe(0)
    await context.close()
  }, 60_000)
})

/**
 * `fiberhttp server --watch` in a real browser (Debian's Chromium through
 * playwright-core): a changed page reloads, a changed stylesheet is swapped
 * without a navigation, and 50 open pages reload once each for one change.
 * Skipped, with the reason, outside CI when /usr/bin/chromium is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, type BrowserContext, type Page } from "playwright-core"
import { type DevServer, ensureBuilt, startServer } from "../e2e/devSupport.ts"
import { chromiumPath, launchChromium, skipReasonFor } from "./chromium.ts"

const skipReason = skipReasonFor("test/browser/livereload.test.ts")

const pageHtml = (heading: string) =>
  `<!DOCTYPE html><html><head><meta charset="utf-8"><title>live</title><link rel="stylesheet" href="/site.css"></head>` +
  `<body><h1>${heading}</h1></body></html>\n`

/** Opens `url` in `page` and resolves once its event stream is connected (its response head arrived). */
const openWatched = async (page: Page, url: string) => {
  const connected = page.waitForResponse((response) => response.url().endsWith("/__fiberhttp/events"), {
    timeout: 20_000
  })
  await page.goto(url)
  await connected
}

describe.skipIf(skipReason !== "")(`live reload in Chromium${skipReason}`, () => {
  let site = ""
  let server: DevServer
  let browser: Browser | undefined

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(`CI=true and ${chromiumPath} is missing: the browser test must run (apt-get install chromium)`)
    }
    ensureBuilt()
    site = mkdtempSync(join(tmpdir(), "fiberhttp-live-"))
    writeFileSync(join(site, "index.html"), pageHtml("one"))
    writeFileSync(join(site, "site.css"), "h1 { color: rgb(255, 0, 0); }\n")
    server = await startServer(site, ["--watch", "--quiet"])
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    if (site !== "") rmSync(site, { recursive: true, force: true })
  })

  it("a changed page reloads; a changed stylesheet is swapped in place, without a navigation", async () => {
    const context = await browser!.newContext()
    try {
      const page = await context.newPage()
      let navigations = 0
      page.on("framenavigated", (frame) => void (frame === page.mainFrame() && navigations++))
      await openWatched(page, server.url)
      expect(await page.textContent("h1")).toBe("one")
      expect(navigations).toBe(1)

      const reconnected = page.waitForResponse((r) => r.url().endsWith("/__fiberhttp/events"), { timeout: 20_000 })
      writeFileSync(join(site, "index.html"), pageHtml("two"))
      await page.waitForFunction(() => document.querySelector("h1")?.textContent === "two", undefined, {
        timeout: 20_000
      })
      await reconnected
      expect(navigations).toBe(2)

      await page.evaluate(() => void ((window as unknown as { marker: number }).marker = 42))
      writeFileSync(join(site, "site.css"), "h1 { color: rgb(0, 0, 255); }\n")
      await page.waitForFunction(
        () => getComputedStyle(document.querySelector("h1")!).color === "rgb(0, 0, 255)",
        undefined,
        { timeout: 20_000 }
      )
      // the same document: no navigation, the page's own state kept, one stylesheet left
      expect(navigations).toBe(2)
      expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42)
      expect(await page.evaluate(() => document.querySelectorAll("link[rel=stylesheet]").length)).toBe(1)
    } finally {
      await context.close()
    }
  }, 90_000)

  it("50 open pages and one change: one reload each", async () => {
    // one context per page: Chromium allows 6 connections per host and profile, and each page holds one stream
    const contexts: Array<BrowserContext> = []
    const loads: Array<number> = []
    try {
      const open = async (i: number) => {
        const context = await browser!.newContext()
        contexts.push(context)
        const page = await context.newPage()
        page.on("load", () => void (loads[i] = (loads[i] ?? 0) + 1))
        await openWatched(page, server.url)
      }
      for (let i = 0; i < 50; i++) loads.push(0)
      // ten at a time: fast enough, gentle on two cores
      for (let batch = 0; batch < 50; batch += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, k) => open(batch + k)))
      }
      expect(loads.every((n) => n === 1)).toBe(true)
      writeFileSync(join(site, "index.html"), pageHtml("fifty"))
      const deadline = Date.now() + 60_000
      while (!loads.every((n) => n >= 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      // a moment more: a second reload would show now
      await new Promise((r) => setTimeout(r, 1500))
      expect(loads).toEqual(Array.from({ length: 50 }, () => 2))
    } finally {
      for (const context of contexts) await context.close()
    }
  }, 180_000)
})

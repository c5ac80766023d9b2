/**
 * The site in a real browser: the built CLI serves a copy of www/ on a free
 * loopback port and Debian's Chromium (driven by playwright-core, no browser
 * download) checks what a person would see.
 *
 * www/ is copied to a temporary directory so that the test can add a large
 * generated file (files/big.bin, 4 MiB) for streaming and ranges without
 * writing into the source tree.
 *
 * Under CI=true the test always runs and fails if /usr/bin/chromium is
 * missing; elsewhere it is skipped, with the reason in its name.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, type BrowserContext, type Page, type Request, type Response } from "playwright-core"
import { chromiumPath, launchChromium, skipReasonFor } from "./chromium.ts"

const repo = fileURLToPath(new URL("../..", import.meta.url))
const cli = join(repo, "dist/fiberhttp.js")
const skipReason = skipReasonFor("test/browser/www.test.ts")

const BIG_SIZE = 4 * 1024 * 1024
/** The big file's byte at offset i: a pattern a misplaced range cannot match by accident. */
const bigByte = (i: number): number => (i * 31 + (i >>> 11)) & 0xff

/** Starts the built server on a free loopback port; resolves with its base URL. */
const startServer = (root: string): Promise<{ process: ChildProcess; base: string }> =>
  new Promise((resolveStart, rejectStart) => {
    const child = spawn(process.execPath, [cli, "server", "0", "--root", root, "--host", "127.0.0.1"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      rejectStart(new Error(`the server printed no URL within 15 s:\n${output}`))
    }, 15_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        child.stdout?.off("data", onData)
        child.stdout?.resume() // keep draining the access log
        resolveStart({ process: child, base: match[0] })
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", (chunk: Buffer) => void (output += chunk.toString("utf8")))
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      rejectStart(new Error(`the server exited (${code ?? signal}) before listening:\n${output}`))
    })
  })

/** SIGINT, then SIGKILL if it has not exited within 5 s. */
const stopServer = (child: ChildProcess): Promise<void> =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(timer)
      done()
    })
    child.kill("SIGINT")
  })

/** What the page fetched, as the browser saw it. */
interface Seen {
  readonly responses: Array<Response>
  readonly failures: Array<string>
}

const watch = (context: BrowserContext): Seen & { stop: () => void } => {
  const seen: Seen = { responses: [], failures: [] }
  const onResponse = (response: Response) => void seen.responses.push(response)
  const onFailed = (request: Request) =>
    void seen.failures.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? "?"}`)
  context.on("response", onResponse)
  context.on("requestfailed", onFailed)
  return {
    ...seen,
    stop: () => {
      context.off("response", onResponse)
      context.off("requestfailed", onFailed)
    }
  }
}

/** Requests as they went over the wire (through the DevTools protocol): real statuses, real request headers. */
const watchWire = async (page: Page) => {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send("Network.enable")
  let paths = new Map<string, string>()
  let statuses = new Map<string, number>()
  let conditional = new Map<string, boolean>()
  cdp.on(
    "Network.requestWillBeSent",
    (e) => void paths.set(e.requestId, `${e.request.method} ${new URL(e.request.url).pathname}`)
  )
  cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
    const names = Object.keys(e.headers).map((name) => name.toLowerCase())
    conditional.set(e.requestId, names.includes("if-none-match") || names.includes("if-modified-since"))
  })
  cdp.on("Network.responseReceivedExtraInfo", (e) => void statuses.set(e.requestId, e.statusCode))
  return {
    /** Requests that reached the server (cache hits never do), with their status and whether they were conditional. */
    exchanges: () =>
      [...statuses].map(([id, status]) => ({
        path: paths.get(id) ?? id,
        status,
        conditional: conditional.get(id) ?? false
      })),
    clear: () => {
      paths = new Map()
      statuses = new Map()
      conditional = new Map()
    },
    detach: () => cdp.detach()
  }
}

const expectedType = (pathname: string): RegExp | undefined => {
  if (pathname.endsWith("/") || pathname.endsWith(".html")) return /^text\/html\b/
  if (pathname.endsWith(".css")) return /^text\/css\b/
  if (pathname.endsWith(".js")) return /^(application|text)\/javascript\b/
  if (pathname.endsWith(".svg")) return /^image\/svg\+xml\b/
  // the architecture page's replayed trace (JSON lines)
  if (pathname.endsWith(".txt")) return /^text\/plain\b/
  return undefined
}

/** Every response succeeded (200, or 304 on revalidation) with the Content-Type its name calls for. */
const expectAllGood = (seen: Seen) => {
  expect(seen.failures).toEqual([])
  const summary = seen.responses.map((r) => {
    const { pathname } = new URL(r.url())
    const type = r.headers()["content-type"] ?? ""
    const wanted = expectedType(pathname)
    const typeOk = r.status() === 304 || (wanted !== undefined && wanted.test(type))
    return { path: `${r.request().method()} ${pathname}`, status: r.status(), type, typeOk }
  })
  for (const entry of summary) {
    expect([200, 304], `${entry.path} answered ${entry.status}`).toContain(entry.status)
    expect(entry.typeOk, `${entry.path} has Content-Type "${entry.type}"`).toBe(true)
  }
  return summary
}

describe.skipIf(skipReason !== "")(`www/ in Chromium${skipReason}`, () => {
  let site = ""
  let server: ChildProcess | undefined
  let base = ""
  let browser: Browser | undefined
  let context: BrowserContext
  let page: Page

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(`CI=true and ${chromiumPath} is missing: the browser test must run (apt-get install chromium)`)
    }
    if (!existsSync(cli)) execFileSync("npm", ["run", "build"], { cwd: repo, stdio: "inherit", timeout: 60_000 })

    site = mkdtempSync(join(tmpdir(), "fiberhttp-www-"))
    cpSync(join(repo, "www"), site, { recursive: true })
    mkdirSync(join(site, "files"), { recursive: true })
    const big = new Uint8Array(BIG_SIZE)
    for (let i = 0; i < BIG_SIZE; i++) big[i] = bigByte(i)
    writeFileSync(join(site, "files/big.bin"), big)

    const started = await startServer(site)
    server = started.process
    base = started.base

    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1000, height: 800 } })
    context.setDefaultTimeout(10_000)
    page = await context.newPage()
  })

  afterAll(async () => {
    // bounded: a browser that does not close in 10 s is left to the process exit
    await Promise.race([browser?.close(), new Promise((done) => setTimeout(done, 10_000))])
    if (server !== undefined) await stopServer(server)
    if (site !== "") rmSync(site, { recursive: true, force: true })
  })

  it("loads the home page: every request succeeds with the right Content-Type", async () => {
    const seen = watch(context)
    const response = await page.goto(base, { waitUntil: "load" })
    await page.waitForSelector("html[data-probe]")
    seen.stop()

    expect(response?.status()).toBe(200)
    const summary = expectAllGood(seen)
    const paths = summary.map((entry) => entry.path)
    for (const path of ["GET /", "GET /css/site.css", "GET /js/site.js", "GET /img/logo.svg", "HEAD /"]) {
      expect(paths).toContain(path)
    }

    mkdirSync(join(repo, "test-output"), { recursive: true })
    await page.screenshot({ path: join(repo, "test-output/www.png"), fullPage: true })
  })

  it("applies the stylesheet", async () => {
    const style = await page.$eval("header.site", (header) => {
      const computed = getComputedStyle(header)
      return { background: computed.backgroundColor, color: computed.color }
    })
    expect(style).toEqual({ background: "rgb(23, 37, 84)", color: "rgb(224, 242, 254)" })
  })

  it("runs the script: the table of contents, the load time and the server probe", async () => {
    const state = await page.evaluate(() => ({
      js: document.documentElement.dataset["js"],
      probe: document.documentElement.dataset["probe"],
      headings: document.querySelectorAll("main > h2").length,
      tocLinks: Array.from(document.querySelectorAll("nav.toc li a")).map((a) => a.getAttribute("href")),
      loadedAt: document.getElementById("loaded-at")?.textContent,
      servedBy: document.getElementById("served-by")?.textContent
    }))
    expect(state.js).toBe("ready")
    expect(state.probe).toBe("done")
    expect(state.tocLinks.length).toBe(state.headings)
    expect(state.tocLinks).toContain("#server")
    expect(state.loadedAt).toMatch(/^\d\d:\d\d:\d\d$/)
    expect(state.servedBy).toMatch(/^fiberhttp\/\S+ \(HEAD 200, ETag /)
  })

  it("decodes the logo", async () => {
    const logo = await page.$eval("img.logo", (img) => ({
      complete: (img as HTMLImageElement).complete,
      width: (img as HTMLImageElement).naturalWidth
    }))
    expect(logo.complete).toBe(true)
    expect(logo.width).toBeGreaterThan(0)
  })

  it("follows a link to the second page, in a subfolder", async () => {
    const seen = watch(context)
    await Promise.all([page.waitForURL("**/docs/architecture.html"), page.click("#architecture-link")])
    await page.waitForSelector("html[data-probe]")
    seen.stop()

    expectAllGood(seen)
    expect(await page.textContent("h1")).toBe("How the server is built")
    const diagram = await page.$eval("#scope-diagram", (img) => (img as HTMLImageElement).naturalWidth)
    expect(diagram).toBeGreaterThan(0)
    // the subfolder page reaches the stylesheet through a relative URL
    expect(await page.$eval("header.site", (h) => getComputedStyle(h).backgroundColor)).toBe("rgb(23, 37, 84)")
  })

  it("shows the 404 page for a missing page", async () => {
    const response = await page.goto(`${base}no-such-page.html`)
    expect(response?.status()).toBe(404)
    expect(response?.headers()["content-type"]).toMatch(/^text\/html\b/)
    expect(await page.textContent("h1")).toBe("404 Not Found")
  })

  it("answers a reload with 304s", async () => {
    await page.goto(base, { waitUntil: "load" })
    await page.waitForSelector("html[data-probe]")

    const wire = await watchWire(page)
    const seen = watch(context)
    await page.reload({ waitUntil: "load" })
    await page.waitForSelector("html[data-probe]")
    seen.stop()
    expectAllGood(seen)

    // The reload revalidates the page itself; subresources still fresh by the
    // heuristic (no Cache-Control is sent) come from the cache without a request.
    const reload = wire.exchanges().filter((x) => x.path !== "HEAD /")
    expect(reload.find((x) => x.path === "GET /")).toMatchObject({ status: 304, conditional: true })
    for (const exchange of reload) {
      expect(exchange.status === 304 && exchange.conditional, `${exchange.path} on reload`).toBe(true)
    }

    // A revalidation of each subresource, as a later reload would make it; the reload's own
    // requests may still be in flight (an image decoded late): let the network settle first.
    await page.waitForLoadState("networkidle")
    wire.clear()
    const statuses = await page.evaluate(() =>
      Promise.all(
        ["/css/site.css", "/js/site.js", "/img/logo.svg"].map((path) =>
          fetch(path, { cache: "no-cache" }).then((response) => response.status)
        )
      )
    )
    expect(statuses).toEqual([200, 200, 200]) // what the page sees: the cached copy
    const revalidations = wire.exchanges()
    expect([...new Set(revalidations.map((x) => x.path))].sort()).toEqual([
      "GET /css/site.css",
      "GET /img/logo.svg",
      "GET /js/site.js"
    ])
    for (const exchange of revalidations) {
      expect(exchange, exchange.path).toMatchObject({ status: 304, conditional: true })
    }
    await wire.detach()
  })

  it("streams the big file whole and serves a byte range of it (206)", async () => {
    const result = await page.evaluate(async () => {
      const whole = await fetch("/files/big.bin", { cache: "no-store" })
      const bytes = new Uint8Array(await whole.arrayBuffer())
      let sum = 0
      for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]! * ((i % 251) + 1)) % 1_000_000_007
      const part = await fetch("/files/big.bin", { cache: "no-store", headers: { Range: "bytes=1000000-1000099" } })
      return {
        wholeStatus: whole.status,
        wholeType: whole.headers.get("content-type"),
        wholeLength: bytes.length,
        sum,
        partStatus: part.status,
        contentRange: part.headers.get("content-range"),
        acceptRanges: whole.headers.get("accept-ranges"),
        part: Array.from(new Uint8Array(await part.arrayBuffer()))
      }
    })
    let sum = 0
    for (let i = 0; i < BIG_SIZE; i++) sum = (sum + bigByte(i) * ((i % 251) + 1)) % 1_000_000_007
    expect(result.wholeStatus).toBe(200)
    expect(result.wholeType).toBe("application/octet-stream")
    expect(result.acceptRanges).toBe("bytes")
    expect(result.wholeLength).toBe(BIG_SIZE)
    expect(result.sum).toBe(sum)
    expect(result.partStatus).toBe(206)
    expect(result.contentRange).toBe(`bytes 1000000-1000099/${BIG_SIZE}`)
    expect(result.part).toEqual(Array.from({ length: 100 }, (_, k) => bigByte(1_000_000 + k)))
  })
})

// End-to-end: the server's development options (--spa, --fallback, --cors, --cache, 404.html, --open), checked with curl.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { curlFetch, type DevServer, ensureBuilt, runServerToEnd, startServer } from "./devSupport.ts"

let dir = ""
let root = ""
const index = "<!DOCTYPE html><title>app</title><div id=app></div>\n"
const shell = "<!DOCTYPE html><title>shell</title>\n"
const notFoundPage = "<!DOCTYPE html><title>lost</title><h1>Nothing here</h1>\n"

beforeAll(() => {
  ensureBuilt()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-e2e-dev-"))
  root = path.join(dir, "www")
  fs.mkdirSync(path.join(root, "assets"), { recursive: true })
  fs.writeFileSync(path.join(root, "index.html"), index)
  fs.writeFileSync(path.join(root, "app shell.html"), shell)
  fs.writeFileSync(path.join(root, "assets", "app.js"), "console.log(1)\n")
}, 60_000)

afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

const html = ["-H", "Accept: text/html,application/xhtml+xml,*/*;q=0.8"]

describe("--spa and --fallback", () => {
  let spa: DevServer
  let fallback: DevServer

  beforeAll(async () => {
    spa = await startServer(root, ["--spa", "--quiet"])
    fallback = await startServer(root, ["--fallback", "app shell.html", "--quiet"])
  }, 30_000)

  afterAll(async () => {
    await Promise.all([spa.stop(), fallback.stop()])
  })

  it("a browser's GET for a missing route gets index.html with 200, its validators and a 304 on revalidation", async () => {
    const route = await curlFetch(`http://127.0.0.1:${spa.port}/users/42/settings`, html)
    expect(route.status).toBe(200)
    expect(route.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(route.body.toString()).toBe(index)
    const etag = route.headers.get("etag")!
    const again = await curlFetch(`http://127.0.0.1:${spa.port}/users/42/settings`, [
      ...html,
      "-H",
      `If-None-Match: ${etag}`
    ])
    expect(again.status).toBe(304)
    const head = await curlFetch(`http://127.0.0.1:${spa.port}/deep/route`, [...html, "-I"])
    expect(head.status).toBe(200)
    expect(head.headers.get("content-length")).toBe(String(index.length))
  })

  it("missing files with an extension, and requests that do not accept HTML, stay 404", async () => {
    for (const target of ["/assets/missing.js", "/styles/site.css", "/img/logo.png"]) {
      expect((await curlFetch(`http://127.0.0.1:${spa.port}${target}`, html)).status, target).toBe(404)
    }
    expect((await curlFetch(`http://127.0.0.1:${spa.port}/users/42`, ["-H", "Accept: application/json"])).status)
      .toBe(404)
    expect((await curlFetch(`http://127.0.0.1:${spa.port}/users/42`)).status).toBe(404)
    // existing files are served as before
    expect((await curlFetch(`http://127.0.0.1:${spa.port}/assets/app.js`, html)).body.toString()).toBe(
      "console.log(1)\n"
    )
  })

  it("--fallback FILE serves that file instead", async () => {
    const route = await curlFetch(`http://127.0.0.1:${fallback.port}/dashboard`, html)
    expect(route.status).toBe(200)
    expect(route.body.toString()).toBe(shell)
  })
})

describe("--cors", () => {
  let cors: DevServer
  let plain: DevServer

  beforeAll(async () => {
    cors = await startServer(root, ["--cors", "--quiet"])
    plain = await startServer(root, ["--quiet"])
  }, 30_000)

  afterAll(async () => {
    await Promise.all([cors.stop(), plain.stop()])
  })

  it("Access-Control-Allow-Origin: * on files and errors", async () => {
    const file = await curlFetch(`http://127.0.0.1:${cors.port}/assets/app.js`, ["-H", "Origin: http://example.test"])
    expect(file.headers.get("access-control-allow-origin")).toBe("*")
    const missing = await curlFetch(`http://127.0.0.1:${cors.port}/nope`, ["-H", "Origin: http://example.test"])
    expect(missing.status).toBe(404)
    expect(missing.headers.get("access-control-allow-origin")).toBe("*")
  })

  it("a preflight gets 204 allowing GET and HEAD and echoing the requested headers", async () => {
    const preflight = await curlFetch(`http://127.0.0.1:${cors.port}/assets/app.js`, [
      "-X",
      "OPTIONS",
      "-H",
      "Origin: http://example.test",
      "-H",
      "Access-Control-Request-Method: GET",
      "-H",
      "Access-Control-Request-Headers: x-requested-with, content-type"
    ])
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*")
    expect(preflight.headers.get("access-control-allow-methods")).toBe("GET, HEAD")
    expect(preflight.headers.get("access-control-allow-headers")).toBe("x-requested-with, content-type")
    expect(preflight.headers.get("access-control-max-age")).toMatch(/^\d+$/)
    expect(preflight.body.length).toBe(0)
  })

  it("without --cors: no CORS headers, and OPTIONS is the plain Allow answer", async () => {
    const file = await curlFetch(`http://127.0.0.1:${plain.port}/assets/app.js`, ["-H", "Origin: http://example.test"])
    expect([...file.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([])
    const options = await curlFetch(`http://127.0.0.1:${plain.port}/assets/app.js`, [
      "-X",
      "OPTIONS",
      "-H",
      "Origin: http://example.test",
      "-H",
      "Access-Control-Request-Method: GET"
    ])
    expect(options.status).toBe(204)
    expect(options.headers.get("allow")).toBe("GET, HEAD, OPTIONS")
    expect(options.headers.get("access-control-allow-origin")).toBeUndefined()
  })
})

describe("--cache", () => {
  it("default no-cache, --cache N max-age=N, --cache 0 no-store; on 200, 206 and 304, not on errors", async () => {
    const servers = await Promise.all([
      startServer(root, ["--quiet"]),
      startServer(root, ["--quiet", "--cache", "3600"]),
      startServer(root, ["--quiet", "--cache", "0"])
    ])
    try {
      const expected = ["no-cache", "max-age=3600", "no-store"]
      for (const [i, server] of servers.entries()) {
        const url = `http://127.0.0.1:${server.port}/assets/app.js`
        const full = await curlFetch(url)
        expect(full.headers.get("cache-control")).toBe(expected[i])
        const part = await curlFetch(url, ["-r", "0-3"])
        expect(part.status).toBe(206)
        expect(part.headers.get("cache-control")).toBe(expected[i])
        const revalidated = await curlFetch(url, ["-H", `If-None-Match: ${full.headers.get("etag")}`])
        expect(revalidated.status).toBe(304)
        expect(revalidated.headers.get("cache-control")).toBe(expected[i])
        const missing = await curlFetch(`http://127.0.0.1:${server.port}/nope.js`)
        expect(missing.headers.get("cache-control")).toBeUndefined()
      }
    } finally {
      await Promise.all(servers.map((server) => server.stop()))
    }
  })

  it("a negative --cache is a usage error", async () => {
    const result = await runServerToEnd(["0", "--root", root, "--cache", "-1"])
    expect(result.code).toBe(2)
  })
})

describe("404.html", () => {
  it("is the body of 404 responses, with status 404; without it, the built-in page", async () => {
    const withPage = path.join(dir, "with-404")
    fs.mkdirSync(withPage)
    fs.writeFileSync(path.join(withPage, "index.html"), index)
    fs.writeFileSync(path.join(withPage, "404.html"), notFoundPage)
    const servers = await Promise.all([startServer(withPage, ["--quiet"]), startServer(root, ["--quiet"])])
    try {
      const custom = await curlFetch(`http://127.0.0.1:${servers[0].port}/no/such/page`)
      expect(custom.status).toBe(404)
      expect(custom.headers.get("content-type")).toBe("text/html; charset=utf-8")
      expect(custom.headers.get("etag")).toBeUndefined()
      expect(custom.body.toString()).toBe(notFoundPage)
      const head = await curlFetch(`http://127.0.0.1:${servers[0].port}/no/such/page`, ["-I"])
      expect(head.status).toBe(404)
      expect(head.headers.get("content-length")).toBe(String(notFoundPage.length))
      // the page itself is still an ordinary file
      expect((await curlFetch(`http://127.0.0.1:${servers[0].port}/404.html`)).status).toBe(200)
      const builtIn = await curlFetch(`http://127.0.0.1:${servers[1].port}/no/such/page`)
      expect(builtIn.status).toBe(404)
      expect(builtIn.body.toString()).toContain("<h1>404 Not Found</h1>")
    } finally {
      await Promise.all(servers.map((server) => server.stop()))
    }
  })
})

describe("--open", () => {
  /** A fake xdg-open that records the URL it was given. */
  const fakeOpener = () => {
    const binDir = fs.mkdtempSync(path.join(dir, "bin-"))
    const record = path.join(binDir, "opened.txt")
    fs.writeFileSync(path.join(binDir, "xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > '${record}'\n`, { mode: 0o755 })
    return { binDir, record }
  }

  it("hands the first URL to xdg-open when there is a display", async () => {
    const { binDir, record } = fakeOpener()
    const env = { ...process.env, PATH: `${binDir}:${process.env.PATH}`, DISPLAY: ":99" }
    const server = await startServer(root, ["--open", "--quiet"], env)
    try {
      const deadline = Date.now() + 5000
      while (!fs.existsSync(record) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(fs.readFileSync(record, "utf8")).toBe(server.url)
    } finally {
      await server.stop()
    }
  })

  it("is ignored without a display", async () => {
    const { binDir, record } = fakeOpener()
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH}` }
    delete env.DISPLAY
    delete env.WAYLAND_DISPLAY
    const server = await startServer(root, ["--open", "--quiet"], env)
    await new Promise((r) => setTimeout(r, 500))
    const exit = await server.stop()
    expect(exit.code).toBe(0)
    expect(fs.existsSync(record)).toBe(false)
  })
})

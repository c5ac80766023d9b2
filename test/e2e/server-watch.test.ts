// End-to-end: `fiberhttp server --watch` (injected script, event stream, debounce, shutdown), checked with curl and raw sockets.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { curlFetch, type DevServer, ensureBuilt, startServer } from "./devSupport.ts"

let dir = ""
let root = ""
const page = "<!DOCTYPE html><html><head><link rel=stylesheet href=site.css></head><body><h1>hi</h1></body></html>\n"

beforeAll(() => {
  ensureBuilt()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-e2e-watch-"))
  root = path.join(dir, "www")
  fs.mkdirSync(path.join(root, "many"), { recursive: true })
  fs.writeFileSync(path.join(root, "index.html"), page)
  fs.writeFileSync(path.join(root, "bare.html"), "<p>no body tag")
  fs.writeFileSync(path.join(root, "site.css"), "h1{color:teal}\n")
  fs.writeFileSync(path.join(root, "app.js"), "console.log(1)\n")
}, 60_000)

afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

/** An event stream read over a raw socket: the events seen so far, by name. */
const openEvents = (port: number) =>
  new Promise<{ readonly socket: net.Socket; readonly text: () => string; readonly events: () => Array<string> }>(
    (resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.write("GET /__fiberhttp/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
      })
      let text = ""
      socket.on("error", reject)
      socket.on("data", (d: Buffer) => {
        const first = text === ""
        text += d.toString()
        if (first) {
          resolve({
            socket,
            text: () => text,
            events: () => [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]!)
          })
        }
      })
    }
  )

const waitFor = async (condition: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  return condition()
}

describe("--watch", () => {
  let server: DevServer
  let url = ""

  beforeAll(async () => {
    server = await startServer(root, ["--watch", "--quiet", "--keep-alive-timeout", "1", "--write-timeout", "1"])
    url = `http://127.0.0.1:${server.port}`
    // the watch is set up just after start-up
    await new Promise((r) => setTimeout(r, 300))
  }, 30_000)

  afterAll(async () => {
    await server.stop()
  })

  it("injects the script before </body>, counted in Content-Length, with an ETag of its own", async () => {
    const response = await curlFetch(`${url}/`, ["-H", "Accept-Encoding: identity"])
    const body = response.body.toString()
    expect(response.status).toBe(200)
    expect(Number(response.headers.get("content-length"))).toBe(response.body.length)
    expect(
      body.startsWith("<!DOCTYPE html><html><head><link rel=stylesheet href=site.css></head><body><h1>hi</h1><script>")
    )
      .toBe(true)
    expect(body.endsWith("</script></body></html>\n")).toBe(true)
    expect(body).toContain("/__fiberhttp/events")
    const etag = response.headers.get("etag")!
    expect(etag).toMatch(/-lr"$/)
    // revalidation with that ETag: 304
    const again = await curlFetch(`${url}/`, ["-H", `If-None-Match: ${etag}`])
    expect(again.status).toBe(304)
    expect(again.headers.get("etag")).toBe(etag)
    // a page without </body> or </html> gets it at the end
    const bare = (await curlFetch(`${url}/bare.html`)).body.toString()
    expect(bare.startsWith("<p>no body tag<script>")).toBe(true)
    expect(bare.endsWith("</script>")).toBe(true)
  })

  it("nothing is injected into ranges or non-HTML", async () => {
    const part = await curlFetch(`${url}/index.html`, ["-r", "0-9"])
    expect(part.status).toBe(206)
    expect(part.body.toString()).toBe(page.slice(0, 10))
    expect((await curlFetch(`${url}/app.js`)).body.toString()).toBe("console.log(1)\n")
    expect((await curlFetch(`${url}/site.css`)).body.toString()).toBe("h1{color:teal}\n")
  })

  it("a CSS change is a css event, an HTML change a reload; a burst of 500 files is one event", async () => {
    const stream = await openEvents(server.port)
    try {
      expect(stream.text()).toContain("Content-Type: text/event-stream")
      expect(stream.text()).toContain("Transfer-Encoding: chunked")
      fs.writeFileSync(path.join(root, "site.css"), "h1{color:navy}\n")
      expect(await waitFor(() => stream.events().length === 1)).toBe(true)
      expect(stream.events()).toEqual(["css"])
      expect(stream.text()).toContain("data: [\"/site.css\"]")
      fs.writeFileSync(path.join(root, "index.html"), page.replace("hi", "hello"))
      expect(await waitFor(() => stream.events().length === 2)).toBe(true)
      expect(stream.events()[1]).toBe("reload")
      // a checkout of 500 files, written as fast as possible
      for (let i = 0; i < 500; i++) fs.writeFileSync(path.join(root, "many", `f${i}.txt`), String(i))
      expect(await waitFor(() => stream.events().length === 3)).toBe(true)
      await new Promise((r) => setTimeout(r, 1000))
      expect(stream.events()).toEqual(["css", "reload", "reload"])
    } finally {
      stream.socket.destroy()
    }
  })

  it("the stream outlives the keep-alive and write timeouts (1 s here): heartbeats keep it moving", async () => {
    const stream = await openEvents(server.port)
    try {
      await new Promise((r) => setTimeout(r, 2500))
      expect(stream.socket.destroyed).toBe(false)
      expect(stream.text()).toContain(": ping")
      fs.writeFileSync(path.join(root, "app.js"), "console.log(2)\n")
      expect(await waitFor(() => stream.events().includes("reload"))).toBe(true)
    } finally {
      stream.socket.destroy()
    }
  })
})

describe("--watch and the connection limits, shutdown", () => {
  it("an event stream counts against --max-connections", async () => {
    // --write-timeout 1: heartbeats every third of a second, so a stream whose client left is noticed soon
    const server = await startServer(root, ["--watch", "--quiet", "--max-connections", "1", "--write-timeout", "1"])
    try {
      const stream = await openEvents(server.port)
      const refused = await curlFetch(`http://127.0.0.1:${server.port}/app.js`)
      expect(refused.status).toBe(503)
      stream.socket.destroy()
      // the next heartbeat finds the stream's client gone and frees its place
      let status = 0
      const deadline = Date.now() + 5000
      while (status !== 200 && Date.now() < deadline) {
        status = (await curlFetch(`http://127.0.0.1:${server.port}/app.js`)).status
        if (status !== 200) await new Promise((r) => setTimeout(r, 200))
      }
      expect(status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  it("Ctrl-C ends open event streams at once, not after --grace", async () => {
    const server = await startServer(root, ["--watch", "--quiet", "--grace", "10"])
    const streams = await Promise.all([openEvents(server.port), openEvents(server.port), openEvents(server.port)])
    const ended = streams.map((s) => new Promise<string>((resolve) => s.socket.on("close", () => resolve(s.text()))))
    const stopping = Date.now()
    const exit = await server.stop()
    expect(exit.code).toBe(0)
    expect(exit.at - stopping).toBeLessThan(2000)
    // each stream was ended properly: the last chunk of its chunked body arrived
    for (const text of await Promise.all(ended)) expect(text.endsWith("0\r\n\r\n")).toBe(true)
  })

  it("without --watch nothing is injected and the reserved path is an ordinary 404", async () => {
    const server = await startServer(root, ["--quiet"])
    try {
      expect((await curlFetch(`http://127.0.0.1:${server.port}/__fiberhttp/events`)).status).toBe(404)
      const index = await curlFetch(`http://127.0.0.1:${server.port}/`)
      expect(index.body.toString()).not.toContain("<script>")
      expect(index.headers.get("etag")).not.toMatch(/-lr"$/)
    } finally {
      await server.stop()
    }
  })
})

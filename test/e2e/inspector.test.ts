// End-to-end: `server --inspector` checked from outside, with ss and curl: loopback only whatever
// --host says, nothing on the site's port, the page and the event stream, the option's spellings.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { curl, curlFetch, type DevServer, ensureBuilt, runServerToEnd, startServer } from "./devSupport.ts"

let root = ""

beforeAll(() => {
  ensureBuilt()
  root = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-e2e-inspector-"))
  fs.writeFileSync(path.join(root, "index.html"), "<!DOCTYPE html><title>site</title>\n")
}, 60_000)

afterAll(() => {
  if (root !== "") fs.rmSync(root, { recursive: true, force: true })
})

/** The local addresses listening on `port`, as ss sees them. */
const listeningOn = (port: number): Array<string> =>
  execFileSync("ss", ["-Hltn"], { encoding: "utf8" }).split("\n").flatMap((line) => {
    const local = line.trim().split(/\s+/)[3]
    return local !== undefined && local.endsWith(`:${port}`) ? [local] : []
  })

describe("--inspector", () => {
  let server: DevServer
  let inspector = 0
  /** The site's port (the start-up lines name the site by its listening address, 0.0.0.0). */
  let site = 0

  beforeAll(async () => {
    server = await startServer(root, ["--host", "0.0.0.0", "--inspector", "--quiet"])
    inspector = Number(/inspector: http:\/\/127\.0\.0\.1:(\d+)\//.exec(server.stdout())?.[1])
    site = Number(/ {2}http:\/\/0\.0\.0\.0:(\d+)\//.exec(server.stdout())?.[1])
  }, 30_000)

  afterAll(async () => {
    await server?.stop()
  })

  it("listens on 127.0.0.1 alone although the site listens on every address", () => {
    expect(inspector).toBeGreaterThan(0)
    expect(listeningOn(inspector)).toEqual([`127.0.0.1:${inspector}`])
    expect(listeningOn(site)).toEqual([`0.0.0.0:${site}`])
  })

  it("serves the page, a snapshot and the event stream; the site's port knows none of them", async () => {
    const page = await curlFetch(`http://127.0.0.1:${inspector}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(page.body.toString()).toContain("fiberhttp inspector")
    const snapshot = await curlFetch(`http://127.0.0.1:${inspector}/snapshot`)
    expect(JSON.parse(snapshot.body.toString()).servers[0].listeners[0].address).toBe(`0.0.0.0:${site}`)
    for (const reserved of ["/events", "/snapshot"]) {
      expect((await curlFetch(`http://127.0.0.1:${site}${reserved}`)).status).toBe(404)
    }
    // an open stream, cut by curl after two seconds: the snapshot, then a batch with a connection's
    // fork, one with its end and requests served (a request is no event: the counters say it)
    const stream = curl(["-N", "-i", "--max-time", "2", `http://127.0.0.1:${inspector}/events`])
    await new Promise((resolve) => setTimeout(resolve, 700))
    await curl(["-o", "/dev/null", `http://127.0.0.1:${site}/`, `http://127.0.0.1:${site}/`])
    const text = (await stream).stdout.toString()
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(text.toLowerCase()).toContain("content-type: text/event-stream")
    expect(text).toContain("event: snapshot\ndata: {")
    expect(text).toMatch(/event: batch\ndata: \{"events":\[\{"time":"[^"]+","trace":"forked","connection":"c\d+"/)
    expect(text).toMatch(
      /"trace":"completed","connection":"c\d+","fiber":"#\d+","parent":"[^"]+","detail":"peer closed","served":2\}/
    )
    expect(text).not.toContain("request-begun")
  })
})

describe("--inspector's spellings", () => {
  it("--inspector=PORT sets the port; a bad one is a usage error", async () => {
    const taken = await startServer(root, ["--inspector=0", "--quiet"])
    try {
      expect(taken.stdout()).toMatch(/inspector: http:\/\/127\.0\.0\.1:\d+\//)
    } finally {
      await taken.stop()
    }
    const bad = await runServerToEnd(["0", "--root", root, "--inspector=70000"])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr + bad.stdout.toString()).toContain("--inspector must be a port from 0 to 65535")
  })
})

// End-to-end: content coding (precompressed siblings, on-the-fly br/gzip), checked with curl and the project's client.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { curlFetch, type DevServer, ensureBuilt, runClient, startServer } from "./devSupport.ts"

let dir = ""
let root = ""
let script = Buffer.alloc(0)
let bigText = Buffer.alloc(0)
let image = Buffer.alloc(0)
let precompressed = Buffer.alloc(0)

const decode = (coding: string | undefined, body: Buffer): Buffer =>
  coding === "br" ? zlib.brotliDecompressSync(body) : coding === "gzip" ? zlib.gunzipSync(body) : body

beforeAll(() => {
  ensureBuilt()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-e2e-compress-"))
  root = path.join(dir, "www")
  fs.mkdirSync(root)
  let js = ""
  for (let i = 0; js.length < 20 * 1024; i++) js += `export const value${i} = ${i * 7} // ${"ab".repeat(i % 13)}\n`
  script = Buffer.from(js)
  fs.writeFileSync(path.join(root, "app.js"), script)
  let text = ""
  for (let i = 0; text.length < 700 * 1024; i++) text += `line ${i}: ${(i * 2654435761 >>> 0).toString(36)}\n`
  bigText = Buffer.from(text)
  fs.writeFileSync(path.join(root, "big.txt"), bigText)
  fs.writeFileSync(path.join(root, "tiny.css"), "h1{color:teal}\n")
  image = Buffer.alloc(8 * 1024, 7)
  fs.writeFileSync(path.join(root, "photo.png"), image)
  // a precompressed pair: lib.js and lib.js.gz (made by gzip -9 of the same bytes, not by the server)
  fs.writeFileSync(path.join(root, "lib.js"), script)
  precompressed = zlib.gzipSync(script, { level: 9 })
  fs.writeFileSync(path.join(root, "lib.js.gz"), precompressed)
  // a stale sibling: older than its file, so ignored
  fs.writeFileSync(path.join(root, "stale.js"), script)
  fs.writeFileSync(path.join(root, "stale.js.gz"), zlib.gzipSync(Buffer.from("old content")))
  const past = new Date(Date.now() - 60_000)
  fs.utimesSync(path.join(root, "stale.js.gz"), past, past)
  // files written just now are not kept compressed (they may change within the timestamp's tick): age them
  for (const name of ["app.js", "big.txt", "tiny.css", "photo.png", "lib.js"]) {
    const earlier = new Date(Date.now() - 30_000)
    fs.utimesSync(path.join(root, name), earlier, earlier)
  }
  fs.utimesSync(path.join(root, "lib.js.gz"), new Date(Date.now() - 20_000), new Date(Date.now() - 20_000))
}, 60_000)

afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

describe("compression on the fly (the default)", () => {
  let server: DevServer
  let url = ""

  beforeAll(async () => {
    server = await startServer(root, ["--quiet"])
    url = `http://127.0.0.1:${server.port}`
  }, 30_000)

  afterAll(async () => {
    await server.stop()
  })

  it("br and gzip as the client asks, each decoding to the file, with Vary and an ETag per coding", async () => {
    const identity = await curlFetch(`${url}/app.js`)
    expect(identity.headers.get("content-encoding")).toBeUndefined()
    expect(identity.headers.get("vary")).toBe("Accept-Encoding")
    expect(identity.body.equals(script)).toBe(true)
    const etags = new Set([identity.headers.get("etag")])
    for (const coding of ["br", "gzip"]) {
      const coded = await curlFetch(`${url}/app.js`, ["-H", `Accept-Encoding: ${coding}`])
      expect(coded.status).toBe(200)
      expect(coded.headers.get("content-encoding")).toBe(coding)
      expect(coded.headers.get("vary")).toBe("Accept-Encoding")
      expect(coded.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
      expect(Number(coded.headers.get("content-length"))).toBe(coded.body.length)
      expect(coded.body.length).toBeLessThan(script.length / 3)
      expect(decode(coding, coded.body).equals(script)).toBe(true)
      etags.add(coded.headers.get("etag"))
    }
    expect(etags.size).toBe(3)
    // curl's own decoding agrees
    expect((await curlFetch(`${url}/app.js`, ["--compressed"])).body.equals(script)).toBe(true)
  })

  it("q-values decide, identity;q=0 is respected, and a coding at q=0 is never sent", async () => {
    const gz = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: br;q=0.2, gzip;q=0.9"])
    expect(gz.headers.get("content-encoding")).toBe("gzip")
    const br = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: gzip;q=0, br"])
    expect(br.headers.get("content-encoding")).toBe("br")
    const onlyCoded = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: identity;q=0, gzip"])
    expect(onlyCoded.headers.get("content-encoding")).toBe("gzip")
    const none = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: br;q=0, gzip;q=0"])
    expect(none.headers.get("content-encoding")).toBeUndefined()
    expect(none.body.equals(script)).toBe(true)
  })

  it("revalidation: the coded ETag gives 304 with that ETag; the identity one does not match the coded form", async () => {
    const coded = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: br"])
    const etag = coded.headers.get("etag")!
    const again = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: br", "-H", `If-None-Match: ${etag}`])
    expect(again.status).toBe(304)
    expect(again.headers.get("etag")).toBe(etag)
    expect(again.headers.get("vary")).toBe("Accept-Encoding")
    const identityTag = (await curlFetch(`${url}/app.js`)).headers.get("etag")!
    const other = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: br", "-H", `If-None-Match: ${identityTag}`])
    expect(other.status).toBe(200)
    expect(decode("br", other.body).equals(script)).toBe(true)
  })

  it("HEAD announces the coded length; ranges, small files and images are served identity", async () => {
    const head = await curlFetch(`${url}/app.js`, ["-I", "-H", "Accept-Encoding: gzip"])
    const get = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: gzip"])
    expect(head.headers.get("content-encoding")).toBe("gzip")
    expect(head.headers.get("content-length")).toBe(String(get.body.length))
    const part = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: br, gzip", "-r", "100-199"])
    expect(part.status).toBe(206)
    expect(part.headers.get("content-encoding")).toBeUndefined()
    expect(part.body.equals(script.subarray(100, 200))).toBe(true)
    const tiny = await curlFetch(`${url}/tiny.css`, ["-H", "Accept-Encoding: br, gzip"])
    expect(tiny.headers.get("content-encoding")).toBeUndefined()
    expect(tiny.body.toString()).toBe("h1{color:teal}\n")
    const png = await curlFetch(`${url}/photo.png`, ["-H", "Accept-Encoding: br, gzip"])
    expect(png.headers.get("content-encoding")).toBeUndefined()
    expect(png.headers.get("vary")).toBeUndefined()
    expect(png.body.equals(image)).toBe(true)
  })

  it("a large text file is compressed as it streams, chunked for HTTP/1.1 and until close for HTTP/1.0", async () => {
    for (const coding of ["br", "gzip"]) {
      const coded = await curlFetch(`${url}/big.txt`, ["-H", `Accept-Encoding: ${coding}`])
      expect(coded.status).toBe(200)
      expect(coded.headers.get("transfer-encoding")).toBe("chunked")
      expect(coded.headers.get("content-length")).toBeUndefined()
      expect(coded.headers.get("content-encoding")).toBe(coding)
      expect(decode(coding, coded.body).equals(bigText)).toBe(true)
    }
    const old = await curlFetch(`${url}/big.txt`, ["--http1.0", "-H", "Accept-Encoding: gzip"])
    expect(old.headers.get("transfer-encoding")).toBeUndefined()
    expect(old.headers.get("connection")).toBe("close")
    expect(decode("gzip", old.body).equals(bigText)).toBe(true)
  })

  it("the project's client: the coded bytes as sent decode to the file, and --compressed decodes them", async () => {
    const out = path.join(dir, "client-app.js.gz")
    const raw = await runClient(["-H", "Accept-Encoding: gzip", "-o", out, `${url}/app.js`])
    expect(raw.code).toBe(0)
    expect(zlib.gunzipSync(fs.readFileSync(out)).equals(script)).toBe(true)
    const head = await runClient(["-I", "-H", "Accept-Encoding: br", `${url}/app.js`])
    expect(head.stdout.toString()).toMatch(/\r\nContent-Encoding: br\r\n/)
    const decoded = await runClient(["--compressed", "-b", `${url}/app.js`])
    expect(decoded.code).toBe(0)
    expect(decoded.stdout.equals(script)).toBe(true)
  })
})

describe("precompressed siblings", () => {
  let server: DevServer
  let url = ""

  beforeAll(async () => {
    server = await startServer(root, ["--quiet", "--no-compress"])
    url = `http://127.0.0.1:${server.port}`
  }, 30_000)

  afterAll(async () => {
    await server.stop()
  })

  it("NAME.gz is served for NAME with the file's type, its own ETag, even with --no-compress", async () => {
    const coded = await curlFetch(`${url}/lib.js`, ["-H", "Accept-Encoding: gzip, br"])
    expect(coded.headers.get("content-encoding")).toBe("gzip")
    expect(coded.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(coded.headers.get("vary")).toBe("Accept-Encoding")
    expect(coded.body.equals(precompressed)).toBe(true)
    const identity = await curlFetch(`${url}/lib.js`)
    expect(identity.body.equals(script)).toBe(true)
    expect(identity.headers.get("etag")).not.toBe(coded.headers.get("etag"))
    const revalidated = await curlFetch(`${url}/lib.js`, [
      "-H",
      "Accept-Encoding: gzip",
      "-H",
      `If-None-Match: ${coded.headers.get("etag")}`
    ])
    expect(revalidated.status).toBe(304)
    // --no-compress: no coding made on the fly
    const plain = await curlFetch(`${url}/app.js`, ["-H", "Accept-Encoding: gzip, br"])
    expect(plain.headers.get("content-encoding")).toBeUndefined()
    expect(plain.body.equals(script)).toBe(true)
  })

  it("ranges apply to the coded bytes", async () => {
    const part = await curlFetch(`${url}/lib.js`, ["-H", "Accept-Encoding: gzip", "-r", "10-99"])
    expect(part.status).toBe(206)
    expect(part.headers.get("content-encoding")).toBe("gzip")
    expect(part.headers.get("content-range")).toBe(`bytes 10-99/${precompressed.length}`)
    expect(part.body.equals(precompressed.subarray(10, 100))).toBe(true)
  })

  it("a sibling older than its file, or a coding the client refuses, is not used", async () => {
    const stale = await curlFetch(`${url}/stale.js`, ["-H", "Accept-Encoding: gzip"])
    expect(stale.headers.get("content-encoding")).toBeUndefined()
    expect(stale.body.equals(script)).toBe(true)
    const refused = await curlFetch(`${url}/lib.js`, ["-H", "Accept-Encoding: gzip;q=0, br"])
    expect(refused.headers.get("content-encoding")).toBeUndefined()
    expect(refused.body.equals(script)).toBe(true)
  })
})

import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Stream, TestClock } from "effect"
import { chunkSize, FileError, StaticFiles } from "../../src/files/StaticFiles.ts"
import * as StaticFilesLayer from "../../src/files/StaticFilesLayer.ts"
import { formatHttpDate } from "../../src/http/date.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import * as StaticHandler from "../../src/server/StaticHandler.ts"
import { bigContent, bigSize, bodyOf, NodeFs, request, sameBytes, siteLayer, siteRoot, textOf } from "./fixtures.ts"

const logOptions = { format: "text", quiet: false, trace: false } as const

/** A handler over a temporary site that lives as long as the test's scope. */
const handlerWith = (options: StaticHandler.StaticOptions) =>
  Effect.flatMap(
    Layer.build(Layer.merge(siteLayer, AccessLog.memory(logOptions).layer)),
    (context) => Effect.provide(StaticHandler.make(options), context)
  )

const plain = { listing: false, dotfiles: false }

describe("StaticHandler", () => {
  it.scoped("serves a file with type, length, validators and ranges advertised", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      const response = yield* handle(request("GET", "/hello.txt?x=1"))
      expect(response.status).toBe(200)
      expect(response.headers.get("Content-Type")).toBe("text/plain; charset=utf-8")
      expect(response.headers.get("Accept-Ranges")).toBe("bytes")
      expect(response.headers.get("ETag")).toMatch(/^"c-[0-9a-f]+"$/)
      expect(response.headers.get("Last-Modified")).toMatch(/ GMT$/)
      expect(yield* textOf(response)).toBe("hello world\n")
      const css = yield* handle(request("GET", "/style.css"))
      expect(css.headers.get("Content-Type")).toBe("text/css; charset=utf-8")
    }))

  it.scoped("applies the index rule and takes the path of an absolute-form target", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      expect(yield* textOf(yield* handle(request("GET", "/")))).toBe("<h1>home</h1>\n")
      expect(yield* textOf(yield* handle(request("GET", "/docs/")))).toBe("docs home\n")
      expect(yield* textOf(yield* handle(request("GET", "http://localhost:8080/hello.txt?q")))).toBe("hello world\n")
      expect(yield* textOf(yield* handle(request("GET", "http://localhost")))).toBe("<h1>home</h1>\n")
    }))

  it.scoped("redirects a directory without its slash, keeping the query", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      const response = yield* handle(request("GET", "/docs?a=1"))
      expect(response.status).toBe(301)
      expect(response.headers.get("Location")).toBe("/docs/?a=1")
    }))

  it.scoped("404 for missing files, dotfiles (unless asked) and directories without index or listing", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      expect((yield* handle(request("GET", "/nope.txt"))).status).toBe(404)
      expect((yield* handle(request("GET", "/.secret"))).status).toBe(404)
      expect((yield* handle(request("GET", "/files/"))).status).toBe(404)
      const dotted = yield* handlerWith({ listing: false, dotfiles: true })
      expect(yield* textOf(yield* dotted(request("GET", "/.secret")))).toBe("dotfile\n")
    }))

  it.scoped("never leaves the root, whatever the encoding", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      for (
        const target of [
          "/../etc/passwd",
          "/%2e%2e/%2e%2e/etc/passwd",
          "/..%2fetc%2fpasswd",
          "/%252e%252e/etc",
          "/..\\..\\etc",
          "//etc/passwd"
        ]
      ) {
        const response = yield* handle(request("GET", target))
        expect([400, 404], target).toContain(response.status)
      }
      expect((yield* handle(request("GET", "/%ff%fe"))).status).toBe(400)
      expect((yield* handle(request("GET", "/a%00b"))).status).toBe(400)
    }))

  it.scoped("lists a directory with escaped, sorted names when --listing", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith({ listing: true, dotfiles: false })
      const response = yield* handle(request("GET", "/files/"))
      expect(response.status).toBe(200)
      expect(response.headers.get("Content-Type")).toBe("text/html; charset=utf-8")
      const html = yield* textOf(response)
      expect(html).toContain("Index of /files/")
      expect(html).toContain("&lt;b&gt;&amp;&quot;x&quot;.txt")
      expect(html).not.toContain("<b>&")
      expect(html).toContain("href=\"sub%20dir/\"")
      expect(html).toContain("href=\"../\"")
      // directories first, then files by name
      expect(html.indexOf("sub dir/")).toBeLessThan(html.indexOf("&lt;b&gt;"))
      expect(html.indexOf("&lt;b&gt;")).toBeLessThan(html.indexOf(">a.txt<"))
      // sizes and modification dates
      expect(html).toMatch(/>a\.txt<\/a><\/td><td title="2 bytes">2 B<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d<\/td>/)
    }))

  it.scoped("304 for a matching If-None-Match or a fresh If-Modified-Since", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      const first = yield* handle(request("GET", "/hello.txt"))
      const etag = first.headers.get("ETag")!
      const lastModified = first.headers.get("Last-Modified")!
      const byTag = yield* handle(request("GET", "/hello.txt", { "If-None-Match": `"other", W/${etag}` }))
      expect(byTag.status).toBe(304)
      expect(byTag.headers.get("ETag")).toBe(etag)
      expect(byTag.body._tag).toBe("Empty")
      expect((yield* handle(request("GET", "/hello.txt", { "If-None-Match": "*" }))).status).toBe(304)
      expect((yield* handle(request("GET", "/hello.txt", { "If-None-Match": "\"other\"" }))).status).toBe(200)
      // list elements are separated by SP/HTAB OWS only, not by any Unicode space
      expect((yield* handle(request("GET", "/hello.txt", { "If-None-Match": `"other",\t${etag}` }))).status).toBe(304)
      expect((yield* handle(request("GET", "/hello.txt", { "If-None-Match": `"other",\u00a0${etag}` }))).status).toBe(
        200
      )
      expect((yield* handle(request("HEAD", "/hello.txt", { "If-Modified-Since": lastModified }))).status).toBe(304)
      const older = formatHttpDate(Date.parse(lastModified) - 60_000)
      expect((yield* handle(request("GET", "/hello.txt", { "If-Modified-Since": older }))).status).toBe(200)
      // If-None-Match wins over If-Modified-Since
      expect(
        (yield* handle(
          request("GET", "/hello.txt", { "If-None-Match": "\"other\"", "If-Modified-Since": lastModified })
        ))
          .status
      ).toBe(200)
      expect((yield* handle(request("GET", "/hello.txt", { "If-Modified-Since": "yesterday" }))).status).toBe(200)
    }))

  it.scoped("a kept file's HEAD and 304 are answered at once, each by one response object", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      // before the bytes are kept, HEAD reads nothing: a body of the file's length, never pulled
      const cold = yield* handle(request("HEAD", "/hello.txt"))
      expect(cold.status).toBe(200)
      expect(cold.body._tag === "Stream" ? cold.body.length : undefined).toBe(12)
      const get = yield* handle(request("GET", "/hello.txt"))
      const heads = [handle(request("HEAD", "/hello.txt")), handle(request("HEAD", "/hello.txt"))]
      for (const answer of heads) {
        expect(Exit.isExit(answer)).toBe(true)
        // the GET's own response: the connection leaves its body out for HEAD
        expect(yield* answer).toBe(get)
      }
      const etag = get.headers.get("ETag")!
      const lastModified = get.headers.get("Last-Modified")!
      const revalidations = [
        handle(request("GET", "/hello.txt", { "If-None-Match": etag })),
        handle(request("GET", "/hello.txt", { "If-Modified-Since": lastModified })),
        handle(request("HEAD", "/hello.txt", { "If-None-Match": etag }))
      ]
      const first = yield* revalidations[0]!
      expect(first.status).toBe(304)
      expect(first.headers.entries).toEqual([["Last-Modified", lastModified], ["ETag", etag]])
      for (const answer of revalidations) {
        expect(Exit.isExit(answer)).toBe(true)
        expect(yield* answer).toBe(first)
      }
    }))

  it.scoped("206 for one range, 416 when unsatisfiable, 200 for several", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      const part = yield* handle(request("GET", "/big.bin", { Range: "bytes=100000-100099" }))
      expect(part.status).toBe(206)
      expect(part.headers.get("Content-Range")).toBe(`bytes 100000-100099/${bigSize}`)
      expect(sameBytes(yield* bodyOf(part), bigContent.subarray(100000, 100100))).toBe(true)
      const suffix = yield* handle(request("GET", "/big.bin", { Range: "bytes=-10" }))
      expect(suffix.headers.get("Content-Range")).toBe(`bytes ${bigSize - 10}-${bigSize - 1}/${bigSize}`)
      expect(sameBytes(yield* bodyOf(suffix), bigContent.subarray(bigSize - 10))).toBe(true)
      const tail = yield* handle(request("GET", "/hello.txt", { Range: "bytes=6-" }))
      expect(yield* textOf(tail)).toBe("world\n")
      const beyond = yield* handle(request("GET", "/hello.txt", { Range: "bytes=500-600" }))
      expect(beyond.status).toBe(416)
      expect(beyond.headers.get("Content-Range")).toBe("bytes */12")
      const several = yield* handle(request("GET", "/hello.txt", { Range: "bytes=0-1,4-5" }))
      expect(several.status).toBe(200)
      expect(yield* textOf(several)).toBe("hello world\n")
      const whole = yield* handle(request("GET", "/big.bin"))
      expect(sameBytes(yield* bodyOf(whole), bigContent)).toBe(true)
    }))

  it.scoped("If-Range: the range applies only while the validator still matches", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      const etag = (yield* handle(request("GET", "/hello.txt"))).headers.get("ETag")!
      expect((yield* handle(request("GET", "/hello.txt", { Range: "bytes=0-4", "If-Range": etag }))).status).toBe(206)
      expect((yield* handle(request("GET", "/hello.txt", { Range: "bytes=0-4", "If-Range": "\"old\"" }))).status).toBe(
        200
      )
    }))

  it.scoped("bodies of up to chunkSize (512 KiB) are read whole, larger ones streamed: same bytes and headers either side", () =>
    Effect.gen(function*() {
      const root = yield* siteRoot.pipe(Effect.provide(NodeFs))
      yield* Effect.forEach(
        [chunkSize - 1, chunkSize, chunkSize + 1],
        (size) =>
          Effect.flatMap(
            FileSystem.FileSystem,
            (fs) => fs.writeFile(`${root}/f${size}.bin`, bigContent.subarray(0, size))
          )
      )
        .pipe(Effect.provide(NodeFs))
      const handle = yield* StaticHandler.make(plain).pipe(
        Effect.provide(
          Layer.merge(
            StaticFilesLayer.layer(root).pipe(Layer.provide(NodeFs), Layer.orDie),
            AccessLog.memory(logOptions).layer
          )
        )
      )
      for (const size of [chunkSize - 1, chunkSize, chunkSize + 1]) {
        const response = yield* handle(request("GET", `/f${size}.bin`))
        expect(response.body._tag, `${size}`).toBe(size <= chunkSize ? "Bytes" : "Stream")
        expect(sameBytes(yield* bodyOf(response), bigContent.subarray(0, size))).toBe(true)
        expect(response.headers.get("Content-Type")).toBe("application/octet-stream")
        // HEAD after the GET: a file kept whole answers with the GET's response, a larger one reads nothing
        const head = yield* handle(request("HEAD", `/f${size}.bin`))
        expect(head.body._tag).toBe(size <= chunkSize ? "Bytes" : "Stream")
        const length = head.body._tag === "Stream"
          ? head.body.length
          : head.body._tag === "Bytes"
          ? head.body.bytes.length
          : 0
        expect(length).toBe(size)
        expect(head.headers.entries).toEqual(response.headers.entries)
      }
      // ranges of one byte less, exactly, and one more than a chunk, at the start, inside and at the end
      for (const length of [chunkSize - 1, chunkSize, chunkSize + 1]) {
        for (const start of [0, 1000, bigSize - length]) {
          const end = start + length - 1
          const response = yield* handle(request("GET", "/big.bin", { Range: `bytes=${start}-${end}` }))
          expect(response.status).toBe(206)
          expect(response.body._tag, `${start}-${end}`).toBe(length <= chunkSize ? "Bytes" : "Stream")
          expect(response.headers.get("Content-Range")).toBe(`bytes ${start}-${end}/${bigSize}`)
          expect(sameBytes(yield* bodyOf(response), bigContent.subarray(start, end + 1))).toBe(true)
        }
      }
    }))

  it.scoped("methods: 405 with Allow, OPTIONS 204, unknown 501", () =>
    Effect.gen(function*() {
      const handle = yield* handlerWith(plain)
      for (const method of ["POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT"]) {
        const response = yield* handle(request(method, "/hello.txt"))
        expect(response.status, method).toBe(405)
        expect(response.headers.get("Allow")).toBe("GET, HEAD, OPTIONS")
      }
      const options = yield* handle(request("OPTIONS", "*"))
      expect(options.status).toBe(204)
      expect(options.headers.get("Allow")).toBe("GET, HEAD, OPTIONS")
      expect((yield* handle(request("BREW", "/"))).status).toBe(501)
      expect((yield* handle(request("GET", "*"))).status).toBe(400)
    }))
})

describe("StaticHandler over a failing file system", () => {
  const entry = { path: "/srv/x.txt", size: 3, mtime: new Date(0), ino: 1 }
  const failing = (lookup: StaticFiles["Type"]["lookup"]) =>
    Layer.succeed(StaticFiles, {
      root: "/srv",
      lookup,
      read: () => Effect.fail(new FileError({ reason: "Failed", path: entry.path, message: "EIO" })),
      stream: () => Stream.fail(new FileError({ reason: "Failed", path: entry.path, message: "EIO" })),
      list: () => Effect.succeed([])
    })

  it.effect("EACCES (Forbidden) is 403, logged to stderr once per file per minute, whatever the spelling", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory(logOptions)
      const handle = yield* StaticHandler.make(plain).pipe(
        Effect.provide(Layer.merge(failing(() => Effect.succeed({ _tag: "Forbidden" })), log.layer))
      )
      expect((yield* handle(request("GET", "/d/x.txt"))).status).toBe(403)
      expect(log.err).toEqual(["error: permission denied, answering 403: /d/x.txt (under /srv)"])
      for (const target of ["/d/x.txt", "//d/./x.txt?q", "/d/%78.txt", "/e/../d/x.txt"]) {
        expect((yield* handle(request("GET", target))).status).toBe(403)
      }
      yield* TestClock.adjust(Duration.seconds(59))
      expect((yield* handle(request("HEAD", "/d/x.txt"))).status).toBe(403)
      expect(log.err).toHaveLength(1)
      // another file is another line
      yield* handle(request("GET", "/d/y.txt"))
      expect(log.err).toHaveLength(2)
      expect(log.err[1]).toContain("/d/y.txt")
      yield* TestClock.adjust(Duration.seconds(1))
      yield* handle(request("GET", "/d/x.txt"))
      expect(log.err).toHaveLength(3)
      expect(log.err[2]).toContain("/d/x.txt")
    }))

  it.effect("many unreadable names at once (under an unreadable directory): a bounded log, said once", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory(logOptions)
      const handle = yield* StaticHandler.make(plain).pipe(
        Effect.provide(Layer.merge(failing(() => Effect.succeed({ _tag: "Forbidden" })), log.layer))
      )
      const max = StaticHandler.DENIED_LOG_MAX_FILES
      for (let i = 0; i < max * 3; i++) {
        expect((yield* handle(request("GET", `/locked/${i}`))).status).toBe(403)
      }
      expect(log.err).toHaveLength(max + 1)
      expect(log.err[max]).toContain(`permission denied on more than ${max} files within a minute`)
      yield* TestClock.adjust(Duration.millis(StaticHandler.DENIED_LOG_PERIOD_MS))
      yield* handle(request("GET", `/locked/${max * 3}`))
      expect(log.err).toHaveLength(max + 2)
    }))

  it.effect("a read refused after the lookup found the file (EACCES by access control) is still 403", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory(logOptions)
      const files = Layer.succeed(StaticFiles, {
        root: "/srv",
        lookup: () => Effect.succeed({ _tag: "File", file: entry }),
        read: () => Effect.fail(new FileError({ reason: "Denied", path: entry.path, message: "permission denied" })),
        stream: () => Stream.fail(new FileError({ reason: "Denied", path: entry.path, message: "permission denied" })),
        list: () => Effect.succeed([])
      })
      const handle = yield* StaticHandler.make(plain).pipe(Effect.provide(Layer.merge(files, log.layer)))
      expect((yield* handle(request("GET", "/x.txt"))).status).toBe(403)
      expect((yield* handle(request("GET", "/x.txt"))).status).toBe(403)
      expect(log.err).toEqual([`error: permission denied, answering 403: ${entry.path}`])
    }))

  it.effect("an unexpected failure is 500, logged once with its cause", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory(logOptions)
      const handle = yield* StaticHandler.make(plain).pipe(
        Effect.provide(
          Layer.merge(
            failing(() =>
              Effect.fail(new FileError({ reason: "Failed", path: "/srv/x.txt", message: "I/O error (EIO)" }))
            ),
            log.layer
          )
        )
      )
      const response = yield* handle(request("GET", "/x.txt"))
      expect(response.status).toBe(500)
      expect(log.err).toHaveLength(1)
      expect(log.err[0]).toContain("I/O error (EIO)")
    }))
})

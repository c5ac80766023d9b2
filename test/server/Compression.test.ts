import { FileSystem, Path } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as StaticFilesLayer from "../../src/files/StaticFilesLayer.ts"
import { chooseCoding } from "../../src/http/acceptEncoding.ts"
import type { RequestHead } from "../../src/http/message.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import { codedEtag, compressibleType, wrap } from "../../src/server/Compression.ts"
import * as StaticHandler from "../../src/server/StaticHandler.ts"
import { NodeFs, request } from "./fixtures.ts"

const get = (target: string, headers: Record<string, string> = {}): RequestHead => request("GET", target, headers)

/** A root with an aged 4 KiB script (a file changed within the last second is not kept compressed). */
const handlerOverSite = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "fiberhttp-compress-" })
  yield* fs.writeFileString(path.join(root, "app.js"), "export const x = 1;\n".repeat(200))
  const past = new Date(Date.now() - 60_000)
  yield* fs.utimes(path.join(root, "app.js"), past, past)
  const layer = Layer.mergeAll(
    StaticFilesLayer.layer(root).pipe(Layer.provide(NodeFs)),
    AccessLog.memory({ format: "text", quiet: true, trace: false }).layer
  )
  return yield* Effect.gen(function*() {
    const inner = yield* StaticHandler.make({ listing: false, dotfiles: false })
    return yield* wrap(inner, { onTheFly: true, dotfiles: false, cacheBytes: 1024 * 1024, htmlSiblings: true })
  }).pipe(Effect.provide(layer))
}).pipe(Effect.provide(NodeFs))

describe("Compression", () => {
  it.scoped("a hot file is compressed once: later requests get the kept bytes", () =>
    Effect.gen(function*() {
      const handler = yield* handlerOverSite
      const first = yield* handler(get("/app.js", { "Accept-Encoding": "br" }))
      const second = yield* handler(get("/app.js", { "Accept-Encoding": "br" }))
      expect(first.headers.get("Content-Encoding")).toBe("br")
      expect(first.body._tag).toBe("Bytes")
      // the very same buffer: no second compression
      expect(first.body._tag === "Bytes" && second.body._tag === "Bytes" && first.body.bytes === second.body.bytes)
        .toBe(true)
      const gzip = yield* handler(get("/app.js", { "Accept-Encoding": "gzip" }))
      expect(gzip.headers.get("Content-Encoding")).toBe("gzip")
      expect(gzip.headers.get("ETag")).toBe(codedEtag(first.headers.get("ETag")!.replace(/-br"$/, "\""), "gzip"))
    }))

  it.scoped("a kept coded copy is answered at once, by one response object per coding; its 304 too", () =>
    Effect.gen(function*() {
      const handler = yield* handlerOverSite
      // the first request compresses (on the thread pool): not at once
      const first = handler(get("/app.js", { "Accept-Encoding": "br" }))
      expect(Exit.isExit(first)).toBe(false)
      const coded = yield* first
      for (const accept of ["br", "gzip, br", "br;q=1, gzip;q=0.5"]) {
        const again = handler(get("/app.js", { "Accept-Encoding": accept }))
        expect(Exit.isExit(again), accept).toBe(true)
        expect(yield* again).toBe(coded)
      }
      // HEAD: the same answer (its Content-Length is the coded length; the connection sends no body)
      const head = handler(request("HEAD", "/app.js", { "Accept-Encoding": "br" }))
      expect(Exit.isExit(head)).toBe(true)
      expect(yield* head).toBe(coded)
      const etag = coded.headers.get("ETag")!
      const revalidations = [0, 1].map(() =>
        handler(get("/app.js", { "Accept-Encoding": "br", "If-None-Match": etag }))
      )
      const notModified = yield* revalidations[0]!
      expect(notModified.status).toBe(304)
      expect(notModified.headers.get("ETag")).toBe(etag)
      for (const answer of revalidations) {
        expect(Exit.isExit(answer)).toBe(true)
        expect(yield* answer).toBe(notModified)
      }
      // the identity tag does not revalidate the coded copy
      const identityTag = etag.replace(/-br"$/, "\"")
      expect((yield* handler(get("/app.js", { "Accept-Encoding": "br", "If-None-Match": identityTag }))).status).toBe(
        200
      )
    }))

  it("types: text and structured formats compress, images and archives do not", () => {
    for (
      const t of ["text/css; charset=utf-8", "text/javascript", "application/json", "image/svg+xml", "application/wasm"]
    ) {
      expect(compressibleType(t), t).toBe(true)
    }
    for (const t of ["image/png", "image/jpeg", "video/mp4", "application/zip", "font/woff2", "application/gzip"]) {
      expect(compressibleType(t), t).toBe(false)
    }
  })

  it("an unusable Accept-Encoding leaves identity", () => {
    expect(chooseCoding("br;q=abc", ["br", "gzip"])).toBe("identity")
  })

  // RFC 9110 section 15.4.5: a 304 carries the Vary its 200 would have carried
  it.scoped("a 304 varies on Accept-Encoding wherever its 200 does, identity or coded", () =>
    Effect.gen(function*() {
      const handler = yield* handlerOverSite
      const cases: ReadonlyArray<Record<string, string>> = [{}, { "Accept-Encoding": "br" }, {
        "Accept-Encoding": "gzip",
        Range: "bytes=0-9"
      }]
      for (const accept of cases) {
        const ok = yield* handler(get("/app.js", accept))
        expect(ok.headers.get("Vary"), JSON.stringify(accept)).toBe("Accept-Encoding")
        const etag = ok.headers.get("ETag")!
        for (
          const condition of [{ "If-None-Match": etag }, { "If-Modified-Since": ok.headers.get("Last-Modified")! }]
        ) {
          const revalidated = yield* handler(get("/app.js", { ...accept, ...condition }))
          expect(revalidated.status, JSON.stringify([accept, condition])).toBe(304)
          expect(revalidated.headers.get("Vary"), JSON.stringify([accept, condition])).toBe("Accept-Encoding")
        }
      }
    }))
})

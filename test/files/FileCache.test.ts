import { Path } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream, TestClock } from "effect"
import * as NFS from "node:fs"
import * as NPath from "node:path"
import { RESOLVE_AGAIN_MS, SETTLE_MS } from "../../src/files/CachedLookup.ts"
import { FileCache } from "../../src/files/FileCache.ts"
import * as MemoryFileAccess from "../../src/files/MemoryFileAccess.ts"
import { chunkSize, type FileEntry, type Lookup, type StaticFiles } from "../../src/files/StaticFiles.ts"
import * as StaticFilesLayer from "../../src/files/StaticFilesLayer.ts"
import { nodeTree, TreeOps } from "./trees.ts"

const hidden = { dotfiles: false }
const decoder = new TextDecoder()

const fileOf = (lookup: Lookup): FileEntry => {
  if (lookup._tag !== "File") throw new Error(`expected a File, got ${lookup._tag}`)
  return lookup.file
}

describe("FileCache (bookkeeping)", () => {
  const entry = (name: string, size: number) => {
    const file: FileEntry = { path: `/srv/${name}`, size, mtime: new Date(0), ino: 1 }
    return {
      candidate: file.path,
      stamp: name,
      lookup: { _tag: "File", file } as const,
      resolvedAt: 0,
      bytes: undefined
    }
  }

  it("keeps content only for a remembered entry, of the right size, within the per-file bound", () => {
    const cache = new FileCache({ maxBytes: 100, maxFileBytes: 40, maxEntries: 10 })
    const a = entry("a", 10)
    const stranger: FileEntry = { path: "/srv/x", size: 10, mtime: new Date(0), ino: 2 }
    cache.remember("/a", a)
    cache.keep(stranger, new Uint8Array(10))
    expect(cache.bytesOf(stranger)).toBeUndefined()
    cache.keep(a.lookup.file, new Uint8Array(9))
    expect(cache.bytesOf(a.lookup.file)).toBeUndefined()
    cache.keep(a.lookup.file, new Uint8Array(10))
    expect(cache.bytesOf(a.lookup.file)?.length).toBe(10)
    const big = entry("big", 50)
    cache.remember("/big", big)
    cache.keep(big.lookup.file, new Uint8Array(50))
    expect(cache.bytesOf(big.lookup.file)).toBeUndefined()
    expect(cache.heldBytes).toBe(10)
  })

  it("evicts the oldest entries to stay within its byte and entry bounds", () => {
    const cache = new FileCache({ maxBytes: 100, maxFileBytes: 40, maxEntries: 3 })
    const entries = ["a", "b", "c", "d"].map((name) => entry(name, 40))
    for (const e of entries) {
      cache.remember(`/${e.stamp}`, e)
      cache.keep(e.lookup.file, new Uint8Array(40))
      expect(cache.heldBytes).toBeLessThanOrEqual(100)
    }
    // 4 x 40 bytes: only the last two fit in 100
    expect(cache.get("/a")).toBeUndefined()
    expect(cache.get("/b")).toBeUndefined()
    expect(cache.bytesOf(entries[3]!.lookup.file)?.length).toBe(40)
    expect(cache.heldBytes).toBe(80)
    for (let i = 0; i < 10; i++) cache.remember(`/e${i}`, entry(`e${i}`, 1))
    expect(cache.size).toBe(3)
    expect(cache.heldBytes).toBe(0)
  })

  it("forgetting an entry releases its bytes", () => {
    const cache = new FileCache({ maxBytes: 100, maxFileBytes: 40, maxEntries: 3 })
    const a = entry("a", 30)
    cache.remember("/a", a)
    cache.keep(a.lookup.file, new Uint8Array(30))
    cache.forget("/a")
    expect(cache.heldBytes).toBe(0)
    expect(cache.bytesOf(a.lookup.file)).toBeUndefined()
  })
})

/** Long before the test's clock starts: such files have settled (SETTLE_MS). */
const longAgo = -1_000_000

/** Runs `body` against StaticFiles over "/srv" on FileAccess in memory holding `files` (path: text). */
const inMemory = <A, E>(
  files: Record<string, string>,
  body: (service: StaticFiles["Type"], memory: MemoryFileAccess.MemoryFiles) => Effect.Effect<A, E>,
  options?: { readonly cacheBytes?: number }
) =>
  Effect.gen(function*() {
    const memory = yield* MemoryFileAccess.MemoryFileTree
    memory.makeDirectory("/srv")
    for (const [path, text] of Object.entries(files)) memory.writeFile(path, text, { mtimeMs: longAgo })
    const service = yield* StaticFilesLayer.make("/srv", options)
    memory.calls.length = 0
    return yield* body(service, memory)
  }).pipe(Effect.provide(Layer.merge(MemoryFileAccess.layer, Path.layer)))

describe("StaticFiles with its cache (file system in memory)", () => {
  const serve = (service: StaticFiles["Type"], rawPath: string) =>
    Effect.gen(function*() {
      const found = yield* service.lookup(rawPath, hidden)
      if (found._tag !== "File") return found._tag
      return decoder.decode(yield* service.read(found.file))
    })

  it.effect("a second request for a file costs one stat: no realpath, no read", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        expect(yield* serve(service, "/a.txt")).toBe("first")
        memory.calls.length = 0
        expect(yield* serve(service, "/a.txt")).toBe("first")
        expect(yield* serve(service, "/a.txt")).toBe("first")
        expect(memory.calls).toEqual(["stamp /srv/a.txt", "stamp /srv/a.txt"])
      })))

  it.effect("a file rewritten, replaced or removed is seen by the very next request", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        expect(yield* serve(service, "/a.txt")).toBe("first")
        memory.writeFile("/srv/a.txt", "second, longer", { mtimeMs: longAgo })
        expect(yield* serve(service, "/a.txt")).toBe("second, longer")
        // same size, same inode, same modification time: only the change time differs
        yield* TestClock.adjust(1)
        memory.writeFile("/srv/a.txt", "SECOND, LONGER", { mtimeMs: longAgo })
        expect(yield* serve(service, "/a.txt")).toBe("SECOND, LONGER")
        // replaced by a rename: a new inode
        memory.replace("/srv/a.txt", "THIRD, LONGER!", { mtimeMs: longAgo })
        expect(yield* serve(service, "/a.txt")).toBe("THIRD, LONGER!")
        memory.remove("/srv/a.txt")
        expect(yield* serve(service, "/a.txt")).toBe("NotFound")
        memory.writeFile("/srv/a.txt", "back")
        expect(yield* serve(service, "/a.txt")).toBe("back")
      })))

  it.effect(`the resolution is redone in full after ${RESOLVE_AGAIN_MS} ms, whatever the stamps say`, () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        yield* serve(service, "/a.txt")
        yield* TestClock.adjust(RESOLVE_AGAIN_MS - 1)
        memory.calls.length = 0
        yield* serve(service, "/a.txt")
        expect(memory.calls.some((call) => call.startsWith("realPath"))).toBe(false)
        yield* TestClock.adjust(1)
        memory.calls.length = 0
        yield* serve(service, "/a.txt")
        expect(memory.calls).toContain("realPath /srv/a.txt")
      })))

  it.effect("an index.html is cached, and one created beside an index.htm wins at once", () =>
    inMemory({ "/srv/d/index.htm": "htm", "/srv/index.html": "home" }, (service, memory) =>
      Effect.gen(function*() {
        expect(yield* serve(service, "/")).toBe("home")
        memory.calls.length = 0
        expect(yield* serve(service, "/")).toBe("home")
        expect(memory.calls).toEqual(["stamp /srv/index.html"])
        expect(yield* serve(service, "/d/")).toBe("htm")
        memory.writeFile("/srv/d/index.html", "html")
        expect(yield* serve(service, "/d/")).toBe("html")
      })))

  it.effect("with cacheBytes 0 every request resolves and reads in full", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        yield* serve(service, "/a.txt")
        memory.calls.length = 0
        yield* serve(service, "/a.txt")
        expect(memory.calls).toEqual(["realPath /srv/a.txt", "stat /srv/a.txt", "readSpan /srv/a.txt"])
      }), { cacheBytes: 0 }))

  it.effect("the spellings of one path share one entry", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        expect(yield* serve(service, "/a.txt")).toBe("first")
        memory.calls.length = 0
        for (const spelling of ["//a.txt", "/./a.txt", "/b/../a.txt", "/%61.txt"]) {
          expect(yield* serve(service, spelling)).toBe("first")
        }
        expect(memory.calls).toEqual(Array(4).fill("stamp /srv/a.txt"))
      })))

  it.effect(`the bytes of a file changed less than ${SETTLE_MS} ms ago are read again each time`, () =>
    inMemory({}, (service, memory) =>
      Effect.gen(function*() {
        yield* TestClock.adjust(10_500)
        memory.writeFile("/srv/a.txt", "fresh", { mtimeMs: 10_000 })
        expect(yield* serve(service, "/a.txt")).toBe("fresh")
        memory.calls.length = 0
        expect(yield* serve(service, "/a.txt")).toBe("fresh")
        expect(memory.calls).toEqual(["stamp /srv/a.txt", "readSpan /srv/a.txt"])
        yield* TestClock.adjust(SETTLE_MS)
        // settled now; the full resolution is due again too (RESOLVE_AGAIN_MS), then the bytes are kept
        yield* serve(service, "/a.txt")
        memory.calls.length = 0
        expect(yield* serve(service, "/a.txt")).toBe("fresh")
        expect(memory.calls).toEqual(["stamp /srv/a.txt"])
      })))

  it.effect("a file changed between its resolution and its first stamp is not remembered", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        memory.beforeNext("stamp", "/srv/a.txt", () => memory.replace("/srv/a.txt", "second", { mtimeMs: longAgo }))
        expect(yield* serve(service, "/a.txt")).toBe("secon")
        memory.calls.length = 0
        expect(yield* serve(service, "/a.txt")).toBe("second")
        expect(memory.calls).toContain("realPath /srv/a.txt")
      })))

  it.effect("a cached file whose stamp fails is resolved in full, and its failure answered", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        expect(yield* serve(service, "/a.txt")).toBe("first")
        memory.fail("stamp", "/srv/a.txt", "EIO", 1)
        expect(yield* serve(service, "/a.txt")).toBe("first")
        memory.fail("stat", "/srv/a.txt", "EACCES", 1)
        memory.fail("stamp", "/srv/a.txt", "EIO", 1)
        expect(yield* serve(service, "/a.txt")).toBe("Forbidden")
      })))

  it.effect("ranges of a cached file come from memory", () =>
    inMemory({ "/srv/a.txt": "0123456789" }, (service, memory) =>
      Effect.gen(function*() {
        const file = fileOf(yield* service.lookup("/a.txt", hidden))
        expect(decoder.decode(yield* service.read(file, { start: 2, end: 4 }))).toBe("234")
        memory.calls.length = 0
        const again = fileOf(yield* service.lookup("/a.txt", hidden))
        expect(decoder.decode(yield* service.read(again, { start: 7, end: 9 }))).toBe("789")
        expect(memory.calls).toEqual(["stamp /srv/a.txt"])
      })))
})

describe("StaticFiles with its cache: files above one read (file system in memory)", () => {
  /** A file of `size` bytes, each its offset modulo 251. */
  const content = (size: number) => Uint8Array.from({ length: size }, (_, i) => i % 251)
  const twoMB = 2_000_000
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0

  const streamed = (service: StaticFiles["Type"], file: FileEntry, range?: { start: number; end: number }) =>
    // each chunk copied as it comes: a stream from disk reuses its two buffers
    Effect.map(
      Stream.runCollect(Stream.map(service.stream(file, range, { reuseBuffer: true }), (c) => c.slice())),
      (chunks) => {
        const parts = Chunk.toReadonlyArray(chunks)
        const whole = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
        let at = 0
        for (const part of parts) {
          whole.set(part, at)
          at += part.length
        }
        return { whole, sizes: parts.map((part) => part.length) }
      }
    )

  it.effect("a 2 MB file is read whole once, then streamed from memory in chunks of at most chunkSize", () =>
    inMemory({}, (service, memory) =>
      Effect.gen(function*() {
        memory.writeFile("/srv/big.bin", content(twoMB), { mtimeMs: longAgo })
        const first = yield* streamed(service, fileOf(yield* service.lookup("/big.bin", hidden)))
        expect(same(first.whole, content(twoMB))).toBe(true)
        expect(memory.calls.filter((call) => !call.startsWith("stamp"))).toEqual([
          "realPath /srv/big.bin",
          "stat /srv/big.bin",
          "readSpan /srv/big.bin"
        ])
        memory.calls.length = 0
        const again = yield* streamed(service, fileOf(yield* service.lookup("/big.bin", hidden)), {
          start: 5,
          end: twoMB - 2
        })
        expect(same(again.whole, content(twoMB).subarray(5, twoMB - 1))).toBe(true)
        expect(again.sizes.every((size) => size <= chunkSize)).toBe(true)
        expect(memory.calls).toEqual(["stamp /srv/big.bin"])
      })))

  it.effect("a large file the cache would not keep (over a quarter of it) streams from disk every time", () =>
    inMemory({}, (service, memory) =>
      Effect.gen(function*() {
        memory.writeFile("/srv/big.bin", content(twoMB), { mtimeMs: longAgo })
        for (let i = 0; i < 2; i++) {
          memory.calls.length = 0
          const { whole } = yield* streamed(service, fileOf(yield* service.lookup("/big.bin", hidden)))
          expect(same(whole, content(twoMB))).toBe(true)
          expect(memory.calls.some((call) => call.startsWith("read "))).toBe(true)
          expect(memory.calls.some((call) => call.startsWith("readSpan"))).toBe(false)
        }
      }), { cacheBytes: 4 * 1024 * 1024 }))

  it.effect(`the bytes kept survive the full resolution redone every ${RESOLVE_AGAIN_MS} ms when the file is unchanged`, () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        const read = (file: FileEntry) => Effect.map(service.read(file), (bytes) => new TextDecoder().decode(bytes))
        expect(yield* read(fileOf(yield* service.lookup("/a.txt", hidden)))).toBe("first")
        yield* TestClock.adjust(RESOLVE_AGAIN_MS)
        memory.calls.length = 0
        expect(yield* read(fileOf(yield* service.lookup("/a.txt", hidden)))).toBe("first")
        expect(memory.calls).toContain("realPath /srv/a.txt")
        expect(memory.calls.some((call) => call.startsWith("readSpan"))).toBe(false)
        // changed: read again after the next full resolution
        yield* TestClock.adjust(RESOLVE_AGAIN_MS)
        memory.writeFile("/srv/a.txt", "other", { mtimeMs: longAgo })
        memory.calls.length = 0
        expect(yield* read(fileOf(yield* service.lookup("/a.txt", hidden)))).toBe("other")
        expect(memory.calls).toContain("readSpan /srv/a.txt")
      })))
})

describe("StaticFiles with its cache (real directory, node:fs)", () => {
  it.scoped("rewrites of the same size, renames over and symlink changes are served at once", () =>
    Effect.gen(function*() {
      const base = (yield* TreeOps).base
      const root = NPath.join(base, "root")
      NFS.mkdirSync(root)
      NFS.mkdirSync(NPath.join(base, "outside"))
      NFS.writeFileSync(NPath.join(base, "outside", "secret.txt"), "outside!")
      const at = (name: string) => NPath.join(root, name)
      const service = yield* StaticFilesLayer.make(root)
      const serve = (rawPath: string) =>
        Effect.gen(function*() {
          const found = yield* service.lookup(rawPath, hidden)
          return found._tag === "File" ? decoder.decode(yield* service.read(found.file)) : found._tag
        })
      // rewritten in place, same size, within the same millisecond as far as anyone can tell
      for (let i = 0; i < 50; i++) {
        NFS.writeFileSync(at("a.txt"), `version ${String(i).padStart(2, "0")}`)
        expect(yield* serve("/a.txt")).toBe(`version ${String(i).padStart(2, "0")}`)
        expect(yield* serve("/a.txt")).toBe(`version ${String(i).padStart(2, "0")}`)
      }
      // replaced by a rename
      NFS.writeFileSync(at("a.txt.tmp"), "renamed over")
      NFS.renameSync(at("a.txt.tmp"), at("a.txt"))
      expect(yield* serve("/a.txt")).toBe("renamed over")
      // a symlink retargeted: inside the root it follows, outside it is gone
      NFS.writeFileSync(at("b.txt"), "bee")
      NFS.writeFileSync(at("c.txt"), "sea")
      NFS.symlinkSync("b.txt", at("link.txt"))
      expect(yield* serve("/link.txt")).toBe("bee")
      NFS.unlinkSync(at("link.txt"))
      NFS.symlinkSync("c.txt", at("link.txt"))
      expect(yield* serve("/link.txt")).toBe("sea")
      NFS.unlinkSync(at("link.txt"))
      NFS.symlinkSync(NPath.join(base, "outside", "secret.txt"), at("link.txt"))
      expect(yield* serve("/link.txt")).toBe("NotFound")
      // removed
      NFS.unlinkSync(at("a.txt"))
      expect(yield* serve("/a.txt")).toBe("NotFound")
    }).pipe(Effect.provide(nodeTree)))
})

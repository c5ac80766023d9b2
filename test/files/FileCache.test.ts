import { FileSystem, Path } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NPath from "node:path"
import { FileCache } from "../../src/files/FileCache.ts"
import * as FileStamp from "../../src/files/FileStamp.ts"
import * as NodeFastPaths from "../../src/files/NodeFastPaths.ts"
import { type FileEntry, type Lookup, RESOLVE_AGAIN_MS, SETTLE_MS, StaticFiles } from "../../src/files/StaticFiles.ts"

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

/**
 * A file system in memory, where files can be rewritten between requests,
 * counting the calls that reach it. "/srv" is the root.
 */
const memoryFs = () => {
  const files = new Map<string, { bytes: Uint8Array; mtime: number; ino: number }>()
  const calls: Array<string> = []
  let nextIno = 1
  const put = (path: string, text: string, mtime = 1_000_000) =>
    void files.set(path, { bytes: new TextEncoder().encode(text), mtime, ino: nextIno++ })
  const missing = (method: string, path: string) =>
    Effect.fail(new SystemError({ reason: "NotFound", module: "FileSystem", method, pathOrDescriptor: path }))
  const isDirectory = (path: string) => path === "/srv" || [...files.keys()].some((name) => name.startsWith(path + "/"))
  const info = (path: string): FileSystem.File.Info | undefined => {
    const file = files.get(path)
    if (file === undefined && !isDirectory(path)) return undefined
    return {
      type: file === undefined ? "Directory" : "File",
      mtime: Option.some(new Date(file?.mtime ?? 0)),
      atime: Option.none(),
      birthtime: Option.none(),
      dev: 1,
      ino: Option.some(file?.ino ?? 0),
      mode: 0o644,
      nlink: Option.some(1),
      uid: Option.none(),
      gid: Option.none(),
      rdev: Option.none(),
      size: FileSystem.Size(file?.bytes.length ?? 0),
      blksize: Option.none(),
      blocks: Option.none()
    }
  }
  const layer = Layer.merge(
    FileSystem.layerNoop({
      realPath: (path) => {
        calls.push(`realPath ${path}`)
        return info(path) === undefined ? missing("realPath", path) : Effect.succeed(path)
      },
      stat: (path) => {
        calls.push(`stat ${path}`)
        const found = info(path)
        return found === undefined ? missing("stat", path) : Effect.succeed(found)
      },
      readFile: (path) => {
        calls.push(`readFile ${path}`)
        const file = files.get(path)
        return file === undefined ? missing("readFile", path) : Effect.succeed(file.bytes)
      }
    }),
    Path.layer
  )
  return { files, calls, put, layer }
}

/** Runs `body` against StaticFiles over "/srv" on a file system in memory holding `files` (path: text). */
const inMemory = <A, E>(
  files: Record<string, string>,
  body: (service: StaticFiles["Type"], memory: ReturnType<typeof memoryFs>) => Effect.Effect<A, E>,
  options?: { readonly cacheBytes?: number }
) => {
  const memory = memoryFs()
  for (const [path, text] of Object.entries(files)) memory.put(path, text)
  return Effect.flatMap(StaticFiles.make("/srv", options), (service) => body(service, memory)).pipe(
    Effect.provide(memory.layer)
  )
}

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
        expect(memory.calls).toEqual(["stat /srv/a.txt", "stat /srv/a.txt"])
      })))

  it.effect("a file rewritten, replaced or removed is seen by the very next request", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        expect(yield* serve(service, "/a.txt")).toBe("first")
        memory.put("/srv/a.txt", "second, longer", 1_000_000)
        expect(yield* serve(service, "/a.txt")).toBe("second, longer")
        // same size, same inode, only the modification time differs
        memory.files.get("/srv/a.txt")!.bytes = new TextEncoder().encode("SECOND, LONGER")
        memory.files.get("/srv/a.txt")!.mtime += 1
        expect(yield* serve(service, "/a.txt")).toBe("SECOND, LONGER")
        memory.files.delete("/srv/a.txt")
        expect(yield* serve(service, "/a.txt")).toBe("NotFound")
        memory.put("/srv/a.txt", "back")
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
        expect(memory.calls).toEqual(["stat /srv/index.html"])
        expect(yield* serve(service, "/d/")).toBe("htm")
        memory.put("/srv/d/index.html", "html")
        expect(yield* serve(service, "/d/")).toBe("html")
      })))

  it.effect("with cacheBytes 0 every request resolves and reads in full", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        yield* serve(service, "/a.txt")
        memory.calls.length = 0
        yield* serve(service, "/a.txt")
        expect(memory.calls).toEqual(["realPath /srv/a.txt", "stat /srv/a.txt", "readFile /srv/a.txt"])
      }), { cacheBytes: 0 }))

  it.effect("the spellings of one path share one entry", () =>
    inMemory({ "/srv/a.txt": "first" }, (service, memory) =>
      Effect.gen(function*() {
        expect(yield* serve(service, "/a.txt")).toBe("first")
        memory.calls.length = 0
        for (const spelling of ["//a.txt", "/./a.txt", "/b/../a.txt", "/%61.txt"]) {
          expect(yield* serve(service, spelling)).toBe("first")
        }
        expect(memory.calls).toEqual(Array(4).fill("stat /srv/a.txt"))
      })))

  it.effect(`the bytes of a file changed less than ${SETTLE_MS} ms ago are read again each time`, () => {
    const memory = memoryFs()
    memory.put("/srv/a.txt", "fresh", 10_000)
    return Effect.gen(function*() {
      yield* TestClock.adjust(10_500)
      const service = yield* StaticFiles.make("/srv")
      expect(yield* serve(service, "/a.txt")).toBe("fresh")
      memory.calls.length = 0
      expect(yield* serve(service, "/a.txt")).toBe("fresh")
      expect(memory.calls).toEqual(["stat /srv/a.txt", "readFile /srv/a.txt"])
      yield* TestClock.adjust(SETTLE_MS)
      // settled now; the full resolution is due again too (RESOLVE_AGAIN_MS), then the bytes are kept
      yield* serve(service, "/a.txt")
      memory.calls.length = 0
      expect(yield* serve(service, "/a.txt")).toBe("fresh")
      expect(memory.calls).toEqual(["stat /srv/a.txt"])
    }).pipe(Effect.provide(memory.layer))
  })

  it.effect("ranges of a cached file come from memory", () =>
    inMemory({ "/srv/a.txt": "0123456789" }, (service, memory) =>
      Effect.gen(function*() {
        const file = fileOf(yield* service.lookup("/a.txt", hidden))
        expect(decoder.decode(yield* service.read(file, { start: 2, end: 4 }))).toBe("234")
        memory.calls.length = 0
        const again = fileOf(yield* service.lookup("/a.txt", hidden))
        expect(decoder.decode(yield* service.read(again, { start: 7, end: 9 }))).toBe("789")
        expect(memory.calls).toEqual(["stat /srv/a.txt"])
      })))
})

describe("StaticFiles with its cache (real directory, native layer)", () => {
  const Native = Layer.merge(NodeFastPaths.layer.pipe(Layer.provide(NodeFileSystem.layer)), NodePath.layer)

  const tree = Effect.acquireRelease(
    Effect.sync(() => {
      const base = NFS.mkdtempSync(NPath.join(OS.tmpdir(), "fiberhttp-cache-"))
      NFS.mkdirSync(NPath.join(base, "root"))
      NFS.mkdirSync(NPath.join(base, "outside"))
      NFS.writeFileSync(NPath.join(base, "outside", "secret.txt"), "outside!")
      return base
    }),
    (base) => Effect.sync(() => NFS.rmSync(base, { recursive: true, force: true }))
  )

  it.scoped("rewrites of the same size, renames over and symlink changes are served at once", () =>
    Effect.gen(function*() {
      const base = yield* tree
      const root = NPath.join(base, "root")
      const at = (name: string) => NPath.join(root, name)
      const service = yield* StaticFiles.make(root)
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
    }).pipe(Effect.provide(Native)))
})

describe("FileStamp (node:fs)", () => {
  it.effect("stamps synchronously until three stats in a row are slow, then in the thread pool", () =>
    Effect.gen(function*() {
      // each stat appears to take `cost` ms
      let clock = 0
      let cost = 0
      const stamps = FileStamp.make(() => (clock += cost / 2))
      const path = import.meta.filename
      const stamp = yield* stamps.stamp(path)
      expect(stamp.isFile).toBe(true)
      expect(stamp.size).toBe(NFS.statSync(path).size)
      cost = 50
      yield* stamps.stamp(path)
      yield* stamps.stamp(path)
      cost = 0
      yield* stamps.stamp(path)
      expect(stamps.synchronous()).toBe(true)
      cost = 50
      for (let i = 0; i < FileStamp.SLOW_STATS_TO_SWITCH; i++) yield* stamps.stamp(path)
      expect(stamps.synchronous()).toBe(false)
      // the thread pool gives the same stamp
      expect((yield* stamps.stamp(path)).key).toBe(stamp.key)
      const gone = yield* Effect.flip(stamps.stamp(path + ".missing"))
      expect(gone.reason).toBe("NotFound")
    }))

  it.effect("files on a local file system are stamped synchronously (the check waits for a path that exists)", () =>
    Effect.gen(function*() {
      const stamps = FileStamp.make()
      yield* Effect.flip(stamps.stamp("/no/such/directory/file"))
      expect(stamps.synchronous()).toBe(true)
      yield* stamps.stamp(import.meta.filename)
      const remote = [0x6969, 0x65735546].includes(NFS.statfsSync(import.meta.filename).type >>> 0)
      expect(stamps.synchronous()).toBe(!remote)
    }))
})

import { Path } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"
import * as NFS from "node:fs"
import type { FileAccess } from "../../src/files/FileAccess.ts"
import * as MemoryFileAccess from "../../src/files/MemoryFileAccess.ts"
import { MemoryFileTree } from "../../src/files/MemoryFileAccess.ts"
import { chunkSize, type FileEntry, type Lookup, streamChunkSize } from "../../src/files/StaticFiles.ts"
import * as StaticFilesLayer from "../../src/files/StaticFilesLayer.ts"
import { memoryTree, nodeTree, TreeOps, trees } from "./trees.ts"

const hidden = { dotfiles: false }
const shown = { dotfiles: true }

const bigSize = 1200 * 1024 + 7
const bigContent = Uint8Array.from({ length: bigSize }, (_, i) => (i * 31 + (i >> 8)) & 0xff)

/**
 * The tree every shared case runs on, built the same way over either layer:
 *
 *   base/root/          the served root
 *   base/outside/       a sibling that must never be reachable
 *   base/root-link  ->  root
 */
const fixtureWith = (options?: { readonly cacheBytes?: number }) =>
  Effect.gen(function*() {
    const tree = yield* TreeOps
    const path = yield* Path.Path
    const base = tree.base
    const root = path.join(base, "root")
    const outside = path.join(base, "outside")
    const at = (...names: Array<string>) => path.join(root, ...names)
    for (
      const dir of [
        root,
        outside,
        at("both"),
        at("htmonly"),
        at("empty"),
        at("été"),
        at(".hidden-dir"),
        at("escaping-index"),
        at("dir-index"),
        at("dir-index", "index.html"),
        at("dir-index-only"),
        at("dir-index-only", "index.html")
      ]
    ) {
      tree.makeDirectory(dir)
    }
    const files: Array<[string, string]> = [
      [at("index.html"), "<h1>home</h1>"],
      [at("index.htm"), "old home"],
      [at("hello.txt"), "hello world"],
      [at("empty.txt"), ""],
      [at("<b>&.txt"), "markup in the name"],
      [at(".secret"), "dotfile"],
      [at(".hidden-dir", "a.txt"), "in a dot directory"],
      [at("both", "index.html"), "both: html"],
      [at("both", "index.htm"), "both: htm"],
      [at("htmonly", "index.htm"), "htm only"],
      [at("dir-index", "index.htm"), "htm beside an index.html directory"],
      [at("été", "index.html"), "accents"],
      [at("locked.txt"), "no one may read this"],
      [path.join(outside, "secret.txt"), "outside the root"]
    ]
    for (const [file, text] of files) tree.writeFile(file, text)
    tree.writeFile(at("big.bin"), bigContent)
    tree.chmod(at("locked.txt"), 0o000)
    tree.symlink("hello.txt", at("link-in.txt"))
    tree.symlink("../outside/secret.txt", at("link-out.txt"))
    tree.symlink(outside, at("link-out-dir"))
    tree.symlink("../../outside/secret.txt", at("escaping-index", "index.html"))
    tree.symlink("no-such-file", at("broken"))
    tree.symlink(root, path.join(base, "root-link"))
    tree.makeSpecial(at("fifo"))
    const service = yield* StaticFilesLayer.make(root, options)
    return { service, base, outside, realRoot: service.root, path, tree }
  })
const fixture = fixtureWith()

const fileOf = (lookup: Lookup): FileEntry => {
  if (lookup._tag !== "File") throw new Error(`expected a File, got ${JSON.stringify(lookup)}`)
  return lookup.file
}

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => {
    const parts = Chunk.toReadonlyArray(chunks)
    const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
    let offset = 0
    for (const part of parts) {
      bytes.set(part, offset)
      offset += part.length
    }
    return { bytes, chunkSizes: parts.map((part) => part.length) }
  })

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
/** Byte equality without vitest's element-by-element deep compare (slow on 200 KiB). */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)

describe.each(trees)("StaticFiles over FileAccess %s", (_, Files) => {
  it.scoped("serves a file with its size, mtime and inode", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      const file = fileOf(yield* service.lookup("/hello.txt", hidden))
      expect(file.path).toBe(`${realRoot}/hello.txt`)
      expect(file.size).toBe(11)
      expect(file.mtime).toBeInstanceOf(Date)
      expect(file.mtime.getTime()).toBeGreaterThan(0)
      expect(file.ino).toBeGreaterThan(0)
      expect(text((yield* collect(service.stream(file))).bytes)).toBe("hello world")
    }).pipe(Effect.provide(Files)))

  it.scoped("index.html is preferred over index.htm, at the root and below", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(fileOf(yield* service.lookup("/", hidden)).path).toBe(`${realRoot}/index.html`)
      expect(fileOf(yield* service.lookup("/both/", hidden)).path).toBe(`${realRoot}/both/index.html`)
    }).pipe(Effect.provide(Files)))

  it.scoped("index.htm is used when alone", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(fileOf(yield* service.lookup("/htmonly/", hidden)).path).toBe(`${realRoot}/htmonly/index.htm`)
    }).pipe(Effect.provide(Files)))

  it.scoped("a directory without its trailing slash redirects, keeping the path's encoding", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      expect(yield* service.lookup("/both", hidden)).toEqual({ _tag: "Redirect", location: "/both/" })
      expect(yield* service.lookup("/empty?sort=name", hidden)).toEqual({ _tag: "Redirect", location: "/empty/" })
      expect(yield* service.lookup("/%C3%A9t%C3%A9", hidden)).toEqual({ _tag: "Redirect", location: "/%C3%A9t%C3%A9/" })
      expect(yield* service.lookup("/%c3%a9t%c3%a9", hidden)).toEqual({ _tag: "Redirect", location: "/%c3%a9t%c3%a9/" })
      expect(yield* service.lookup("/both/../htmonly", hidden)).toEqual({ _tag: "Redirect", location: "/htmonly/" })
      // never a protocol-relative "//host/" location
      expect(yield* service.lookup("//empty", hidden)).toEqual({ _tag: "Redirect", location: "/empty/" })
      expect(fileOf(yield* service.lookup("/%C3%A9t%C3%A9/", hidden)).size).toBe(7)
    }).pipe(Effect.provide(Files)))

  it.scoped("a directory without an index is a Directory (listing is the server's choice)", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(yield* service.lookup("/empty/", hidden)).toEqual({ _tag: "Directory", path: `${realRoot}/empty` })
    }).pipe(Effect.provide(Files)))

  it.scoped("missing names are NotFound, including a file used as a directory", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      for (const target of ["/nope", "/nope/", "/both/nope.html", "/hello.txt/", "/hello.txt/x", "/broken", "/fifo"]) {
        expect([target, yield* service.lookup(target, hidden)]).toEqual([target, { _tag: "NotFound" }])
      }
    }).pipe(Effect.provide(Files)))

  it.scoped("dotfiles are hidden unless asked for", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      for (const target of ["/.secret", "/.hidden-dir/", "/.hidden-dir/a.txt", "/%2esecret"]) {
        expect(yield* service.lookup(target, hidden)).toEqual({ _tag: "NotFound" })
      }
      expect(text((yield* collect(service.stream(fileOf(yield* service.lookup("/.secret", shown))))).bytes)).toBe(
        "dotfile"
      )
      expect(fileOf(yield* service.lookup("/.hidden-dir/a.txt", shown)).size).toBe(18)
      expect((yield* service.lookup("/.hidden-dir/", shown))._tag).toBe("Directory")
      // a path remembered as found with dotfiles shown is still hidden without, and the other way round
      for (const target of ["/.secret", "/.hidden-dir/a.txt", "/%2esecret"]) {
        expect(yield* service.lookup(target, hidden)).toEqual({ _tag: "NotFound" })
        expect((yield* service.lookup(target, shown))._tag).toBe("File")
        expect(yield* service.lookup(target, hidden)).toEqual({ _tag: "NotFound" })
      }
    }).pipe(Effect.provide(Files)))

  it.scoped("traversal never leaves the root, whatever the encoding", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      for (
        const target of [
          "/../outside/secret.txt",
          "/%2e%2e/outside/secret.txt",
          "/%2E%2e/outside/secret.txt",
          "/..%2foutside%2fsecret.txt",
          "/..%5coutside%5csecret.txt",
          "/both/../../outside/secret.txt",
          "/%252e%252e/outside/secret.txt"
        ]
      ) {
        expect([target, yield* service.lookup(target, shown)]).toEqual([target, { _tag: "NotFound" }])
      }
    }).pipe(Effect.provide(Files)))

  it.scoped("very long paths and names are NotFound, never a failure", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      const MB = 1024 * 1024
      for (
        const target of [
          "/" + "a/".repeat(MB / 2),
          "/" + "a".repeat(MB),
          "/" + "a".repeat(300),
          "/" + "a/".repeat(3000)
        ]
      ) {
        expect(yield* service.lookup(target, hidden)).toEqual({ _tag: "NotFound" })
      }
      expect(fileOf(yield* service.lookup("/" + "a/../".repeat(3000) + "hello.txt", hidden)).size).toBe(11)
    }).pipe(Effect.provide(Files)))

  it.scoped("an index name that is a directory is no index", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(fileOf(yield* service.lookup("/dir-index/", hidden)).path).toBe(`${realRoot}/dir-index/index.htm`)
      expect(yield* service.lookup("/dir-index-only/", hidden)).toEqual({
        _tag: "Directory",
        path: `${realRoot}/dir-index-only`
      })
    }).pipe(Effect.provide(Files)))

  it.scoped("undecodable paths fail with InvalidPath", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      for (const target of ["/%ff", "/a%00", "/%c0%ae%c0%ae/outside", "/%zz", "no-slash"]) {
        const error = yield* Effect.flip(service.lookup(target, hidden))
        expect([target, error._tag]).toEqual([target, "InvalidPath"])
      }
    }).pipe(Effect.provide(Files)))

  it.scoped("symlinks: inside the root they serve their target, outside they do not exist", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(fileOf(yield* service.lookup("/link-in.txt", hidden)).path).toBe(`${realRoot}/hello.txt`)
      expect(yield* service.lookup("/link-out.txt", hidden)).toEqual({ _tag: "NotFound" })
      expect(yield* service.lookup("/link-out-dir/", hidden)).toEqual({ _tag: "NotFound" })
      expect(yield* service.lookup("/link-out-dir/secret.txt", hidden)).toEqual({ _tag: "NotFound" })
      // an index that escapes is no index at all
      expect(yield* service.lookup("/escaping-index/", hidden)).toEqual({
        _tag: "Directory",
        path: `${realRoot}/escaping-index`
      })
    }).pipe(Effect.provide(Files)))

  it.scoped("a root given through a symlink is resolved once; paths handed out are real", () =>
    Effect.gen(function*() {
      const { base, path, realRoot } = yield* fixture
      const viaLink = yield* StaticFilesLayer.make(path.join(base, "root-link"))
      expect(viaLink.root).toBe(realRoot)
      expect(fileOf(yield* viaLink.lookup("/hello.txt", hidden)).path).toBe(`${realRoot}/hello.txt`)
    }).pipe(Effect.provide(Files)))

  it.scoped("a root that is missing or not a directory fails with FileError", () =>
    Effect.gen(function*() {
      const { base, path } = yield* fixture
      const missing = yield* Effect.flip(StaticFilesLayer.make(path.join(base, "nope")))
      expect(missing._tag).toBe("FileError")
      const notDir = yield* Effect.flip(StaticFilesLayer.make(path.join(base, "outside", "secret.txt")))
      expect(notDir).toMatchObject({ _tag: "FileError", message: "root is not a directory" })
    }).pipe(Effect.provide(Files)))

  it.scoped("an unreadable file (mode 000) is Forbidden (root reads it: a File)", () =>
    Effect.gen(function*() {
      const { service, tree } = yield* fixture
      const lookup = yield* service.lookup("/locked.txt", hidden)
      expect(lookup._tag).toBe(tree.modesApply ? "Forbidden" : "File")
    }).pipe(Effect.provide(Files)))

  describe("stream", () => {
    it.scoped("a whole file arrives in chunks of at most chunkSize (512 KiB)", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const file = fileOf(yield* service.lookup("/big.bin", hidden))
        expect(file.size).toBe(bigSize)
        const { bytes, chunkSizes } = yield* collect(service.stream(file))
        expect(sameBytes(bytes, bigContent)).toBe(true)
        expect(chunkSize).toBe(512 * 1024)
        expect(chunkSizes).toEqual([chunkSize, chunkSize, bigSize - 2 * chunkSize])
      }).pipe(Effect.provide(Files)))

    it.scoped("a range gives exactly the requested bytes", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const file = fileOf(yield* service.lookup("/big.bin", hidden))
        const ranges: Array<[number, number]> = [
          [0, 0],
          [0, 9],
          [1000, 150_000],
          [chunkSize - 1, chunkSize],
          [chunkSize, 2 * chunkSize - 1],
          [1, chunkSize],
          [1, chunkSize + 1],
          [bigSize - 1, bigSize - 1],
          [bigSize - 100, bigSize - 1],
          [0, bigSize - 1]
        ]
        for (const [start, end] of ranges) {
          const { bytes, chunkSizes } = yield* collect(service.stream(file, { start, end }))
          expect([start, end, bytes.length]).toEqual([start, end, end - start + 1])
          expect(sameBytes(bytes, bigContent.subarray(start, end + 1))).toBe(true)
          expect(chunkSizes.every((size) => size <= chunkSize)).toBe(true)
        }
      }).pipe(Effect.provide(Files)))

    it.scoped("an empty file is an empty stream", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const file = fileOf(yield* service.lookup("/empty.txt", hidden))
        expect(file.size).toBe(0)
        expect((yield* collect(service.stream(file))).bytes.length).toBe(0)
      }).pipe(Effect.provide(Files)))

    it.scoped("a file that shrank after lookup fails the stream instead of ending short", () =>
      Effect.gen(function*() {
        const { service, tree } = yield* fixture
        const file = fileOf(yield* service.lookup("/big.bin", hidden))
        tree.truncate(file.path, 1000)
        const error = yield* Effect.flip(collect(service.stream(file)))
        expect(error).toMatchObject({ _tag: "FileError", message: `file ended after 1000 of ${bigSize} bytes` })
      }).pipe(Effect.provide(Files)))

    it.scoped("read gives the same bytes as stream, for the whole file and for ranges", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        const hello = fileOf(yield* service.lookup("/hello.txt", hidden))
        expect(text(yield* service.read(hello))).toBe(text((yield* collect(service.stream(hello))).bytes))
        for (
          const [start, end] of [[0, chunkSize - 1], [1, chunkSize], [bigSize - chunkSize, bigSize - 1], [
            7,
            7
          ]] as const
        ) {
          const read = yield* service.read(big, { start, end })
          expect(sameBytes(read, bigContent.subarray(start, end + 1))).toBe(true)
          expect(sameBytes(read, (yield* collect(service.stream(big, { start, end }))).bytes)).toBe(true)
        }
      }).pipe(Effect.provide(Files)))

    it.scoped("reuseBuffer: every chunk read into one of two buffers, each valid until the next pull; same bytes", () =>
      Effect.gen(function*() {
        // the cache would hold the file (see the cache's own tests): this is the path from disk
        const { service } = yield* fixtureWith({ cacheBytes: 0 })
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        for (
          const range of [undefined, { start: 3, end: bigSize - 2 }, { start: chunkSize - 1, end: 2 * chunkSize + 1 }]
        ) {
          const copies: Array<Uint8Array> = []
          const buffers = new Set<ArrayBufferLike>()
          yield* Stream.runForEach(service.stream(big, range, { reuseBuffer: true }), (chunk) =>
            Effect.sync(() => {
              copies.push(chunk.slice())
              buffers.add(chunk.buffer)
            }))
          const start = range?.start ?? 0
          const end = range?.end ?? bigSize - 1
          const joined = new Uint8Array(copies.reduce((n, c) => n + c.length, 0))
          copies.reduce((offset, c) => (joined.set(c, offset), offset + c.length), 0)
          expect(sameBytes(joined, bigContent.subarray(start, end + 1))).toBe(true)
          expect(copies.length).toBe(Math.ceil((end - start + 1) / streamChunkSize))
          expect(buffers.size).toBeLessThanOrEqual(2)
        }
      }).pipe(Effect.provide(Files)))

    it.scoped("read fails when the file shrank after lookup, and cuts one that grew to the length looked up", () =>
      Effect.gen(function*() {
        // without the cache: with it, the second read of the same entry would give what the first kept
        const { service, tree } = yield* fixtureWith({ cacheBytes: 0 })
        const file = fileOf(yield* service.lookup("/hello.txt", hidden))
        tree.writeFile(file.path, "hello world, and more")
        expect(text(yield* service.read(file))).toBe("hello world")
        tree.writeFile(file.path, "hello")
        const error = yield* Effect.flip(service.read(file))
        expect(error).toMatchObject({ _tag: "FileError", message: "file ended after 5 of 11 bytes" })
      }).pipe(Effect.provide(Files)))

    it.scoped("a file removed after lookup fails with FileError", () =>
      Effect.gen(function*() {
        const { service, tree } = yield* fixture
        const file = fileOf(yield* service.lookup("/hello.txt", hidden))
        tree.remove(file.path)
        expect((yield* Effect.flip(collect(service.stream(file))))._tag).toBe("FileError")
      }).pipe(Effect.provide(Files)))

    it.scoped("a range that does not fit the file is a defect (the caller answers 416 first)", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const file = fileOf(yield* service.lookup("/hello.txt", hidden))
        for (
          const range of [{ start: 5, end: 3 }, { start: 0, end: 11 }, { start: -1, end: 3 }, { start: 0.5, end: 3 }]
        ) {
          const exit = yield* Effect.exit(Stream.runDrain(service.stream(file, range)))
          expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        }
      }).pipe(Effect.provide(Files)))
  })

  describe("list", () => {
    it.scoped("names sorted directories first, then by code unit; dotfiles, escaping links, broken links and special files left out", () =>
      Effect.gen(function*() {
        const { realRoot, service } = yield* fixture
        const entries = yield* service.list(realRoot, hidden)
        expect(entries.map((entry) => [entry.name, entry.isDirectory])).toEqual([
          ["both", true],
          ["dir-index", true],
          ["dir-index-only", true],
          ["empty", true],
          ["escaping-index", true],
          ["htmonly", true],
          ["été", true],
          ["<b>&.txt", false],
          ["big.bin", false],
          ["empty.txt", false],
          ["hello.txt", false],
          ["index.htm", false],
          ["index.html", false],
          ["link-in.txt", false],
          ["locked.txt", false]
        ])
        const hello = entries.find((entry) => entry.name === "hello.txt")
        expect(hello?.size).toBe(11)
        expect(hello?.mtime.getTime()).toBeGreaterThan(0)
      }).pipe(Effect.provide(Files)))

    it.scoped("dotfiles listed when asked for", () =>
      Effect.gen(function*() {
        const { realRoot, service } = yield* fixture
        const names = (yield* service.list(realRoot, shown)).map((entry) => entry.name)
        expect(names.slice(0, 2)).toEqual([".hidden-dir", "both"])
        expect(names).toContain(".secret")
        expect(names.indexOf(".secret")).toBe(names.indexOf("<b>&.txt") - 1)
      }).pipe(Effect.provide(Files)))

    it.scoped("a directory outside the root is refused", () =>
      Effect.gen(function*() {
        const { outside, service } = yield* fixture
        expect((yield* Effect.flip(service.list(outside, shown)))._tag).toBe("FileError")
      }).pipe(Effect.provide(Files)))
  })
})

/** Lookups and reads over a tree in memory rooted at /srv, with failures and timing under the test's control. */
const memory = <A, E>(
  body: (files: MemoryFileAccess.MemoryFiles) => Effect.Effect<A, E, MemoryFileTree | FileAccess | Path.Path>
) =>
  Effect.flatMap(MemoryFileTree, (files) => {
    files.makeDirectory("/srv")
    files.writeFile("/srv/a.txt", "abc", { mode: 0o640 })
    files.writeFile("/srv/open.txt", "abc", { mode: 0o444 })
    files.writeFile("/srv/big.bin", bigContent, { mode: 0o444 })
    files.writeFile("/srv/index.html", "home")
    return body(files)
  }).pipe(Effect.provide(Layer.merge(MemoryFileAccess.layer, Path.layer)))

const lookupIn = (target: string) =>
  Effect.flatMap(StaticFilesLayer.make("/srv"), (service) => service.lookup(target, hidden))

describe("StaticFiles failure mapping (FileAccess in memory)", () => {
  it.effect("a file that exists but may not be read is Forbidden (EACCES and EPERM)", () =>
    memory((files) =>
      Effect.gen(function*() {
        files.fail("checkReadable", "/srv/a.txt", "EACCES", 1)
        expect(yield* lookupIn("/a.txt")).toEqual({ _tag: "Forbidden" })
        files.fail("checkReadable", "/srv/a.txt", "EPERM", 1)
        expect(yield* lookupIn("/a.txt")).toEqual({ _tag: "Forbidden" })
        expect((yield* lookupIn("/a.txt"))._tag).toBe("File")
      })
    ))

  it.effect("a file readable by owner, group and others is served without asking access(2)", () =>
    memory((files) =>
      Effect.gen(function*() {
        files.fail("checkReadable", "/srv/open.txt", "EACCES")
        expect((yield* lookupIn("/open.txt"))._tag).toBe("File")
        expect(files.calls.filter((call) => call.startsWith("checkReadable"))).toEqual([])
      })
    ))

  it.effect("a path under an unsearchable directory is Forbidden", () =>
    memory((files) =>
      Effect.gen(function*() {
        files.writeFile("/srv/private/a.txt", "a")
        files.chmod("/srv/private", 0o600)
        expect(yield* lookupIn("/private/a.txt")).toEqual({ _tag: "Forbidden" })
      })
    ))

  it.effect("an unreadable index is Forbidden, not skipped", () =>
    memory((files) =>
      Effect.gen(function*() {
        files.chmod("/srv/index.html", 0o200)
        expect(yield* lookupIn("/")).toEqual({ _tag: "Forbidden" })
      })
    ))

  it.effect("ENOTDIR, ELOOP and ENAMETOOLONG are NotFound", () =>
    memory((files) =>
      Effect.gen(function*() {
        files.symlink("loop-b", "/srv/loop-a")
        files.symlink("loop-a", "/srv/loop-b")
        expect(yield* lookupIn("/a.txt/b")).toEqual({ _tag: "NotFound" })
        expect(yield* lookupIn("/loop-a")).toEqual({ _tag: "NotFound" })
        expect(yield* lookupIn("/" + "n".repeat(256))).toEqual({ _tag: "NotFound" })
      })
    ))

  it.effect("any other failure is a FileError carrying its cause (500)", () =>
    memory((files) =>
      Effect.gen(function*() {
        files.fail("stat", "/srv/a.txt", "EIO")
        const error = yield* Effect.flip(lookupIn("/a.txt"))
        expect(error).toMatchObject({ _tag: "FileError", path: "/srv/a.txt" })
        expect(error._tag === "FileError" && error.cause).toMatchObject({ _tag: "FileAccessError", code: "EIO" })
      })
    ))

  it.effect("out of descriptors when reading is an overloaded FileError (503); a refused read is denied (403)", () =>
    memory((files) =>
      Effect.gen(function*() {
        const service = yield* StaticFilesLayer.make("/srv", { cacheBytes: 0 })
        const small = fileOf(yield* service.lookup("/open.txt", hidden))
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        files.fail("readSpan", "/srv/open.txt", "EMFILE", 1)
        expect(yield* Effect.flip(service.read(small))).toMatchObject({ reason: "Overloaded" })
        files.fail("open", "/srv/big.bin", "ENFILE", 1)
        expect(yield* Effect.flip(Stream.runDrain(service.stream(big)))).toMatchObject({ reason: "Overloaded" })
        files.fail("readSpan", "/srv/open.txt", "EACCES", 1)
        expect(yield* Effect.flip(service.read(small))).toMatchObject({ reason: "Denied" })
        files.fail("read", "/srv/big.bin", "EBADF", 1)
        const bad = yield* Effect.flip(Stream.runDrain(service.stream(big, undefined, { reuseBuffer: true })))
        expect(bad).toMatchObject({ _tag: "FileError", reason: "Failed" })
        expect(files.openFiles()).toBe(0)
      })
    ))

  it.effect("a root that cannot be resolved fails with FileError", () =>
    memory((files) =>
      Effect.gen(function*() {
        files.fail("realPath", "/srv", "EMFILE", 1)
        expect(yield* Effect.flip(StaticFilesLayer.make("/srv"))).toMatchObject({
          _tag: "FileError",
          reason: "Overloaded"
        })
      })
    ))
})

describe("StaticFiles reading (FileAccess in memory)", () => {
  const reads = (files: MemoryFileAccess.MemoryFiles) => files.calls.filter((call) => call.startsWith("read "))

  it.effect("stream reads chunks from the open file only as the consumer pulls them", () =>
    memory((files) =>
      Effect.gen(function*() {
        const service = yield* StaticFilesLayer.make("/srv")
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        files.calls.length = 0
        const first = yield* Stream.runCollect(Stream.take(service.stream(big, { start: 10, end: bigSize - 1 }), 1))
        expect(Chunk.toReadonlyArray(first).map((c) => c.length)).toEqual([chunkSize])
        expect(files.calls).toEqual(["open /srv/big.bin", "read /srv/big.bin"])
        expect(files.openFiles()).toBe(0)
      })
    ))

  it.effect("reuseBuffer: the next chunk is read while the last is consumed, never more than one ahead", () =>
    memory((files) =>
      Effect.gen(function*() {
        const service = yield* StaticFilesLayer.make("/srv")
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        files.calls.length = 0
        const readsSeen: Array<number> = []
        yield* Stream.runForEach(
          service.stream(big, undefined, { reuseBuffer: true }),
          () => Effect.sync(() => void readsSeen.push(reads(files).length))
        )
        // chunk n is handed out once read n+1 has started (except the last)
        const chunks = Math.ceil(bigSize / streamChunkSize)
        expect(readsSeen).toEqual([...Array.from({ length: chunks - 1 }, (_, i) => i + 2), chunks])
        expect(files.openFiles()).toBe(0)
      })
    ))

  it.effect("a slow read holds the consumer, not the event loop; interrupted, the file closes after the read ends", () =>
    memory((files) =>
      Effect.gen(function*() {
        const service = yield* StaticFilesLayer.make("/srv")
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        files.slowReads("/srv/big.bin", "1 second")
        const fiber = yield* Effect.fork(collect(service.stream(big, undefined, { reuseBuffer: true })))
        yield* TestClock.adjust("1 second")
        yield* TestClock.adjust("1 second")
        expect(files.openFiles()).toBe(1)
        const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
        // the read ahead in flight is awaited before the file is closed
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(interrupting)
        expect(files.openFiles()).toBe(0)
        // uninterrupted, a slow stream ends with every byte
        const whole = yield* Effect.fork(collect(service.stream(big)))
        for (let i = 0; i < 4; i++) yield* TestClock.adjust("1 second")
        expect(sameBytes((yield* Fiber.join(whole)).bytes, bigContent)).toBe(true)
      })
    ))

  it.effect("a file that grows or is replaced between lookup and read: cut to the length announced, or failed short", () =>
    memory((files) =>
      Effect.gen(function*() {
        const service = yield* StaticFilesLayer.make("/srv", { cacheBytes: 0 })
        const file = fileOf(yield* service.lookup("/a.txt", hidden))
        files.append("/srv/a.txt", "def")
        expect(text(yield* service.read(file))).toBe("abc")
        files.replace("/srv/a.txt", "x")
        expect(yield* Effect.flip(service.read(file))).toMatchObject({
          reason: "Truncated",
          message: "file ended after 1 of 3 bytes"
        })
        // a stream of a file replaced mid-way keeps reading the file it opened, as a descriptor does
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        let swapped = false
        const chunks = yield* collect(Stream.tap(service.stream(big), () =>
          Effect.sync(() => {
            if (!swapped) files.replace("/srv/big.bin", "tiny")
            swapped = true
          })))
        expect(sameBytes(chunks.bytes, bigContent)).toBe(true)
      })
    ))
})

describe("StaticFiles over node:fs only", () => {
  it.scoped("reuseBuffer: a stream ended early leaves no read in flight and closes the descriptor", () =>
    Effect.gen(function*() {
      // the cache would hold the file (see the cache's own tests): this is the path from disk
      const { service } = yield* fixtureWith({ cacheBytes: 0 })
      const big = fileOf(yield* service.lookup("/big.bin", hidden))
      const first = yield* Stream.runCollect(Stream.take(service.stream(big, undefined, { reuseBuffer: true }), 1))
      expect(Chunk.unsafeHead(first).length).toBe(streamChunkSize)
      const open = NFS.readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return NFS.readlinkSync(`/proc/self/fd/${fd}`) === big.path
        } catch {
          return false
        }
      })
      expect(open).toEqual([])
    }).pipe(Effect.provide(nodeTree)))
})

describe("StaticFiles over memory only", () => {
  it.scoped("a stream ended early closes its file", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      const files = yield* MemoryFileTree
      const big = fileOf(yield* service.lookup("/big.bin", hidden))
      yield* Stream.runCollect(Stream.take(service.stream(big, undefined, { reuseBuffer: true }), 1))
      yield* Stream.runCollect(Stream.take(service.stream(big), 1))
      expect(files.openFiles()).toBe(0)
    }).pipe(Effect.provide(memoryTree)))
})

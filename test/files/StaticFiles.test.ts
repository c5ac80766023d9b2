import { FileSystem, Path } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Layer, Option, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as NFS from "node:fs"
import * as NodeFastPaths from "../../src/files/NodeFastPaths.ts"
import { chunkSize, type FileEntry, type Lookup, StaticFiles, streamChunkSize } from "../../src/files/StaticFiles.ts"

const NodeFs = Layer.merge(NodeFileSystem.layer, NodePath.layer)
/** What the server runs on: realPath by realpath(3), and reads through SpanReader. */
const Native = Layer.merge(NodeFastPaths.layer.pipe(Layer.provide(NodeFileSystem.layer)), NodePath.layer)
const fileSystems = [["platform FileSystem", NodeFs], ["native layer", Native]] as const
const hidden = { dotfiles: false }
const shown = { dotfiles: true }
const runsAsRoot = process.getuid?.() === 0

const bigSize = 600 * 1024 + 7
const bigContent = Uint8Array.from({ length: bigSize }, (_, i) => (i * 31 + (i >> 8)) & 0xff)

/**
 * A temporary tree, removed when the test's scope closes:
 *
 *   base/root/          the served root
 *   base/outside/       a sibling that must never be reachable
 *   base/root-link  ->  root
 */
const fixtureWith = (options?: { readonly cacheBytes?: number }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const base = yield* fs.makeTempDirectoryScoped({ prefix: "fiberhttp-files-" })
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
      yield* fs.makeDirectory(dir)
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
    for (const [file, text] of files) yield* fs.writeFileString(file, text)
    yield* fs.writeFile(at("big.bin"), bigContent)
    yield* fs.chmod(at("locked.txt"), 0o000)
    yield* fs.symlink("hello.txt", at("link-in.txt"))
    yield* fs.symlink("../outside/secret.txt", at("link-out.txt"))
    yield* fs.symlink(outside, at("link-out-dir"))
    yield* fs.symlink("../../outside/secret.txt", at("escaping-index", "index.html"))
    yield* fs.symlink("no-such-file", at("broken"))
    yield* fs.symlink(root, path.join(base, "root-link"))
    execFileSync("mkfifo", [at("fifo")])
    const service = yield* StaticFiles.make(root, options)
    return { service, base, outside, realRoot: service.root, path }
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

describe.each(fileSystems)("StaticFiles on a real directory (%s)", (_, NodeFs) => {
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
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("index.html is preferred over index.htm, at the root and below", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(fileOf(yield* service.lookup("/", hidden)).path).toBe(`${realRoot}/index.html`)
      expect(fileOf(yield* service.lookup("/both/", hidden)).path).toBe(`${realRoot}/both/index.html`)
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("index.htm is used when alone", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(fileOf(yield* service.lookup("/htmonly/", hidden)).path).toBe(`${realRoot}/htmonly/index.htm`)
    }).pipe(Effect.provide(NodeFs)))

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
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("a directory without an index is a Directory (listing is the server's choice)", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(yield* service.lookup("/empty/", hidden)).toEqual({ _tag: "Directory", path: `${realRoot}/empty` })
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("missing names are NotFound, including a file used as a directory", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      for (const target of ["/nope", "/nope/", "/both/nope.html", "/hello.txt/", "/hello.txt/x", "/broken", "/fifo"]) {
        expect([target, yield* service.lookup(target, hidden)]).toEqual([target, { _tag: "NotFound" }])
      }
    }).pipe(Effect.provide(NodeFs)))

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
    }).pipe(Effect.provide(NodeFs)))

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
    }).pipe(Effect.provide(NodeFs)))

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
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("an index name that is a directory is no index", () =>
    Effect.gen(function*() {
      const { realRoot, service } = yield* fixture
      expect(fileOf(yield* service.lookup("/dir-index/", hidden)).path).toBe(`${realRoot}/dir-index/index.htm`)
      expect(yield* service.lookup("/dir-index-only/", hidden)).toEqual({
        _tag: "Directory",
        path: `${realRoot}/dir-index-only`
      })
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("undecodable paths fail with InvalidPath", () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      for (const target of ["/%ff", "/a%00", "/%c0%ae%c0%ae/outside", "/%zz", "no-slash"]) {
        const error = yield* Effect.flip(service.lookup(target, hidden))
        expect([target, error._tag]).toEqual([target, "InvalidPath"])
      }
    }).pipe(Effect.provide(NodeFs)))

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
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("a root given through a symlink is resolved once; paths handed out are real", () =>
    Effect.gen(function*() {
      const { base, path, realRoot } = yield* fixture
      const viaLink = yield* StaticFiles.make(path.join(base, "root-link"))
      expect(viaLink.root).toBe(realRoot)
      expect(fileOf(yield* viaLink.lookup("/hello.txt", hidden)).path).toBe(`${realRoot}/hello.txt`)
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("a root that is missing or not a directory fails with FileError", () =>
    Effect.gen(function*() {
      const { base, path } = yield* fixture
      const missing = yield* Effect.flip(StaticFiles.make(path.join(base, "nope")))
      expect(missing._tag).toBe("FileError")
      const notDir = yield* Effect.flip(StaticFiles.make(path.join(base, "outside", "secret.txt")))
      expect(notDir).toMatchObject({ _tag: "FileError", message: "root is not a directory" })
    }).pipe(Effect.provide(NodeFs)))

  it.scoped(`an unreadable file (mode 000) is ${runsAsRoot ? "readable by root, so a File" : "Forbidden"}`, () =>
    Effect.gen(function*() {
      const { service } = yield* fixture
      // root bypasses permission bits; the Forbidden mapping itself is tested
      // deterministically with a fake file system below.
      const lookup = yield* service.lookup("/locked.txt", hidden)
      expect(lookup._tag).toBe(runsAsRoot ? "File" : "Forbidden")
    }).pipe(Effect.provide(NodeFs)))

  describe("stream", () => {
    it.scoped("a whole file arrives in chunks of at most chunkSize (256 KiB)", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const file = fileOf(yield* service.lookup("/big.bin", hidden))
        expect(file.size).toBe(bigSize)
        const { bytes, chunkSizes } = yield* collect(service.stream(file))
        expect(sameBytes(bytes, bigContent)).toBe(true)
        expect(chunkSize).toBe(256 * 1024)
        expect(chunkSizes).toEqual([chunkSize, chunkSize, bigSize - 2 * chunkSize])
      }).pipe(Effect.provide(NodeFs)))

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
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("an empty file is an empty stream", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const file = fileOf(yield* service.lookup("/empty.txt", hidden))
        expect(file.size).toBe(0)
        expect((yield* collect(service.stream(file))).bytes.length).toBe(0)
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("a file that shrank after lookup fails the stream instead of ending short", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const fs = yield* FileSystem.FileSystem
        const file = fileOf(yield* service.lookup("/big.bin", hidden))
        yield* fs.truncate(file.path, 1000)
        const error = yield* Effect.flip(collect(service.stream(file)))
        expect(error).toMatchObject({ _tag: "FileError", message: `file ended after 1000 of ${bigSize} bytes` })
      }).pipe(Effect.provide(NodeFs)))

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
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("reuseBuffer: every chunk read into one of two buffers, each valid until the next pull; same bytes", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
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
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("reuseBuffer: a stream ended early leaves no read in flight and closes the file", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const big = fileOf(yield* service.lookup("/big.bin", hidden))
        const first = yield* Stream.runCollect(Stream.take(service.stream(big, undefined, { reuseBuffer: true }), 1))
        expect(Chunk.unsafeHead(first).length).toBe(streamChunkSize)
        // the descriptor was closed: the process holds no descriptor for the file
        const open = NFS.readdirSync("/proc/self/fd").filter((fd) => {
          try {
            return NFS.readlinkSync(`/proc/self/fd/${fd}`) === big.path
          } catch {
            return false
          }
        })
        expect(open).toEqual([])
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("read fails when the file shrank after lookup, and cuts one that grew to the length looked up", () =>
      Effect.gen(function*() {
        // without the cache: with it, the second read of the same entry would give what the first kept
        const { service } = yield* fixtureWith({ cacheBytes: 0 })
        const fs = yield* FileSystem.FileSystem
        const file = fileOf(yield* service.lookup("/hello.txt", hidden))
        yield* fs.writeFileString(file.path, "hello world, and more")
        expect(text(yield* service.read(file))).toBe("hello world")
        yield* fs.writeFileString(file.path, "hello")
        const error = yield* Effect.flip(service.read(file))
        expect(error).toMatchObject({ _tag: "FileError", message: "file ended after 5 of 11 bytes" })
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("a file removed after lookup fails with FileError", () =>
      Effect.gen(function*() {
        const { service } = yield* fixture
        const fs = yield* FileSystem.FileSystem
        const file = fileOf(yield* service.lookup("/hello.txt", hidden))
        yield* fs.remove(file.path)
        expect((yield* Effect.flip(collect(service.stream(file))))._tag).toBe("FileError")
      }).pipe(Effect.provide(NodeFs)))

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
      }).pipe(Effect.provide(NodeFs)))
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
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("dotfiles listed when asked for", () =>
      Effect.gen(function*() {
        const { realRoot, service } = yield* fixture
        const names = (yield* service.list(realRoot, shown)).map((entry) => entry.name)
        expect(names.slice(0, 2)).toEqual([".hidden-dir", "both"])
        expect(names).toContain(".secret")
        expect(names.indexOf(".secret")).toBe(names.indexOf("<b>&.txt") - 1)
      }).pipe(Effect.provide(NodeFs)))

    it.scoped("a directory outside the root is refused", () =>
      Effect.gen(function*() {
        const { outside, service } = yield* fixture
        expect((yield* Effect.flip(service.list(outside, shown)))._tag).toBe("FileError")
      }).pipe(Effect.provide(NodeFs)))
  })
})

describe("StaticFiles error mapping (fake file system)", () => {
  /** Mode 640 by default: not readable by all, so lookup asks access(2). */
  const info = (type: FileSystem.File.Type, size = 3, mode = 0o640): FileSystem.File.Info => ({
    type,
    mtime: Option.some(new Date(1_000_000)),
    atime: Option.none(),
    birthtime: Option.none(),
    dev: 1,
    ino: Option.none(),
    mode,
    nlink: Option.none(),
    uid: Option.none(),
    gid: Option.none(),
    rdev: Option.none(),
    size: FileSystem.Size(size),
    blksize: Option.none(),
    blocks: Option.none()
  })

  const failure = (method: string, reason: SystemErrorReason, code?: string) => (path: string) =>
    Effect.fail(
      new SystemError({
        reason,
        module: "FileSystem",
        method,
        pathOrDescriptor: path,
        ...(code === undefined ? {} : { cause: Object.assign(new Error(code), { code }) })
      })
    )

  /** "/srv" is the root directory; everything else a 3-byte file unless overridden. */
  const fake = (overrides: Partial<FileSystem.FileSystem>) =>
    Layer.merge(
      FileSystem.layerNoop({
        realPath: (path) => Effect.succeed(path),
        stat: (path) => Effect.succeed(info(path === "/srv" ? "Directory" : "File")),
        access: () => Effect.void,
        ...overrides
      }),
      Path.layer
    )

  const lookup = (target: string) =>
    Effect.flatMap(StaticFiles.make("/srv"), (service) => service.lookup(target, hidden))

  it.effect("a file that exists but cannot be opened for reading is Forbidden", () =>
    Effect.gen(function*() {
      expect(yield* lookup("/a.txt")).toEqual({ _tag: "Forbidden" })
    }).pipe(Effect.provide(fake({ access: failure("access", "PermissionDenied", "EACCES") }))))

  it.effect("a file readable by owner, group and others is served without asking access(2)", () => {
    let asked = 0
    return Effect.gen(function*() {
      expect((yield* lookup("/a.txt"))._tag).toBe("File")
      expect(asked).toBe(0)
    }).pipe(Effect.provide(fake({
      stat: (path) => Effect.succeed(path === "/srv" ? info("Directory") : info("File", 3, 0o444)),
      access: (path) => Effect.suspend(() => (asked++, failure("access", "PermissionDenied", "EACCES")(path)))
    })))
  })

  it.effect("EPERM (which the platform reports as Unknown) is Forbidden too", () =>
    Effect.gen(function*() {
      expect(yield* lookup("/a.txt")).toEqual({ _tag: "Forbidden" })
    }).pipe(Effect.provide(fake({ access: failure("access", "Unknown", "EPERM") }))))

  it.effect("a path under an unsearchable directory is Forbidden", () =>
    Effect.gen(function*() {
      expect(yield* lookup("/private/a.txt")).toEqual({ _tag: "Forbidden" })
    }).pipe(Effect.provide(fake({
      realPath: (path) => path === "/srv" ? Effect.succeed(path) : failure("realPath", "PermissionDenied")(path)
    }))))

  it.effect("an unreadable index is Forbidden, not skipped", () =>
    Effect.gen(function*() {
      expect(yield* lookup("/")).toEqual({ _tag: "Forbidden" })
    }).pipe(Effect.provide(fake({
      access: (path) => path === "/srv/index.html" ? failure("access", "PermissionDenied")(path) : Effect.void
    }))))

  it.effect("ENOTDIR and ELOOP (reported as BadResource) are NotFound", () =>
    Effect.gen(function*() {
      expect(yield* lookup("/a.txt/b")).toEqual({ _tag: "NotFound" })
    }).pipe(Effect.provide(fake({
      realPath: (path) =>
        path === "/srv"
          ? Effect.succeed(path)
          : failure("realPath", "BadResource", path.endsWith("/b") ? "ENOTDIR" : "ELOOP")(path)
    }))))

  it.effect("any other failure is a FileError carrying its cause", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(lookup("/a.txt"))
      expect(error).toMatchObject({ _tag: "FileError", path: "/srv/a.txt" })
      expect(error._tag === "FileError" && error.cause).toBeInstanceOf(SystemError)
    }).pipe(Effect.provide(fake({
      stat: (path) => path === "/srv" ? Effect.succeed(info("Directory")) : failure("stat", "Busy", "EBUSY")(path)
    }))))

  it.effect("a file's size is a number and a missing inode is 0", () =>
    Effect.gen(function*() {
      expect(yield* lookup("/a.txt")).toEqual({
        _tag: "File",
        file: { path: "/srv/a.txt", size: 3, mtime: new Date(1_000_000), ino: 0 }
      })
    }).pipe(Effect.provide(fake({}))))

  /** A file of `size` zero bytes whose seeks and reads are recorded in `calls`. */
  const recordedFile = (size: number, calls: Array<string>): FileSystem.File => {
    let position = 0
    const file: Partial<FileSystem.File> = {
      seek: (offset) =>
        Effect.sync(() => {
          calls.push(`seek ${offset}`)
          position = Number(offset)
          return BigInt(position)
        }),
      readAlloc: (want) =>
        Effect.sync(() => {
          calls.push(`read ${want}`)
          const n = Math.min(Number(want), size - position)
          position += n
          return n === 0 ? Option.none() : Option.some(new Uint8Array(n))
        })
    }
    return file as FileSystem.File
  }

  /** A fake file system whose files (1,000,000 bytes each) record open, seek, read and close in `calls`. */
  const recordingFs = (calls: Array<string>) =>
    fake({
      open: (path) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            calls.push(`open ${path}`)
            return recordedFile(1_000_000, calls)
          }),
          () => Effect.sync(() => void calls.push("close"))
        )
    })

  it.effect("stream reads chunks from the open file only as the consumer pulls them", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      const service = yield* StaticFiles.make("/srv")
      const file = { path: "/srv/a.bin", size: 1_000_000, mtime: new Date(0), ino: 1 }
      const range = { start: 10, end: 3 * chunkSize + 1009 }
      const first = yield* Stream.runCollect(Stream.take(service.stream(file, range), 1))
      expect(Chunk.toReadonlyArray(first).map((c) => c.length)).toEqual([chunkSize])
      expect(calls).toEqual(["open /srv/a.bin", "seek 10", `read ${chunkSize}`, "close"])
      calls.length = 0
      const { chunkSizes } = yield* collect(service.stream(file, range))
      expect(chunkSizes).toEqual([chunkSize, chunkSize, chunkSize, 1000])
      expect(calls).toEqual(["open /srv/a.bin", "seek 10", ...Array(3).fill(`read ${chunkSize}`), "read 1000", "close"])
    }).pipe(Effect.provide(recordingFs(calls)))
  })

  it.effect("read takes a span of up to chunkSize in one open, read and close; more is a defect", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      const service = yield* StaticFiles.make("/srv")
      const file = { path: "/srv/a.bin", size: 1_000_000, mtime: new Date(0), ino: 1 }
      expect((yield* service.read(file, { start: 100, end: chunkSize + 99 })).length).toBe(chunkSize)
      expect(calls).toEqual(["open /srv/a.bin", "seek 100", `read ${chunkSize}`, "close"])
      const exit = yield* Effect.exit(service.read(file, { start: 0, end: chunkSize }))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }).pipe(Effect.provide(recordingFs(calls)))
  })
})

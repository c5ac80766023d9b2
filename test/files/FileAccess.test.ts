import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import * as NFS from "node:fs"
import * as os from "node:os"
import { FileAccess } from "../../src/files/FileAccess.ts"
import * as NodeFileAccess from "../../src/files/NodeFileAccess.ts"
import { nodeTree, TreeOps, trees } from "./trees.ts"

/** base/root/{a.txt, in -> a.txt, out -> ../secret.txt, dir/}, base/secret.txt */
const build = Effect.gen(function*() {
  const tree = yield* TreeOps
  const root = `${tree.base}/root`
  tree.makeDirectory(`${root}/dir`)
  tree.writeFile(`${root}/a.txt`, "abcdef")
  tree.writeFile(`${tree.base}/secret.txt`, "secret")
  tree.symlink("a.txt", `${root}/in`)
  tree.symlink("../secret.txt", `${root}/out`)
  return { tree, root, files: yield* FileAccess }
})

const outcome = <A>(effect: Effect.Effect<A, { readonly reason: string; readonly code: string | undefined }>) =>
  Effect.match(effect, { onFailure: (error) => `${error.reason} ${error.code}`, onSuccess: (value) => value })

describe.each(trees)("FileAccess %s: one contract", (_, Files) => {
  it.scoped("realPath and stat resolve symlinks; failures carry their reason and code", () =>
    Effect.gen(function*() {
      const { files, root, tree } = yield* build
      const name = (real: string) => real.slice(real.lastIndexOf("/") + 1)
      const resolved = yield* Effect.forEach(
        ["a.txt", "in", "out", "dir", "missing", "a.txt/x"],
        (entry) => outcome(Effect.map(files.realPath(`${root}/${entry}`), name))
      )
      expect(resolved).toEqual(["a.txt", "a.txt", "secret.txt", "dir", "NotFound ENOENT", "NotFound ENOTDIR"])
      const viaLink = yield* files.stat(`${root}/in`)
      const direct = yield* files.stat(`${root}/a.txt`)
      expect(viaLink).toEqual(direct)
      expect(direct).toMatchObject({ type: "File", size: 6 })
      expect((yield* files.stat(`${root}/dir`)).type).toBe("Directory")
      expect((yield* files.stamp(`${root}/a.txt`)).stamp).toBe(direct.stamp)
      tree.writeFile(`${root}/a.txt`, "ABCDEFG")
      expect((yield* files.stamp(`${root}/a.txt`)).stamp).not.toBe(direct.stamp)
      const items = yield* files.listDirectory(root, (name) => name !== "out")
      expect(items.map(({ kind, name }) => [name, kind]).sort()).toEqual([
        ["a.txt", "File"],
        ["dir", "Directory"],
        ["in", "SymbolicLink"]
      ])
      expect(items.find((item) => item.name === "a.txt")?.size).toBe(7)
      expect(yield* outcome(files.listDirectory(`${root}/a.txt`, () => true))).toBe("NotFound ENOTDIR")
    }).pipe(Effect.provide(Files)))

  it.scoped("readSpan reads the span asked for, and less only where the file ends", () =>
    Effect.gen(function*() {
      const { files, root } = yield* build
      const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
      expect(text(yield* files.readSpan(`${root}/a.txt`, 1, 3))).toBe("bcd")
      expect(text(yield* files.readSpan(`${root}/a.txt`, 4, 10))).toBe("ef")
      expect(yield* outcome(files.readSpan(`${root}/missing`, 0, 1))).toBe("NotFound ENOENT")
    }).pipe(Effect.provide(Files)))

  it.scoped("startRead reads into the buffer given; its effect gives the same count each time; closed is EBADF", () =>
    Effect.gen(function*() {
      const { files, root } = yield* build
      const file = yield* files.open(`${root}/a.txt`)
      const buffer = new Uint8Array(4)
      const pending = yield* files.startRead(file, buffer, 3)
      expect(yield* pending).toBe(3)
      expect(yield* pending).toBe(3)
      expect(new TextDecoder().decode(buffer.subarray(0, 3))).toBe("def")
      yield* files.close(file)
      expect(yield* outcome(Effect.flatten(files.startRead(file, buffer, 0)))).toBe("Other EBADF")
    }).pipe(Effect.provide(Files)))
})

describe("NodeFileAccess directory listings", () => {
  it.scoped("lstat of every kept name, on the event loop or in the thread pool alike; unreadable names left out", () =>
    Effect.gen(function*() {
      const { root } = yield* build
      const path = `${root}/many`
      NFS.mkdirSync(path)
      for (let i = 0; i < 600; i++) NFS.writeFileSync(`${path}/f${i}`, "x".repeat(i % 7))
      NFS.writeFileSync(`${path}/.dot`, "")
      NFS.mkdirSync(`${path}/sub`)
      NFS.symlinkSync("f1", `${path}/link`)
      NFS.symlinkSync("nowhere", `${path}/broken`)
      // more names than one slice on the event loop (512); and bytes that are not UTF-8:
      // the name read back is decoded lossily and names nothing
      NFS.writeFileSync(Buffer.concat([Buffer.from(`${path}/lat`), Buffer.from([0xe9])]), "")
      const expected = NFS.readdirSync(path).filter((name) => !name.startsWith(".") && !name.startsWith("lat"))
        .map((name) => {
          const stats = NFS.lstatSync(`${path}/${name}`)
          const kind = stats.isFile() ? "File" : stats.isDirectory() ? "Directory" : "SymbolicLink"
          return { name, kind, size: stats.size, mtimeMs: stats.mtimeMs }
        })
        .sort((a, b) => (a.name < b.name ? -1 : 1))
      expect(expected).toHaveLength(603)
      const clock = yield* Effect.clock
      for (const where of ["slices", "threadPool"] as const) {
        const items = yield* NodeFileAccess.listDirectory(clock, path, (name) => !name.startsWith("."), where)
        expect([...items].sort((a, b) => (a.name < b.name ? -1 : 1)), where).toEqual(expected)
      }
    }).pipe(Effect.provide(nodeTree)))
})

describe("NodeFileAccess stamps", () => {
  /** A clock by which every reading is `cost()` ms after the last. */
  const steppingClock = (cost: () => number): Clock.Clock => {
    let nanos = 0n
    const live = Clock.make()
    return {
      ...live,
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      unsafeCurrentTimeMillis: () => live.unsafeCurrentTimeMillis(),
      currentTimeMillis: live.currentTimeMillis,
      currentTimeNanos: live.currentTimeNanos,
      sleep: (duration) => live.sleep(duration),
      unsafeCurrentTimeNanos: () => (nanos += BigInt(Math.round(cost() * 1e6)) / 2n)
    }
  }

  it.effect("stamps synchronously until three stats in a row are slow, then in the thread pool", () => {
    let cost = 0
    return Effect.gen(function*() {
      const files = yield* NodeFileAccess.make
      const path = import.meta.filename
      const stamp = yield* files.stamp(path)
      expect(stamp.type).toBe("File")
      expect(stamp.size).toBe(NFS.statSync(path).size)
      cost = 50
      yield* files.stamp(path)
      yield* files.stamp(path)
      cost = 0
      yield* files.stamp(path)
      expect(files.stampsSynchronously()).toBe(true)
      cost = 50
      for (let i = 0; i < NodeFileAccess.SLOW_STATS_TO_SWITCH; i++) yield* files.stamp(path)
      expect(files.stampsSynchronously()).toBe(false)
      // the thread pool gives the same stamp
      expect((yield* files.stamp(path)).stamp).toBe(stamp.stamp)
      expect((yield* Effect.flip(files.stamp(path + ".missing"))).reason).toBe("NotFound")
    }).pipe(Effect.withClock(steppingClock(() => cost)))
  })

  it.effect("a stamp is handed out again only while every field it is made of is the same", () =>
    Effect.gen(function*() {
      const files = yield* NodeFileAccess.make
      const dir = NFS.mkdtempSync(`${os.tmpdir()}/stamps-`)
      try {
        const path = `${dir}/f.txt`
        NFS.writeFileSync(path, "abc")
        const old = new Date("2026-01-01T00:00:00Z")
        NFS.utimesSync(path, old, old)
        const first = yield* files.stamp(path)
        // unchanged: the same stamp, not formatted again
        expect(yield* files.stamp(path)).toBe(first)
        NFS.chmodSync(path, 0o600)
        const chmodded = yield* files.stamp(path)
        expect(chmodded.stamp).not.toBe(first.stamp)
        expect(chmodded.mode).toBe(0o600)
        // same size, mtime put back: the ctime still tells
        NFS.writeFileSync(path, "xyz")
        NFS.utimesSync(path, old, old)
        const rewritten = yield* files.stamp(path)
        expect(rewritten.stamp).not.toBe(chmodded.stamp)
        expect(rewritten.mtimeMs).toBe(first.mtimeMs)
        NFS.writeFileSync(path, "wxyz")
        expect((yield* files.stamp(path)).size).toBe(4)
        // another file renamed over it: another inode
        NFS.writeFileSync(`${dir}/g.txt`, "wxyz")
        const before = yield* files.stamp(path)
        NFS.renameSync(`${dir}/g.txt`, path)
        expect((yield* files.stamp(path)).ino).not.toBe(before.ino)
      } finally {
        NFS.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it.effect("files on a local file system are stamped synchronously (the check waits for a path that exists)", () =>
    Effect.gen(function*() {
      const files = yield* NodeFileAccess.make
      yield* Effect.flip(files.stamp("/no/such/directory/file"))
      expect(files.stampsSynchronously()).toBe(true)
      yield* files.stamp(import.meta.filename)
      const remote = [0x6969, 0x65735546].includes(NFS.statfsSync(import.meta.filename).type >>> 0)
      expect(files.stampsSynchronously()).toBe(!remote)
    }))
})

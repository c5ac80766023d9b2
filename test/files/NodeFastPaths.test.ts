import { FileSystem, Path } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as NFS from "node:fs"
import * as NodeFastPaths from "../../src/files/NodeFastPaths.ts"
import { StaticFiles } from "../../src/files/StaticFiles.ts"

const NodeFs = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const Native = Layer.merge(NodeFastPaths.layer.pipe(Layer.provide(NodeFileSystem.layer)), NodePath.layer)

/** base/root/{a.txt, in -> a.txt, out -> ../secret.txt, dir/}, base/secret.txt */
const tree = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const base = yield* fs.makeTempDirectoryScoped({ prefix: "fiberhttp-realpath-" })
  const root = path.join(base, "root")
  yield* fs.makeDirectory(path.join(root, "dir"), { recursive: true })
  yield* fs.writeFileString(path.join(root, "a.txt"), "a")
  yield* fs.writeFileString(path.join(base, "secret.txt"), "secret")
  yield* fs.symlink("a.txt", path.join(root, "in"))
  yield* fs.symlink("../secret.txt", path.join(root, "out"))
  return { base, root }
}).pipe(Effect.provide(NodeFs))

describe("NodeFastPaths", () => {
  it.scoped("resolves like the default realPath, and fails with the same reasons and codes", () =>
    Effect.gen(function*() {
      const { root } = yield* tree
      const results = yield* Effect.forEach([NodeFs, Native], (layer) =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const resolve = (name: string) =>
            fs.realPath(`${root}/${name}`).pipe(
              Effect.map((real) => real.slice(real.lastIndexOf("/") + 1)),
              Effect.catchAll((error) =>
                Effect.succeed(
                  error._tag === "SystemError"
                    ? `${error.reason} ${(error.cause as NodeJS.ErrnoException | undefined)?.code}`
                    : error._tag
                )
              )
            )
          return yield* Effect.forEach(["a.txt", "in", "out", "dir", "missing", "a.txt/x"], resolve)
        }).pipe(Effect.provide(layer)))
      expect(results[1]).toEqual(["a.txt", "a.txt", "secret.txt", "dir", "NotFound ENOENT", "BadResource ENOTDIR"])
      expect(results[1]).toEqual(results[0])
    }))

  it.scoped("lookups through it keep symlinks that leave the root out", () =>
    Effect.gen(function*() {
      const { root } = yield* tree
      const files = yield* StaticFiles.make(root).pipe(Effect.provide(Native))
      const options = { dotfiles: false }
      expect((yield* files.lookup("/in", options))._tag).toBe("File")
      expect((yield* files.lookup("/out", options))._tag).toBe("NotFound")
      expect((yield* files.lookup("/missing", options))._tag).toBe("NotFound")
      expect((yield* files.lookup("/a.txt/x", options))._tag).toBe("NotFound")
    }))
})

describe("NodeFastPaths: directory reads", () => {
  it.scoped("lstat of every kept name, on the event loop or in the thread pool alike; unreadable names left out", () =>
    Effect.gen(function*() {
      const { root } = yield* tree
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
      for (const where of ["slices", "threadPool"] as const) {
        const items = yield* NodeFastPaths.readDirectory(path, (name) => !name.startsWith("."), where)
        expect([...items].sort((a, b) => (a.name < b.name ? -1 : 1)), where).toEqual(expected)
      }
      const failed = yield* Effect.flip(NodeFastPaths.readDirectory(`${root}/a.txt`, () => true))
      expect(failed.reason).toBe("BadResource")
    }))
})

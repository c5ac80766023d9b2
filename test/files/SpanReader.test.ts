import { FileSystem, Path } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as NFS from "node:fs"
import * as NodeFastPaths from "../../src/files/NodeFastPaths.ts"
import { SpanReader } from "../../src/files/SpanReader.ts"

const NodeFs = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const runsAsRoot = process.getuid?.() === 0

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("SpanReader (from the native layer)", () => {
  const file = Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "fiberhttp-spans-" })
    const name = path.join(dir, "f.txt")
    yield* fs.writeFileString(name, "0123456789")
    return { dir, name }
  }).pipe(Effect.provide(NodeFs))
  const reader = SpanReader.pipe(Effect.provide(NodeFastPaths.layer.pipe(Layer.provide(NodeFileSystem.layer))))

  it.scoped("reads the span asked for, and less only where the file ends", () =>
    Effect.gen(function*() {
      const { name } = yield* file
      const spans = yield* reader
      expect(text(yield* spans.read(name, 0, 10))).toBe("0123456789")
      expect(text(yield* spans.read(name, 3, 4))).toBe("3456")
      expect(text(yield* spans.read(name, 8, 5))).toBe("89")
    }))

  it.scoped("fails like the platform: reason and errno code kept", () =>
    Effect.gen(function*() {
      const { dir, name } = yield* file
      const spans = yield* reader
      const missing = yield* Effect.flip(spans.read(`${dir}/missing`, 0, 1))
      expect(missing).toMatchObject({ _tag: "SystemError", reason: "NotFound", method: "open" })
      expect((missing.cause as NodeJS.ErrnoException).code).toBe("ENOENT")
      const isDir = yield* Effect.flip(spans.read(dir, 0, 1))
      expect((isDir.cause as NodeJS.ErrnoException).code).toBe("EISDIR")
      if (!runsAsRoot) {
        const fs = yield* FileSystem.FileSystem
        yield* fs.chmod(name, 0o000)
        const denied = yield* Effect.flip(spans.read(name, 0, 1))
        expect(denied).toMatchObject({ reason: "PermissionDenied" })
      }
    }).pipe(Effect.provide(NodeFs)))

  it.scoped("startRead reads at once into the buffer given; the effect waits for it and gives the same count each time", () =>
    Effect.gen(function*() {
      const { name } = yield* file
      const spans = yield* reader
      const fd = NFS.openSync(name, "r")
      yield* Effect.addFinalizer(() => Effect.sync(() => NFS.closeSync(fd)))
      const buffer = new Uint8Array(4)
      const pending = spans.startRead(fd, buffer, 6)
      expect(yield* pending).toBe(4)
      expect(text(buffer)).toBe("6789")
      expect(yield* pending).toBe(4)
      // at the end of the file: fewer bytes
      const tail = new Uint8Array(8)
      expect(yield* spans.startRead(fd, tail, 8)).toBe(2)
      expect(text(tail.subarray(0, 2))).toBe("89")
      const closed = yield* Effect.flip(spans.startRead(987654, new Uint8Array(1), 0))
      expect((closed.cause as NodeJS.ErrnoException).code).toBe("EBADF")
    }).pipe(Effect.provide(NodeFs)))
})

import { Path } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NPath from "node:path"
import type { FileAccess } from "../../src/files/FileAccess.ts"
import * as MemoryFileAccess from "../../src/files/MemoryFileAccess.ts"
import * as NodeFileAccess from "../../src/files/NodeFileAccess.ts"

/**
 * A directory tree tests build and change, the same way over either
 * FileAccess layer: one contract, held by the same cases.
 */
export interface Tree {
  /** An empty directory to build in (absolute). */
  readonly base: string
  readonly makeDirectory: (path: string) => void
  /** Creates a file or rewrites it in place. */
  readonly writeFile: (path: string, content: string | Uint8Array) => void
  /** A new file renamed over `path`. */
  readonly replace: (path: string, content: string | Uint8Array) => void
  readonly truncate: (path: string, size: number) => void
  readonly chmod: (path: string, mode: number) => void
  readonly symlink: (target: string, path: string) => void
  /** A FIFO. */
  readonly makeSpecial: (path: string) => void
  readonly remove: (path: string) => void
  /** Whether permission bits bind this process (false for root on a real disk). */
  readonly modesApply: boolean
}

export class TreeOps extends Context.Tag("test/files/TreeOps")<TreeOps, Tree>() {}

const writtenAt = Date.UTC(2026, 0, 1)

/** FileAccess in memory, with a Tree over it based at /base. */
export const memoryTree: Layer.Layer<FileAccess | MemoryFileAccess.MemoryFileTree | TreeOps | Path.Path> = Layer
  .effect(
    TreeOps,
    Effect.map(MemoryFileAccess.MemoryFileTree, (files): Tree => {
      files.makeDirectory("/base")
      return {
        base: "/base",
        makeDirectory: (path) => files.makeDirectory(path),
        // files written before the test's clock started: a real disk's mtimes are long past too
        writeFile: (path, content) => files.writeFile(path, content, { mtimeMs: writtenAt }),
        replace: (path, content) => files.replace(path, content, { mtimeMs: writtenAt }),
        truncate: (path, size) => files.truncate(path, size),
        chmod: (path, mode) => files.chmod(path, mode),
        symlink: (target, path) => files.symlink(target, path),
        makeSpecial: (path) => files.makeSpecial(path),
        remove: (path) => files.remove(path),
        modesApply: true
      }
    })
  ).pipe(Layer.provideMerge(MemoryFileAccess.layer), Layer.merge(Path.layer))

/** FileAccess over node:fs, with a Tree in a fresh temporary directory, removed with the layer. */
export const nodeTree: Layer.Layer<FileAccess | TreeOps | Path.Path> = Layer.mergeAll(
  NodeFileAccess.layer,
  Path.layer,
  Layer.scoped(
    TreeOps,
    Effect.acquireRelease(
      Effect.sync((): Tree => {
        const base = NFS.realpathSync(NFS.mkdtempSync(NPath.join(OS.tmpdir(), "fiberhttp-files-")))
        let counter = 0
        return {
          base,
          makeDirectory: (path) => NFS.mkdirSync(path, { recursive: true }),
          writeFile: (path, content) => NFS.writeFileSync(path, content),
          replace: (path, content) => {
            const temporary = `${path}.${counter++}.tmp`
            NFS.writeFileSync(temporary, content)
            NFS.renameSync(temporary, path)
          },
          truncate: (path, size) => NFS.truncateSync(path, size),
          chmod: (path, mode) => NFS.chmodSync(path, mode),
          symlink: (target, path) => NFS.symlinkSync(target, path),
          makeSpecial: (path) => void execFileSync("mkfifo", [path]),
          remove: (path) => NFS.rmSync(path, { recursive: true }),
          modesApply: process.getuid?.() !== 0
        }
      }),
      (tree) => Effect.sync(() => NFS.rmSync(tree.base, { recursive: true, force: true }))
    )
  )
)

export const trees = [["in memory", memoryTree], ["on disk (node:fs)", nodeTree]] as const

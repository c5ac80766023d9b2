import { type Clock, Context, Duration, Effect, Exit, Layer } from "effect"
import {
  type DirectoryItem,
  FileAccess,
  FileAccessError,
  type FileStat,
  type OpenFile,
  reasonOfCode
} from "./FileAccess.ts"

/**
 * FileAccess over a tree in memory, for tests: files, directories,
 * symlinks and special files (FIFOs), with modes, inode numbers and
 * mtime/ctime from the Clock. Tests change the tree between or during
 * requests, make operations fail with a chosen error code, and slow reads
 * down (by the Clock, so TestClock drives them).
 *
 * Permissions are checked as for the owner: a directory needs its owner's
 * search bit (0o100) to be walked through, a file its read bit (0o400) to be
 * opened. Open files keep their inode, as descriptors do: a file replaced by
 * a rename is still read whole from a file opened before.
 */

type Times = { ino: number; mode: number; mtimeMs: number; ctimeMs: number }
type MemoryNode =
  | Times & { readonly kind: "file"; bytes: Uint8Array }
  | Times & { readonly kind: "directory"; readonly entries: Map<string, MemoryNode> }
  | Times & { readonly kind: "symlink"; readonly target: string }
  | Times & { readonly kind: "special" }

/** The operations that can be made to fail or observed, as FileAccess names them. */
export type MemoryOperation =
  | "realPath"
  | "stat"
  | "stamp"
  | "checkReadable"
  | "readSpan"
  | "open"
  | "read"
  | "listDirectory"

export interface WriteOptions {
  /** Permission bits (default 0o644 for files, 0o755 for directories). */
  readonly mode?: number
  /** Modification time in epoch milliseconds (default: the Clock's now). */
  readonly mtimeMs?: number
}

/** The test's handle on the tree behind MemoryFileAccess. Paths are absolute. */
export interface MemoryFiles {
  /** Creates a directory and any missing parents. */
  readonly makeDirectory: (path: string, options?: WriteOptions) => void
  /** Creates a file, or rewrites an existing one in place (same inode); parents are created. */
  readonly writeFile: (path: string, content: string | Uint8Array, options?: WriteOptions) => void
  /** Puts a new file (a new inode) in place of whatever `path` names, as a rename over it does. */
  readonly replace: (path: string, content: string | Uint8Array, options?: WriteOptions) => void
  /** Adds bytes at the end of a file. */
  readonly append: (path: string, content: string | Uint8Array) => void
  readonly truncate: (path: string, size: number) => void
  readonly chmod: (path: string, mode: number) => void
  readonly symlink: (target: string, path: string) => void
  /** A FIFO, socket or device: something that is neither a file nor a directory. */
  readonly makeSpecial: (path: string) => void
  readonly remove: (path: string) => void
  readonly rename: (from: string, to: string) => void
  /** Makes `operation` on exactly `path` fail with `code` ("EACCES", "EMFILE", "EBADF"...), `times` times (default always). */
  readonly fail: (operation: MemoryOperation, path: string, code: string, times?: number) => void
  /** Runs `action` right before the next `operation` on exactly `path` (to change the tree mid-request). */
  readonly beforeNext: (operation: MemoryOperation, path: string, action: () => void) => void
  /** Reads of `path` (readSpan and reads of an open file) take this long by the Clock. */
  readonly slowReads: (path: string, duration: Duration.DurationInput) => void
  /** Every operation run so far, as "operation path". */
  readonly calls: Array<string>
  /** Files open now. */
  readonly openFiles: () => number
}

export class MemoryFileTree extends Context.Tag("fiberhttp/files/MemoryFileTree")<MemoryFileTree, MemoryFiles>() {}

const encoder = new TextEncoder()
const bytesOf = (content: string | Uint8Array) =>
  typeof content === "string" ? encoder.encode(content) : content.slice()

class Errno extends Error {
  constructor(readonly code: string) {
    super(code)
  }
}

const MAX_NAME = 255
const MAX_PATH = 4096
const MAX_LINKS = 40

const split = (path: string) => path.split("/").filter((part) => part.length > 0)

class MemoryOpenFile implements OpenFile {
  closed = false
  constructor(readonly path: string, readonly node: MemoryNode & { readonly kind: "file" }) {}
}

/** A new tree holding only "/", the FileAccess over it, and the handle tests drive it with. */
export const make = (clock: Clock.Clock): { readonly access: FileAccess["Type"]; readonly files: MemoryFiles } => {
  let nextIno = 2
  const now = () => clock.unsafeCurrentTimeMillis()
  const times = (options?: WriteOptions, fallbackMode = 0o644): Times => {
    const at = now()
    return { ino: nextIno++, mode: options?.mode ?? fallbackMode, mtimeMs: options?.mtimeMs ?? at, ctimeMs: at }
  }
  const root: MemoryNode = { kind: "directory", entries: new Map(), ino: 1, mode: 0o755, mtimeMs: 0, ctimeMs: 0 }
  const calls: Array<string> = []
  const failures: Array<{ operation: MemoryOperation; path: string; code: string; left: number }> = []
  const hooks: Array<{ operation: MemoryOperation; path: string; action: () => void }> = []
  const delays = new Map<string, number>()
  const open = new Set<MemoryOpenFile>()

  /** Walks `path`, following symlinks (the last one only if `followLast`). */
  const walk = (path: string, followLast = true): { node: MemoryNode; real: string } => {
    if (path.length > MAX_PATH) throw new Errno("ENAMETOOLONG")
    let components = split(path)
    let parents: Array<MemoryNode & { kind: "directory" }> = []
    let names: Array<string> = []
    let current: MemoryNode = root
    let links = 0
    let i = 0
    while (i < components.length) {
      const name = components[i]!
      if (name.length > MAX_NAME) throw new Errno("ENAMETOOLONG")
      if (current.kind !== "directory") throw new Errno("ENOTDIR")
      if ((current.mode & 0o100) === 0) throw new Errno("EACCES")
      i++
      if (name === ".") continue
      if (name === "..") {
        current = parents.pop() ?? root
        names.pop()
        continue
      }
      const next: MemoryNode | undefined = current.entries.get(name)
      if (next === undefined) throw new Errno("ENOENT")
      if (next.kind === "symlink" && (i < components.length || followLast)) {
        if (++links > MAX_LINKS) throw new Errno("ELOOP")
        if (next.target.startsWith("/")) {
          parents = []
          names = []
          current = root
        }
        components = [...split(next.target), ...components.slice(i)]
        i = 0
        continue
      }
      parents.push(current)
      names.push(name)
      current = next
    }
    return { node: current, real: "/" + names.join("/") }
  }

  const parentOf = (path: string) => {
    const parts = split(path)
    const name = parts.pop()
    if (name === undefined) throw new Errno("EEXIST")
    const { node } = walk("/" + parts.join("/"))
    if (node.kind !== "directory") throw new Errno("ENOTDIR")
    return { dir: node, name }
  }

  const touch = (node: MemoryNode) => {
    node.mtimeMs = now()
    node.ctimeMs = node.mtimeMs
  }

  const makeDirectory = (path: string, options?: WriteOptions) => {
    let dir = root as MemoryNode & { kind: "directory" }
    for (const name of split(path)) {
      let next = dir.entries.get(name)
      if (next === undefined) {
        next = { kind: "directory", entries: new Map(), ...times(options, 0o755) }
        dir.entries.set(name, next)
      }
      if (next.kind !== "directory") throw new Errno("ENOTDIR")
      dir = next
    }
  }

  const fileAt = (path: string) => {
    const { node } = walk(path)
    if (node.kind !== "file") throw new Errno(node.kind === "directory" ? "EISDIR" : "EINVAL")
    return node
  }

  const put = (path: string, node: MemoryNode) => {
    const { dir, name } = parentOf(path)
    dir.entries.set(name, node)
    touch(dir)
  }

  const files: MemoryFiles = {
    makeDirectory,
    writeFile: (path, content, options) => {
      makeDirectory(split(path).slice(0, -1).join("/"))
      let existing: MemoryNode | undefined
      try {
        existing = walk(path).node
      } catch {
        existing = undefined
      }
      if (existing?.kind !== "file") return files.replace(path, content, options)
      existing.bytes = bytesOf(content)
      touch(existing)
      if (options?.mtimeMs !== undefined) existing.mtimeMs = options.mtimeMs
      if (options?.mode !== undefined) existing.mode = options.mode
    },
    replace: (path, content, options) => {
      makeDirectory(split(path).slice(0, -1).join("/"))
      put(path, { kind: "file", bytes: bytesOf(content), ...times(options) })
    },
    append: (path, content) => {
      const file = fileAt(path)
      const more = bytesOf(content)
      const bytes = new Uint8Array(file.bytes.length + more.length)
      bytes.set(file.bytes)
      bytes.set(more, file.bytes.length)
      file.bytes = bytes
      touch(file)
    },
    truncate: (path, size) => {
      const file = fileAt(path)
      const bytes = new Uint8Array(size)
      bytes.set(file.bytes.subarray(0, size))
      file.bytes = bytes
      touch(file)
    },
    chmod: (path, mode) => {
      const { node } = walk(path)
      node.mode = mode
      node.ctimeMs = now()
    },
    symlink: (target, path) => put(path, { kind: "symlink", target, ...times(undefined, 0o777) }),
    makeSpecial: (path) => put(path, { kind: "special", ...times() }),
    remove: (path) => {
      const { dir, name } = parentOf(path)
      if (!dir.entries.delete(name)) throw new Errno("ENOENT")
      touch(dir)
    },
    rename: (from, to) => {
      const source = parentOf(from)
      const node = source.dir.entries.get(source.name)
      if (node === undefined) throw new Errno("ENOENT")
      source.dir.entries.delete(source.name)
      touch(source.dir)
      node.ctimeMs = now()
      put(to, node)
    },
    fail: (operation, path, code, times = Infinity) => void failures.push({ operation, path, code, left: times }),
    beforeNext: (operation, path, action) => void hooks.push({ operation, path, action }),
    slowReads: (path, duration) => void delays.set(path, Duration.toMillis(duration)),
    calls,
    openFiles: () => open.size
  }

  const errorOf = (operation: string, path: string, code: string) =>
    new FileAccessError({ reason: reasonOfCode(code), code, operation, path, message: `${code}: ${operation} ${path}` })

  /** Records the call, runs its hooks and injected failures, then `body`; an Errno thrown becomes a failure. */
  const run = <A>(operation: MemoryOperation, path: string, body: () => A): Exit.Exit<A, FileAccessError> => {
    calls.push(`${operation} ${path}`)
    const hook = hooks.findIndex((h) => h.operation === operation && h.path === path)
    if (hook >= 0) hooks.splice(hook, 1)[0]!.action()
    const injected = failures.find((f) => f.operation === operation && f.path === path && f.left > 0)
    if (injected !== undefined) {
      injected.left--
      return Exit.fail(errorOf(operation, path, injected.code))
    }
    try {
      return Exit.succeed(body())
    } catch (error) {
      if (error instanceof Errno) return Exit.fail(errorOf(operation, path, error.code))
      throw error
    }
  }

  const statOf = (node: MemoryNode): FileStat => {
    const size = node.kind === "file" ? node.bytes.length : node.kind === "directory" ? 4096 : 0
    return {
      type: node.kind === "file" ? "File" : node.kind === "directory" ? "Directory" : "Other",
      size,
      mtimeMs: node.mtimeMs,
      ino: node.ino,
      mode: node.mode,
      stamp: `1:${node.ino}:${size}:${node.mtimeMs}:${node.ctimeMs}:${node.mode}`
    }
  }

  const readable = (path: string) => {
    const { node } = walk(path)
    if (node.kind === "directory") throw new Errno("EISDIR")
    if (node.kind !== "file") throw new Errno("EINVAL")
    if ((node.mode & 0o400) === 0) throw new Errno("EACCES")
    return node
  }

  /** Waits out the slow-read delay of `path`, if any, then gives `result()`. */
  const afterDelay = <A>(
    path: string,
    result: () => Exit.Exit<A, FileAccessError>
  ): Effect.Effect<A, FileAccessError> => {
    const delay = delays.get(path) ?? 0
    return delay > 0 ? Effect.zipRight(Effect.sleep(delay), Effect.suspend(result)) : Effect.suspend(result)
  }

  const access: FileAccess["Type"] = {
    realPath: (path) => Effect.suspend(() => run("realPath", path, () => walk(path).real)),
    stat: (path) => Effect.suspend(() => run("stat", path, () => statOf(walk(path).node))),
    stamp: (path) => Effect.suspend(() => run("stamp", path, () => statOf(walk(path).node))),
    checkReadable: (path) =>
      Effect.suspend(() =>
        run("checkReadable", path, () => {
          const { node } = walk(path)
          if ((node.mode & 0o400) === 0) throw new Errno("EACCES")
        })
      ),
    readSpan: (path, start, length) =>
      afterDelay(path, () =>
        run("readSpan", path, () => {
          const file = readable(path)
          return file.bytes.slice(start, Math.min(start + length, file.bytes.length))
        })),
    open: (path) =>
      Effect.suspend(() =>
        run("open", path, () => {
          const file = new MemoryOpenFile(path, readable(path))
          open.add(file)
          return file as OpenFile
        })
      ),
    startRead: (file, buffer, position) =>
      Effect.sync(() => {
        const readyAt = now() + (delays.get(file.path) ?? 0)
        // read at once, as the call starts; a slow read only delivers its count later
        const outcome = run("read", file.path, () => {
          if (!(file instanceof MemoryOpenFile) || file.closed) throw new Errno("EBADF")
          const bytes = file.node.bytes.subarray(position, position + buffer.length)
          buffer.set(bytes)
          return bytes.length
        })
        return Effect.suspend(() => {
          const wait = readyAt - now()
          return wait > 0 ? Effect.zipRight(Effect.sleep(wait), outcome) : outcome
        })
      }),
    close: (file) =>
      Effect.sync(() => {
        if (file instanceof MemoryOpenFile) {
          file.closed = true
          open.delete(file)
        }
      }),
    listDirectory: (path, include) =>
      Effect.suspend(() =>
        run("listDirectory", path, () => {
          const { node } = walk(path)
          if (node.kind !== "directory") throw new Errno("ENOTDIR")
          if ((node.mode & 0o400) === 0) throw new Errno("EACCES")
          const items: Array<DirectoryItem> = []
          for (const [name, entry] of node.entries) {
            if (!include(name)) continue
            const kind = entry.kind === "file"
              ? "File"
              : entry.kind === "directory"
              ? "Directory"
              : entry.kind === "symlink"
              ? "SymbolicLink"
              : "Other"
            items.push({ name, kind, size: statOf(entry).size, mtimeMs: entry.mtimeMs })
          }
          return items
        })
      )
  }
  return { access, files }
}

/** FileAccess over a fresh, empty tree in memory, and the MemoryFileTree tests drive it with. */
export const layer: Layer.Layer<FileAccess | MemoryFileTree> = Layer.effectContext(
  Effect.map(Effect.clock, (clock) => {
    const { access, files } = make(clock)
    return Context.make(FileAccess, access).pipe(Context.add(MemoryFileTree, files))
  })
)

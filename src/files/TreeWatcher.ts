import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Stream } from "effect"

/**
 * Whether a changed path is worth a reload: not inside a dot directory or a
 * dotfile (.git during a checkout), nor an editor's scratch file (`x~`,
 * `.x.swp`, vim's `4913` probe, `x.tmp` written then renamed over `x`,
 * JetBrains' `x___jb_tmp___`, emacs' `#x#`).
 */
export const isServedChange = (relative: string): boolean => {
  const segments = relative.split(/[\\/]+/).filter((s) => s !== "")
  if (segments.length === 0) return false
  if (segments.some((s) => s.startsWith("."))) return false
  const name = segments[segments.length - 1]!
  return !(
    name.endsWith("~") || name.endsWith(".swp") || name.endsWith(".swx") || name === "4913" ||
    name.endsWith(".tmp") || name.includes("___jb_") || name.startsWith("#")
  )
}

/**
 * Paths under `root` that change, as `/`-separated paths relative to it,
 * through the platform's recursive watch (Node's fs.watch, or @parcel/watcher
 * where the FileSystem layer is given its backend). Editors' temporary files
 * and dot paths are left out. One element per event: a burst is the
 * consumer's to debounce.
 */
export const watchTree = (root: string): Stream.Stream<string, PlatformError, FileSystem.FileSystem | Path.Path> =>
  Stream.unwrap(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    return fs.watch(root, { recursive: true }).pipe(
      // Node's fs.watch reports paths relative to the root, @parcel/watcher absolute ones
      Stream.map((event) => path.relative(root, path.resolve(root, event.path)).split(path.sep).join("/")),
      Stream.filter(isServedChange)
    )
  }))

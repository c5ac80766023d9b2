import { FileSystem } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import type * as ParcelWatcherModule from "@parcel/watcher"
import { Chunk, Effect, Layer, Option, Stream } from "effect"

const watchError = (path: string, cause: unknown) =>
  new SystemError({ reason: "Unknown", module: "FileSystem", method: "watch", pathOrDescriptor: path, cause })

type ParcelWatcher = typeof ParcelWatcherModule

/**
 * The built CLI is a CommonJS bundle run from a vm.Script, where import()
 * is not available but the bundle's own require is; from sources (tests),
 * import() works.
 */
const loadWatcher = async (): Promise<ParcelWatcher> =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  typeof require === "function" ? (require("@parcel/watcher") as ParcelWatcher) : await import("@parcel/watcher")

/**
 * Whether @parcel/watcher can be loaded here: it is not bundled (a native
 * module) and the published package has no dependencies, so an installed
 * fiberhttp may lack it; --watch then falls back to node:fs.watch.
 */
export const available = (): boolean => {
  try {
    if (typeof require === "function") require.resolve("@parcel/watcher")
    else import.meta.resolve("@parcel/watcher")
    return true
  } catch {
    return false
  }
}

/**
 * A directory's changes, recursively, from @parcel/watcher (inotify on
 * Linux, FSEvents on macOS): chosen over node:fs.watch by measurement (see
 * scratchpad/studies/watcher.ts). The native module is loaded at the first
 * watch, not at start-up: only `server --watch` pays for it.
 */
const watchDirectory = (path: string): Stream.Stream<FileSystem.WatchEvent, SystemError> =>
  Stream.asyncScoped<FileSystem.WatchEvent, SystemError>((emit) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const watcher = await loadWatcher()
          return watcher.subscribe(path, (error, events) => {
            if (error) {
              void emit.fail(watchError(path, error))
              return
            }
            void emit.chunk(Chunk.unsafeFromArray(events.map((event) =>
              event.type === "create"
                ? FileSystem.WatchEventCreate({ path: event.path })
                : event.type === "update"
                ? FileSystem.WatchEventUpdate({ path: event.path })
                : FileSystem.WatchEventRemove({ path: event.path })
            )))
          })
        },
        catch: (cause) => watchError(path, cause)
      }),
      (subscription) => Effect.promise(() => subscription.unsubscribe())
    )
  )

/** The FileSystem's watch backend for directories; single files fall back to node:fs.watch. */
export const layer: Layer.Layer<FileSystem.WatchBackend> = Layer.succeed(
  FileSystem.WatchBackend,
  FileSystem.WatchBackend.of({
    register: (path, stat) => (stat.type === "Directory" ? Option.some(watchDirectory(path)) : Option.none())
  })
)

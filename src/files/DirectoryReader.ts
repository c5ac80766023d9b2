import type { SystemError } from "@effect/platform/Error"
import { Context } from "effect"
import type { Effect } from "effect"

/** One name in a directory, as lstat(2) sees it: a symlink is reported as such, not followed. */
export interface DirectoryItem {
  readonly name: string
  readonly kind: "File" | "Directory" | "SymbolicLink" | "Other"
  readonly size: number
  readonly mtimeMs: number
}

/**
 * Optional: StaticFiles lists directories through it when present (the Node
 * fast path in NodeFastPaths: readdir, then one lstat per name with no
 * effect per name), and through FileSystem otherwise (a realpath and a stat
 * per name as effects, as with a fake file system in tests).
 */
export class DirectoryReader extends Context.Tag("fiberhttp/files/DirectoryReader")<
  DirectoryReader,
  {
    /**
     * The names of `dir` that `include` keeps, each with what lstat says of
     * it. A name that vanished or may not be looked at (ENOENT, EACCES, ...,
     * also a name the platform decoded lossily from bytes that are not UTF-8,
     * which then names nothing) is left out; other failures fail the read.
     */
    readonly read: (
      dir: string,
      include: (name: string) => boolean
    ) => Effect.Effect<ReadonlyArray<DirectoryItem>, SystemError>
  }
>() {}

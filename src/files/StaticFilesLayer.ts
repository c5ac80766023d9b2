import { Path } from "@effect/platform"
import { Effect, Layer } from "effect"
import { makeCachedLookup } from "./CachedLookup.ts"
import { FileAccess } from "./FileAccess.ts"
import { makeReader } from "./FileReader.ts"
import { makeResolver } from "./Resolver.ts"
import { type FileError, StaticFiles } from "./StaticFiles.ts"

export interface StaticFilesOptions {
  /**
   * Bytes of small files (up to chunkSize each) kept in memory; 0 turns the
   * cache off. Default 32 MiB.
   */
  readonly cacheBytes?: number
}

/** StaticFiles over one root directory, through whichever FileAccess is provided. */
export const make = (
  root: string,
  options: StaticFilesOptions = {}
): Effect.Effect<StaticFiles["Type"], FileError, FileAccess | Path.Path> =>
  Effect.gen(function*() {
    const files = yield* FileAccess
    const path = yield* Path.Path
    const clock = yield* Effect.clock
    const resolver = yield* makeResolver(root, files, path)
    const { kept, lookup } = makeCachedLookup(resolver, files, clock, options.cacheBytes ?? 32 * 1024 * 1024)
    const { read, stream } = makeReader(files, kept)
    return { root: resolver.root, lookup, read, stream, list: resolver.list }
  })

export const layer = (
  root: string,
  options?: StaticFilesOptions
): Layer.Layer<StaticFiles, FileError, FileAccess | Path.Path> => Layer.effect(StaticFiles, make(root, options))

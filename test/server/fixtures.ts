import { FileSystem, Path } from "@effect/platform"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Chunk, Effect, Layer, Stream } from "effect"
import * as NodeFileAccess from "../../src/files/NodeFileAccess.ts"
import * as StaticFilesLayer from "../../src/files/StaticFilesLayer.ts"
import { Headers } from "../../src/http/Headers.ts"
import type { RequestHead } from "../../src/http/message.ts"
import type { ServerResponse } from "../../src/server/ServerResponse.ts"

export const NodeFs = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeFileAccess.layer)

export const bigSize = 600 * 1024 + 11
export const bigContent = Uint8Array.from({ length: bigSize }, (_, i) => (i * 7 + (i >> 10)) & 0xff)

/**
 * A served tree in a temporary directory, removed with the test's scope:
 * index.html, hello.txt, style.css, big.bin, docs/ (index.htm), files/ (no
 * index: listed or 404), .secret, and names that need escaping.
 */
export const siteRoot = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "fiberhttp-server-" })
  const at = (...names: Array<string>) => path.join(root, ...names)
  yield* fs.makeDirectory(at("docs"))
  yield* fs.makeDirectory(at("files"))
  yield* fs.makeDirectory(at("files", "sub dir"))
  yield* fs.writeFileString(at("index.html"), "<h1>home</h1>\n")
  yield* fs.writeFileString(at("hello.txt"), "hello world\n")
  yield* fs.writeFileString(at("style.css"), "body{color:red}\n")
  yield* fs.writeFileString(at("empty.txt"), "")
  yield* fs.writeFileString(at(".secret"), "dotfile\n")
  yield* fs.writeFileString(at("docs", "index.htm"), "docs home\n")
  yield* fs.writeFileString(at("files", "a.txt"), "a\n")
  yield* fs.writeFileString(at("files", "<b>&\"x\".txt"), "markup\n")
  yield* fs.writeFile(at("big.bin"), bigContent)
  return root
})

/** A StaticFiles layer over a fresh temporary site (needs a Scope for the directory). */
export const siteLayer = Layer.unwrapScoped(Effect.map(siteRoot, (root) => StaticFilesLayer.layer(root))).pipe(
  Layer.provide(NodeFs),
  Layer.orDie
)

export const request = (
  method: string,
  target: string,
  headers: Record<string, string> = {},
  minor = 1
): RequestHead => ({
  method,
  target,
  version: { major: 1, minor },
  headers: new Headers([["Host", "localhost"], ...Object.entries(headers)]),
  framing: { _tag: "None" },
  keepAlive: true
})

const decoder = new TextDecoder()

/** The whole body of a response. */
export const bodyOf = (response: ServerResponse) => {
  const body = response.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(new Uint8Array(0))
    case "Bytes":
      return Effect.succeed(body.bytes)
    case "Stream":
      // each chunk copied as it comes: a stream may reuse its buffers once the next chunk is pulled
      return Stream.runCollect(Stream.map(body.stream, (c) => c.slice())).pipe(
        Effect.map((chunks) => {
          const out = new Uint8Array(Chunk.reduce(chunks, 0, (n, c) => n + c.length))
          let at = 0
          for (const c of chunks) {
            out.set(c, at)
            at += c.length
          }
          return out
        })
      )
  }
}

export const textOf = (response: ServerResponse) => Effect.map(bodyOf(response), (b) => decoder.decode(b))

/** Byte equality without vitest's deep diff, which is slow on large arrays. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

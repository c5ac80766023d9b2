import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { type FileEntry, StaticFiles } from "../../src/files/StaticFiles.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import * as StaticHandler from "../../src/server/StaticHandler.ts"
import { etagOf } from "../../src/server/StaticHandler.ts"
import { request } from "./fixtures.ts"

const mtime = new Date(Date.UTC(2026, 0, 1, 12, 0, 0, 250))
const here: FileEntry = { path: "/srv/a/x.txt", size: 3, mtime, ino: 1234 }
/** The same file deployed on another machine: another path and inode, same size and mtime. */
const there: FileEntry = { path: "/var/www/x.txt", size: 3, mtime, ino: 98765 }

/** A handler over one file, answering `head`. */
const answer = (file: FileEntry, headers: Record<string, string>) =>
  Effect.gen(function*() {
    const handler = yield* StaticHandler.make({ listing: false, dotfiles: false })
    return yield* handler(request("GET", "/x.txt", headers))
  }).pipe(
    Effect.provide(
      Layer.merge(
        AccessLog.memory({ format: "text", quiet: true, trace: false }).layer,
        Layer.succeed(StaticFiles, {
          root: "/srv",
          lookup: () => Effect.succeed({ _tag: "File", file }),
          read: () => Effect.succeed(new TextEncoder().encode("abc")),
          stream: () => Effect.die("not streamed"),
          list: () => Effect.succeed([])
        })
      )
    )
  )

describe("ETag", () => {
  it("comes from size and mtime only: the same file on two machines has one ETag", () => {
    expect(etagOf(here)).toBe(etagOf(there))
    expect(etagOf(here)).toBe(`"3-${mtime.getTime().toString(16)}"`)
    expect(etagOf({ ...here, size: 4 })).not.toBe(etagOf(here))
    expect(etagOf({ ...here, mtime: new Date(mtime.getTime() + 1) })).not.toBe(etagOf(here))
  })

  it.effect("a tag from one machine revalidates on the other (304), and is strong for If-Range", () =>
    Effect.gen(function*() {
      const first = yield* answer(here, {})
      const tag = first.headers.get("ETag")!
      expect(tag.startsWith("\"")).toBe(true)
      expect((yield* answer(there, { "If-None-Match": tag })).status).toBe(304)
      expect((yield* answer(there, { "If-None-Match": `W/${tag}` })).status).toBe(304)
      // If-Range needs a strong match: the same tag gives the range, its weak form the whole file
      expect((yield* answer(there, { Range: "bytes=0-0", "If-Range": tag })).status).toBe(206)
      expect((yield* answer(there, { Range: "bytes=0-0", "If-Range": `W/${tag}` })).status).toBe(200)
    }))
})

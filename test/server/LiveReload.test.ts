import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { isServedChange } from "../../src/files/TreeWatcher.ts"
import { Headers } from "../../src/http/Headers.ts"
import type { RequestHead } from "../../src/http/message.ts"
import { CLIENT_SCRIPT, EVENTS_PATH, inject, injectedEtag, wrap } from "../../src/server/LiveReload.ts"
import type { Handler, ServerResponse as Response } from "../../src/server/ServerResponse.ts"
import { request } from "./fixtures.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const bytes = (s: string) => new TextEncoder().encode(s)
const script = text(CLIENT_SCRIPT)

const head = (target: string, headers: Record<string, string> = {}): RequestHead => request("GET", target, headers)

describe("live reload: injection", () => {
  it("before the last </body>, else </html>, else at the end; case-insensitive", () => {
    expect(text(inject(bytes("<body>a</body></html>")))).toBe(`<body>a${script}</body></html>`)
    expect(text(inject(bytes("<BODY>a</BODY>")))).toBe(`<BODY>a${script}</BODY>`)
    expect(text(inject(bytes("<p>a</p></html>")))).toBe(`<p>a</p>${script}</html>`)
    expect(text(inject(bytes("<p>a")))).toBe(`<p>a${script}`)
    // the last </body>: one inside a comment or string earlier does not count
    expect(text(inject(bytes("<!-- </body> --><body>x</body>")))).toBe(`<!-- </body> --><body>x${script}</body>`)
  })

  it("keeps multi-byte text intact around the script", () => {
    expect(text(inject(bytes("<body>héllo ✓</body>")))).toBe(`<body>héllo ✓${script}</body>`)
  })

  it("marks the ETag", () => {
    expect(injectedEtag("\"abc\"")).toBe("\"abc-lr\"")
  })
})

describe("live reload: the wrapped handler", () => {
  const page: Response = {
    status: 200,
    headers: new Headers([["Content-Type", "text/html; charset=utf-8"], ["ETag", "\"f1\""]]),
    body: { _tag: "Bytes", bytes: bytes("<body></body>") }
  }
  const seen: Array<RequestHead> = []
  const inner: Handler = (h) => {
    seen.push(h)
    if (h.headers.get("If-None-Match") === "\"f1\"") {
      return Effect.succeed({ status: 304, headers: new Headers([["ETag", "\"f1\""]]), body: { _tag: "Empty" } })
    }
    return Effect.succeed(page)
  }
  const live = { changes: undefined as never, close: Effect.void, streams: Stream.empty }
  const handler = wrap(inner, live)

  it.effect("a page revalidated with its injected ETag: the file's tag is asked, 304 with the injected one", () =>
    Effect.gen(function*() {
      const response = yield* handler(head("/", { "If-None-Match": "\"f1-lr\"" }))
      expect(response.status).toBe(304)
      expect(response.headers.get("ETag")).toBe("\"f1-lr\"")
      expect(seen.at(-1)!.headers.get("If-None-Match")).toBe("\"f1\"")
    }))

  it.effect("a page cached before --watch (the file's own ETag) is sent again, with the script", () =>
    Effect.gen(function*() {
      const response = yield* handler(head("/index.html", { "If-None-Match": "\"f1\"" }))
      expect(response.status).toBe(200)
      expect(response.body._tag === "Bytes" && text(response.body.bytes)).toBe(`<body>${script}</body>`)
    }))

  it.effect("the reserved path answers the event stream, without asking the file handler", () =>
    Effect.gen(function*() {
      const before = seen.length
      const response = yield* handler(head(`${EVENTS_PATH}?x=1`))
      expect(response.headers.get("Content-Type")).toBe("text/event-stream; charset=utf-8")
      expect(response.body._tag === "Stream" && response.body.length).toBe(undefined)
      expect(seen.length).toBe(before)
    }))
})

describe("live reload: which changes count", () => {
  it("served files count; dot paths and editors' scratch files do not", () => {
    for (const p of ["index.html", "css/site.css", "a b/c.js"]) expect(isServedChange(p), p).toBe(true)
    for (const p of [".git/index", "src/.x.swp", "index.html~", "4913", "a.css.tmp", "x___jb_tmp___", "#a.html#", ""]) {
      expect(isServedChange(p), p).toBe(false)
    }
  })
})

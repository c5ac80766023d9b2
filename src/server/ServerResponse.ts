import type { Effect, Stream } from "effect"
import type { FileError } from "../files/StaticFiles.ts"
import { formatHttpDate } from "../http/date.ts"
import { Headers } from "../http/Headers.ts"
import type { RequestHead } from "../http/message.ts"
import { reasonPhrase, serializeResponseHead } from "../http/serialize.ts"
import { VERSION } from "../version.ts"

/**
 * What a handler answers. The connection adds Date, Server, Connection and
 * Content-Length, and leaves the body out for HEAD, 204 and 304.
 */
export interface ServerResponse {
  readonly status: number
  readonly headers: Headers
  readonly body: Body
}

/** Answers one parsed request; never fails (failures become error responses). */
export type Handler = (head: RequestHead) => Effect.Effect<ServerResponse>

export type Body =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  /**
   * `length` bytes, pulled chunk by chunk as the peer takes them. The
   * connection is done with each chunk (the transport has it) before it
   * pulls the next, so a stream may read every chunk into one buffer.
   */
  | {
    readonly _tag: "Stream"
    /**
     * undefined when not known in advance (a body compressed as it goes, an
     * event stream): sent chunked to HTTP/1.1 clients, and to HTTP/1.0 ones
     * until the connection closes.
     */
    readonly length: number | undefined
    readonly stream: Stream.Stream<Uint8Array, FileError>
    /**
     * The answer instead, when the stream fails before its first chunk (no
     * head has gone out yet); without it, a logged 500.
     */
    readonly unavailable?: (error: FileError) => Effect.Effect<ServerResponse>
  }

export const empty: Body = { _tag: "Empty" }

const encoder = new TextEncoder()

const renderErrorPage = (status: number, extra: Headers): ServerResponse => {
  const title = `${status} ${reasonPhrase(status)}`
  const bytes = encoder.encode(
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>` +
      `<body><h1>${title}</h1></body></html>\n`
  )
  return {
    status,
    headers: new Headers([...extra.entries, ["Content-Type", "text/html; charset=utf-8"]]),
    body: { _tag: "Bytes", bytes }
  }
}

/** Pages without extra headers, built once per status: every 404 would otherwise encode its own. */
const plainErrorPages = new Map<number, ServerResponse>()

/** A short HTML page for an error status. Treat it as immutable: plain pages are shared. */
export const errorPage = (status: number, extra?: Headers): ServerResponse => {
  if (extra !== undefined && extra.size > 0) return renderErrorPage(status, extra)
  let page = plainErrorPages.get(status)
  if (page === undefined) {
    page = renderErrorPage(status, new Headers())
    plainErrorPages.set(status, page)
  }
  return page
}

export const html = (status: number, text: string, extra: Headers = new Headers()): ServerResponse => ({
  status,
  headers: new Headers([...extra.entries, ["Content-Type", "text/html; charset=utf-8"]]),
  body: { _tag: "Bytes", bytes: encoder.encode(text) }
})

export const SERVER = `fiberhttp/${VERSION}`

let dateCache = { second: -1, value: "" }
/** The Date header for `nowMs`; it changes once a second, so it is formatted once a second. */
export const dateHeader = (nowMs: number): string => {
  const second = Math.floor(nowMs / 1000)
  if (dateCache.second !== second) dateCache = { second, value: formatHttpDate(nowMs) }
  return dateCache.value
}

/**
 * A whole error response that closes the connection, as bytes, for answers
 * given outside the request loop (503 at accept, 408 from the watchdog).
 */
export const encodeClosingError = (
  status: number,
  nowMs: number,
  extra: Headers = new Headers()
): { readonly bytes: Uint8Array; readonly bodyLength: number } => {
  const page = errorPage(status, extra)
  const body = page.body._tag === "Bytes" ? page.body.bytes : new Uint8Array(0)
  const head = serializeResponseHead({
    status,
    headers: [
      ["Date", dateHeader(nowMs)],
      ["Server", SERVER],
      ...page.headers.entries,
      ["Content-Length", String(body.length)],
      ["Connection", "close"]
    ]
  })
  const bytes = new Uint8Array(head.length + body.length)
  bytes.set(head)
  bytes.set(body, head.length)
  return { bytes, bodyLength: body.length }
}

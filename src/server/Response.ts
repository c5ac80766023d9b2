import type { Stream } from "effect"
import { Headers } from "../http/Headers.ts"
import { reasonPhrase } from "../http/serialize.ts"
import type { FileError } from "../files/StaticFiles.ts"

/**
 * What a handler answers. The connection adds Date, Server, Connection and
 * Content-Length, and leaves the body out for HEAD, 204 and 304.
 */
export interface Response {
  readonly status: number
  readonly headers: Headers
  readonly body: Body
}

export type Body =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  /** `length` bytes, pulled chunk by chunk as the peer takes them. */
  | { readonly _tag: "Stream"; readonly length: number; readonly stream: Stream.Stream<Uint8Array, FileError> }

export const empty: Body = { _tag: "Empty" }

const encoder = new TextEncoder()

/** A short HTML page for an error status. */
export const errorPage = (status: number, extra: Headers = new Headers()): Response => {
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

export const html = (status: number, text: string, extra: Headers = new Headers()): Response => ({
  status,
  headers: new Headers([...extra.entries, ["Content-Type", "text/html; charset=utf-8"]]),
  body: { _tag: "Bytes", bytes: encoder.encode(text) }
})

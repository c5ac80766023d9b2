import type { HttpParseError } from "./errors.ts"
import type { Headers } from "./Headers.ts"

/** How a message's body is delimited (RFC 9112 section 6). */
export type BodyFraming =
  | { readonly _tag: "None" }
  | { readonly _tag: "ContentLength"; readonly length: number }
  | { readonly _tag: "Chunked" }
  /** Responses only: the body runs until the server closes the connection. */
  | { readonly _tag: "UntilClose" }

export interface HttpVersion {
  readonly major: number
  readonly minor: number
}

export interface RequestHead {
  readonly method: string
  /** The request target exactly as sent (origin-form, absolute-form, ...). */
  readonly target: string
  readonly version: HttpVersion
  readonly headers: Headers
  readonly framing: BodyFraming
  /** Persistent connection per RFC 9112 section 9.3 (version + Connection). */
  readonly keepAlive: boolean
}

export interface ResponseHead {
  readonly version: HttpVersion
  readonly status: number
  readonly reason: string
  readonly headers: Headers
  readonly framing: BodyFraming
  readonly keepAlive: boolean
}

/**
 * What an incremental parser reports. `Body` chunks are views into the input
 * passed to `execute` (no copy): use or copy them before reusing that buffer.
 */
export type ParseEvent<Head> =
  /** An interim (1xx) response head, reported and passed over: the final head follows. */
  | { readonly _tag: "Interim"; readonly head: Head }
  | { readonly _tag: "Head"; readonly head: Head }
  | { readonly _tag: "Body"; readonly chunk: Uint8Array }
  | { readonly _tag: "End"; readonly trailers: Headers }

export interface ParseResult<Head> {
  /** Bytes of the input consumed; the rest belongs to the next call. */
  readonly consumed: number
  readonly events: ReadonlyArray<ParseEvent<Head>>
  /** Set when the input is rejected; the parser then stays failed. */
  readonly error?: HttpParseError
}

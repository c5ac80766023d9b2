import { Data } from "effect"
import type { HttpParseError } from "../http/errors.ts"
import type { ConnectError, ResolveError, SocketError, TlsError } from "../net/errors.ts"
import type { InvalidTarget, UsageError } from "./Target.ts"

/** --connect-timeout or --max-time ran out (curl exit 28). */
export class TimeoutError extends Data.TaggedError("TimeoutError")<{
  readonly phase: "connect" | "transfer"
  readonly millis: number
}> {}

/** -L followed more redirects than --max-redirects allows (curl exit 47). */
export class TooManyRedirects extends Data.TaggedError("TooManyRedirects")<{
  readonly max: number
}> {}

/** The server closed the connection without sending a byte (curl exit 52). */
export class EmptyReply extends Data.TaggedError("EmptyReply")<{}> {}

/** Sending the request failed on an established connection (curl exit 55). */
export class SendError extends Data.TaggedError("SendError")<{
  readonly cause: SocketError
}> {}

/** Reading the response failed, e.g. a reset mid-response (curl exit 56). */
export class ReceiveError extends Data.TaggedError("ReceiveError")<{
  readonly cause: SocketError
}> {}

/** The connection closed before the response ended (curl exit 18, "partial file"). */
export class TruncatedResponse extends Data.TaggedError("TruncatedResponse")<{
  /** Body bytes received (and already printed or saved). */
  readonly received: number
  /** The close came before the end of the status line and header section. */
  readonly inHead: boolean
}> {}

/**
 * The response is not valid HTTP/1.1. Where it went wrong decides curl's
 * number: a reply that is not HTTP at all (curl's "HTTP/0.9 when not
 * allowed", exit 1), a bad head (exit 8), bad chunked framing or trailers
 * after a good head (curl's receive error, exit 56).
 */
export class MalformedResponse extends Data.TaggedError("MalformedResponse")<{
  readonly cause: HttpParseError
  readonly part: "protocol" | "head" | "body"
}> {}

/** -f/--fail: the server answered 400 or more (curl exit 22). */
export class HttpStatusError extends Data.TaggedError("HttpStatusError")<{
  readonly status: number
  readonly reason: string
}> {}

/** -C: the server ignored the range, so the file cannot be resumed (curl exit 33). */
export class ResumeError extends Data.TaggedError("ResumeError")<{
  readonly status: number
}> {}

/** --cacert/--capath could not be read or holds no certificate (curl exit 77). */
export class CaCertError extends Data.TaggedError("CaCertError")<{
  readonly path: string
  readonly message: string
}> {}

/** --compressed: the body does not decode with its Content-Encoding (curl exit 61). */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly encoding: string
  readonly message: string
}> {}

/** Binary output refused on a terminal (curl exit 23, with its warning). */
export class BinaryToTerminal extends Data.TaggedError("BinaryToTerminal")<{}> {}

/** The body could not be written where it goes (-o FILE) or --data-file could not be read (curl exit 23 / 26). */
export class LocalIoError extends Data.TaggedError("LocalIoError")<{
  readonly direction: "read" | "write"
  readonly path: string
  readonly message: string
}> {}

/** Everything that can end one target's request. */
export type RequestError =
  | ResolveError
  | ConnectError
  | TlsError
  | TimeoutError
  | TooManyRedirects
  | EmptyReply
  | SendError
  | ReceiveError
  | TruncatedResponse
  | MalformedResponse
  | LocalIoError
  | InvalidTarget
  | HttpStatusError
  | ResumeError
  | CaCertError
  | DecodeError
  | BinaryToTerminal

export type ClientError = RequestError | UsageError

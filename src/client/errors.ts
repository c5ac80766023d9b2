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

/** The response is not valid HTTP/1.1 (curl exit 8). */
export class MalformedResponse extends Data.TaggedError("MalformedResponse")<{
  readonly cause: HttpParseError
}> {}

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

export type ClientError = RequestError | UsageError

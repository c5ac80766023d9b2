import { Data } from "effect"

/** A read or write on an established connection failed (reset, broken pipe, ...). */
export class SocketError extends Data.TaggedError("SocketError")<{
  readonly reason: "Reset" | "Closed" | "Unknown"
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * The system refused to accept a connection on an open listener: out of file
 * descriptors (EMFILE for the process, ENFILE for the system) or another
 * accept(2) failure. The listener stays open; a later accept may succeed.
 */
export class AcceptError extends Data.TaggedError("AcceptError")<{
  readonly reason: "OutOfDescriptors" | "Unknown"
  readonly message: string
  readonly cause?: unknown
}> {}

/** A listener could not be opened on host:port (in use, no permission, bad address). */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly host: string
  readonly port: number
  readonly reason: "AddressInUse" | "PermissionDenied" | "AddressNotAvailable" | "Unknown"
  readonly message: string
  readonly cause?: unknown
}> {}

/** A host name did not resolve (curl exit 6). */
export class ResolveError extends Data.TaggedError("ResolveError")<{
  readonly host: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** A TCP connection could not be established (curl exit 7). */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly host: string
  readonly port: number
  readonly reason: "Refused" | "Unreachable" | "Unknown"
  readonly message: string
  readonly cause?: unknown
}> {}

/** The TLS handshake (curl exit 35) or certificate verification (curl exit 60) failed. */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly host: string
  readonly reason: "Handshake" | "Certificate"
  readonly message: string
  readonly cause?: unknown
}> {}

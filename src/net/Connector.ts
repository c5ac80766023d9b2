import { Context, type Effect, type Scope } from "effect"
import type { Connection } from "./Connection.ts"
import type { ConnectError, ResolveError, TlsError } from "./errors.ts"

export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

export interface TlsOptions {
  /** SNI name and the name the certificate is verified against. */
  readonly servername: string
  /** false only with --insecure. */
  readonly verify: boolean
  /** PEM certificates trusted instead of the system's (--cacert, --capath); undefined: the system's. */
  readonly ca: ReadonlyArray<string> | undefined
}

/**
 * When something began and ended, in nanoseconds on the connector's clock
 * (the clock of the connections it opens, `Connection.now`).
 */
export interface Span {
  readonly startedAt: bigint
  readonly endedAt: bigint
}

export interface Resolution {
  readonly addresses: ReadonlyArray<ResolvedAddress>
  /** The name lookup; undefined for an IP literal, which needs none. */
  readonly lookup: Span | undefined
}

export interface Connected {
  readonly connection: Connection
  /**
   * From just before the connect system call was issued (after the socket's
   * own set-up) to the socket's connect callback: the TCP handshake.
   */
  readonly handshake: Span
  /** The `first` bytes: from just before their write to when the transport took the last of them. */
  readonly sent: Span | undefined
}

/**
 * Bytes to send the moment the connection is up (a request head), written
 * from the transport's own connect callback: none of the caller's work runs
 * between the handshake and the request going out.
 */
export interface FirstFlight {
  readonly bytes: Uint8Array
  /**
   * How long (milliseconds) the connector may hold its answer back after
   * sending `bytes` (the whole request) while no reply has begun: the
   * caller's work on resuming then does not delay the read of a quick reply.
   * 0 to answer at once. A transport that cannot tell may answer at once.
   */
  readonly awaitReplyFor: number
}

/**
 * The client's way out, one step at a time (resolve, connect, TLS), each
 * reporting the instants it saw where they happened (in the socket's
 * callbacks, on the clock its layer was given), so the client times the
 * network rather than its own scheduling. Connections are destroyed when
 * the scope they were opened in closes.
 */
export class Connector extends Context.Tag("fiberhttp/net/Connector")<
  Connector,
  {
    readonly resolve: (host: string) => Effect.Effect<Resolution, ResolveError>
    readonly connect: (
      address: ResolvedAddress,
      port: number,
      host: string,
      first?: FirstFlight
    ) => Effect.Effect<Connected, ConnectError, Scope.Scope>
    /** The TLS connection over `connection`; its handshake from the ClientHello to 'secureConnect' (`sent` undefined). */
    readonly startTls: (
      connection: Connection,
      options: TlsOptions
    ) => Effect.Effect<Connected, TlsError, Scope.Scope>
  }
>() {}

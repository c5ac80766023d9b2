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
 * The client's way out: each step is separate so that the client can time
 * DNS, TCP connect and TLS handshake with `Clock` on its own.
 * Connections are destroyed when the scope they were opened in closes.
 */
export class Connector extends Context.Tag("fiberhttp/net/Connector")<
  Connector,
  {
    readonly resolve: (host: string) => Effect.Effect<ReadonlyArray<ResolvedAddress>, ResolveError>
    readonly connect: (
      address: ResolvedAddress,
      port: number,
      host: string
    ) => Effect.Effect<Connection, ConnectError, Scope.Scope>
    readonly startTls: (
      connection: Connection,
      options: TlsOptions
    ) => Effect.Effect<Connection, TlsError, Scope.Scope>
  }
>() {}

import { Effect, ExecutionStrategy, Exit, Scope } from "effect"
import type { Headers } from "../http/Headers.ts"
import type { ResponseHead } from "../http/message.ts"
import { type InvalidHeadError, serializeRequestHead } from "../http/serialize.ts"
import type { Connection } from "../net/Connection.ts"
import { type Connected, Connector, type FirstFlight, type ResolvedAddress, type Span } from "../net/Connector.ts"
import type { ConnectError } from "../net/errors.ts"
import { EmptyReply, ReceiveError, type RequestError, SendError, TimeoutError, TooManyRedirects } from "./errors.ts"
import { type BodySink, exchange } from "./Exchange.ts"
import { type RequestBody, requestHeaders, type RequestSpec } from "./RequestSpec.ts"
import { InvalidTarget, resolveLocation, type Target } from "./Target.ts"
import { type HeadTimings, headTimings, type OpeningInstants, type Timings, timingsOf } from "./Timings.ts"

/** How requests go out: the parts of the command line that are not about output. */
export interface FetchOptions {
  readonly spec: RequestSpec
  readonly followRedirects: boolean
  readonly maxRedirects: number
  /** Milliseconds for DNS + TCP + TLS, or undefined for no limit. */
  readonly connectTimeout: number | undefined
  readonly insecure: boolean
  /** --location-trusted: -H credentials go to every origin a redirect leads to. */
  readonly locationTrusted: boolean
  /** --resolve: addresses for host:port instead of DNS. */
  readonly resolve: ReadonlyArray<ResolveOverride>
  /** --connect-to: host:port pairs connected to instead of the URL's. */
  readonly connectTo: ReadonlyArray<ConnectTo>
  /** --cacert/--capath: PEM certificates trusted instead of the system's. */
  readonly ca: ReadonlyArray<string> | undefined
}

/** --resolve HOST:PORT:ADDR[,ADDR]. */
export interface ResolveOverride {
  readonly host: string
  readonly port: number
  readonly addresses: ReadonlyArray<ResolvedAddress>
}

/** --connect-to HOST1:PORT1:HOST2:PORT2; an undefined part matches any, or keeps the URL's. */
export interface ConnectTo {
  readonly fromHost: string | undefined
  readonly fromPort: number | undefined
  readonly toHost: string | undefined
  readonly toPort: number | undefined
}

/** Where a target's connection goes: the URL's host and port unless --connect-to says otherwise. */
export const routeOf = (target: Target, rules: ReadonlyArray<ConnectTo>): { host: string; port: number } => {
  const rule = rules.find((r) =>
    (r.fromHost === undefined || r.fromHost.toLowerCase() === target.host.toLowerCase()) &&
    (r.fromPort === undefined || r.fromPort === target.port)
  )
  return { host: rule?.toHost ?? target.host, port: rule?.toPort ?? target.port }
}

/** Request fields that carry credentials: not sent to another origin after a redirect unless trusted. */
const credentialFields = new Set(["authorization", "cookie", "proxy-authorization"])

/** One response received: a redirect on the way, or the final one. */
export interface Hop {
  readonly target: Target
  readonly head: ResponseHead
  /** Interim (1xx) responses before the final head. */
  readonly interims: ReadonlyArray<ResponseHead>
  readonly trailers: Headers
  readonly bodyBytes: number
  readonly timings: Timings
  readonly reused: boolean
  readonly remoteAddress: string
}

/** A response head as it arrives, with the timings so far. */
export interface HeadInfo {
  readonly target: Target
  readonly head: ResponseHead
  /** Interim (1xx) responses that came before this head, in order. */
  readonly interims: ReadonlyArray<ResponseHead>
  /** -L will follow this response: its body is not the answer. */
  readonly redirecting: boolean
  readonly timings: HeadTimings
}

/** Told about each response head as it arrives; returns where that body goes. */
export type OnHead<E, R> = (info: HeadInfo) => Effect.Effect<BodySink<E, R>, E, R>

const redirectStatuses = new Set([301, 302, 303, 307, 308])

/** Interim (1xx) heads kept per response for showing; more are read and passed over. */
const MAX_INTERIMS_KEPT = 16

/** Milliseconds a new connection's connector may hold its answer for the reply to begin (see `FirstFlight`). */
const REPLY_WAIT = 100

const idempotent = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"])

interface OpenConnection {
  readonly origin: string
  readonly connection: Connection
  readonly scope: Scope.CloseableScope
  /** Taken when the connection opened: the socket forgets it once closed. */
  readonly remoteAddress: string
}

const originOf = (target: Target) => `${target.scheme}://${target.host}:${target.port}`

/**
 * A client session: one kept-alive connection at a time, reused by the next
 * request to the same origin (the rounds of --count, a redirect to the same
 * server) when both sides allow it, and closed with the session's scope.
 */
export const makeSession = (options: FetchOptions) =>
  Effect.gen(function*() {
    const connector = yield* Connector
    const sessionScope = yield* Effect.scope
    let current: OpenConnection | undefined

    const discard = Effect.suspend(() => {
      const open = current
      current = undefined
      return open === undefined ? Effect.void : Scope.close(open.scope, Exit.void)
    })
    yield* Effect.addFinalizer(() => discard)

    /** DNS, then TCP to each address in turn until one answers, then TLS for https. */
    const openConnection = (target: Target, first: FirstFlight | undefined) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(sessionScope, ExecutionStrategy.sequential)
        const route = routeOf(target, options.connectTo)
        const override = options.resolve.find((r) =>
          r.host.toLowerCase() === route.host.toLowerCase() && r.port === route.port
        )
        const opening = Effect.gen(function*() {
          // --resolve gives the addresses: no lookup
          const { addresses, lookup } = override === undefined
            ? yield* connector.resolve(route.host)
            : { addresses: override.addresses, lookup: undefined }
          let connected: Connected | undefined
          let lastError: ConnectError | undefined
          for (const address of addresses) {
            const attempt = yield* Effect.either(
              connector.connect(address, route.port, route.host, target.scheme === "https" ? undefined : first)
            )
            if (attempt._tag === "Right") {
              connected = attempt.right
              break
            }
            lastError = attempt.left
          }
          if (connected === undefined) return yield* Effect.fail(lastError!)
          let connection = connected.connection
          let tls: Span | undefined
          let sent = connected.sent
          if (target.scheme === "https") {
            const secured = yield* connector.startTls(connection, {
              servername: target.host,
              verify: !options.insecure,
              ca: options.ca
            })
            connection = secured.connection
            tls = secured.handshake
            sent = secured.sent
          }
          const instants: OpeningInstants = { lookup, connect: connected.handshake, tls }
          return { connection, remoteAddress: connection.remoteAddress, instants, sent }
        }).pipe(Scope.extend(scope))
        const limited = options.connectTimeout === undefined
          ? opening
          : Effect.timeoutFail(opening, {
            duration: options.connectTimeout,
            onTimeout: () => new TimeoutError({ phase: "connect", millis: options.connectTimeout! })
          })
        return yield* limited.pipe(
          Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))),
          Effect.map((opened) => ({ ...opened, scope }))
        )
      })

    /** One request on the kept connection to the target's origin, or on a new one. */
    const request = <E, R>(
      target: Target,
      method: string,
      body: RequestBody | undefined,
      spec: RequestSpec,
      onHead: OnHead<E, R>
    ) =>
      Effect.gen(function*() {
        const origin = originOf(target)
        if (current !== undefined && current.origin !== origin) yield* discard
        let headArrived = false
        let replyBegan = false
        // Method and -H fields were checked on the command line; a path the
        // URL parser left outside the URI characters is the target's fault.
        const headers = requestHeaders(target, spec, body)
        const upgrade = headers.some(([name]) => name.toLowerCase() === "upgrade")
        const head = yield* Effect.try({
          try: () => serializeRequestHead({ method, target: target.path, headers }),
          catch: (error) => new InvalidTarget({ input: target.url, message: (error as InvalidHeadError).message })
        })

        const attempt = (reusing: OpenConnection | undefined) =>
          Effect.gen(function*() {
            const interims: Array<ResponseHead> = []
            let opening: OpeningInstants | undefined
            let sent: Span | undefined
            let open = reusing
            if (open === undefined) {
              // A request without a body goes out from the connect callback,
              // and the connector holds its answer until the reply begins (at
              // most REPLY_WAIT), so that this fiber's work delays neither the
              // request nor the reply's read callback. Not under
              // --connect-timeout, whose clock would count that wait. A body
              // goes out with its head from the exchange's sending fiber.
              const first = body === undefined
                ? { bytes: head, awaitReplyFor: options.connectTimeout === undefined ? REPLY_WAIT : 0 }
                : undefined
              const fresh = yield* openConnection(target, first)
              opening = fresh.instants
              sent = fresh.sent
              open = { origin, connection: fresh.connection, scope: fresh.scope, remoteAddress: fresh.remoteAddress }
              current = open
            }
            let redirecting = false
            const result = yield* exchange({
              connection: open.connection,
              method,
              head,
              body,
              upgrade,
              sent,
              onFirstByte: () => {
                replyBegan = true
              },
              // a flood of 1xx must not grow memory: the first few are kept for showing
              onInterim: (interim) =>
                Effect.sync(() => {
                  if (interims.length < MAX_INTERIMS_KEPT) interims.push(interim)
                }),
              onHead: (response, instants) => {
                headArrived = true
                redirecting = options.followRedirects &&
                  redirectStatuses.has(response.status) &&
                  response.headers.get("location") !== undefined
                return onHead({
                  target,
                  head: response,
                  interims,
                  redirecting,
                  timings: headTimings(opening, instants)
                })
              }
            }).pipe(Effect.onExit((exit) => (Exit.isSuccess(exit) && exit.value.reusable ? Effect.void : discard)))
            const hop: Hop = {
              target,
              head: result.head,
              interims,
              trailers: result.trailers,
              bodyBytes: result.bodyBytes,
              reused: reusing !== undefined,
              remoteAddress: open.remoteAddress,
              timings: timingsOf(opening, result)
            }
            return { hop, redirecting }
          })

        const reusing = current
        if (reusing === undefined) return yield* attempt(undefined)
        // A kept-alive connection the server has meanwhile closed fails before
        // any response arrives: the request goes again on a new connection.
        // An idempotent one may go again whenever no final head had arrived
        // (RFC 9110 section 9.2.2); any other only when not one byte of a
        // reply had arrived, which is when curl resends a request on a reused
        // connection.
        const retryable = (error: unknown): error is EmptyReply | SendError | ReceiveError =>
          (error instanceof EmptyReply || error instanceof SendError || error instanceof ReceiveError) &&
          (idempotent.has(method) ? !headArrived : !replyBegan)
        return yield* attempt(reusing).pipe(Effect.catchIf(retryable, () => attempt(undefined)))
      })

    /** A request with -L applied: each hop is reported to `onHead`, the list of hops returned. */
    const fetch = <E, R>(
      target: Target,
      onHead: OnHead<E, R>
    ): Effect.Effect<ReadonlyArray<Hop>, RequestError | E, R> =>
      Effect.gen(function*() {
        const hops: Array<Hop> = []
        let method = options.spec.method
        let body = options.spec.body
        let next = target
        // A -H Host names a virtual host on the first server: like curl, it is
        // not sent to another host a redirect leads to. Credentials given with
        // -H (Authorization, Cookie, Proxy-Authorization) are for the first
        // origin alone: another host, port or scheme does not get them
        // (curl's rule) unless --location-trusted says so.
        const specFor = (hop: Target): RequestSpec => {
          const otherHost = hop.host !== target.host
          const otherOrigin = originOf(hop) !== originOf(target) && !options.locationTrusted
          if (!otherHost && !otherOrigin) return options.spec
          return {
            ...options.spec,
            headers: options.spec.headers.filter(([name]) => {
              const lower = name.toLowerCase()
              return !(otherHost && lower === "host") && !(otherOrigin && credentialFields.has(lower))
            })
          }
        }
        while (true) {
          const spec = specFor(next)
          const { hop, redirecting } = yield* request(next, method, body, spec, onHead)
          hops.push(hop)
          if (!redirecting) return hops
          if (hops.length > options.maxRedirects) {
            return yield* Effect.fail(new TooManyRedirects({ max: options.maxRedirects }))
          }
          next = yield* resolveLocation(next, hop.head.headers.get("location")!)
          const status = hop.head.status
          // 303 always, and 301/302 after a POST, continue as GET without the body (RFC 9110 15.4).
          if ((status === 303 && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")) {
            method = "GET"
            body = undefined
          }
        }
      })

    return { fetch }
  })

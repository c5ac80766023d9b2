import {
  Cause,
  Clock,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Fiber,
  FiberId,
  FiberSet,
  Option,
  Runtime,
  RuntimeFlags,
  Scope
} from "effect"
import { Headers } from "../http/Headers.ts"
import type { Connection } from "../net/Connection.ts"
import type { AcceptError, ListenError, SocketError } from "../net/errors.ts"
import { formatHostPort } from "../net/hostPort.ts"
import { type Listener, SocketServer } from "../net/SocketServer.ts"
import { AccessLog, formatPeer, type TraceEvent } from "./AccessLog.ts"
import { type ConnectionLimits, ConnectionState, serveConnection } from "./HttpConnection.ts"
import { type ConnectionView, phaseOf, rateOf, type ServerView } from "./Lifecycle.ts"
import * as ServerResponse from "./ServerResponse.ts"
import { makeWatchdogs } from "./Watchdog.ts"

export interface ServerConfig {
  readonly host: string
  /** One listener each; 0 picks a free port. */
  readonly ports: ReadonlyArray<number>
  /** Connections served at once; more are answered 503 and closed. */
  readonly maxConnections: number
  readonly headerTimeout: Duration.DurationInput
  readonly keepAliveTimeout: Duration.DurationInput
  readonly writeTimeout: Duration.DurationInput
  readonly maxRequests: number
  /** At shutdown, how long responses in flight may take to finish. */
  readonly grace: Duration.DurationInput
}

export const defaults = {
  host: "127.0.0.1",
  ports: [8080],
  maxConnections: 1024,
  headerTimeout: Duration.seconds(30),
  keepAliveTimeout: Duration.seconds(5),
  writeTimeout: Duration.seconds(30),
  maxRequests: 1000,
  grace: Duration.seconds(2)
} satisfies ServerConfig

export interface BoundAddress {
  readonly host: string
  readonly port: number
}

export interface RunningServer {
  /** In the order of `config.ports`, with the real port for port 0. */
  readonly addresses: ReadonlyArray<BoundAddress>
}

/** "#42" for a fiber's id; FiberId.threadName does the same through a set, once per connection. */
const fiberName = (id: FiberId.FiberId): string => (id._tag === "Runtime" ? `#${id.id}` : FiberId.threadName(id))

/** A connection being served, as the server tracks it. */
class LiveConnection extends ConnectionState {
  fiber: Fiber.RuntimeFiber<void> | undefined = undefined
  constructor(
    readonly conn: Connection,
    /** Monotonic milliseconds, for the inspector's ages. */
    readonly acceptedAt: number
  ) {
    super()
  }
}

/**
 * After an accept the system refused (out of descriptors), the loop pauses
 * this long before the next, doubling while it keeps failing, up to
 * ACCEPT_BACKOFF_MAX_MS; the connections being served go on meanwhile.
 */
const ACCEPT_BACKOFF_MS = 100
const ACCEPT_BACKOFF_MAX_MS = 1000
/** Refused accepts are logged at most this often (per server). */
const ACCEPT_LOG_INTERVAL_MS = 1000

/** A refused connection gets this long to take its 503 before it is dropped. */
const REFUSAL_TIMEOUT = Duration.seconds(1)

/**
 * Serves HTTP on every port of `config` until the caller's scope closes.
 *
 * Scope tree: the server scope holds four child scopes: the listeners (closed
 * all at once), one accept fiber per listener, the FiberSet of connection
 * fibers, and the watchdogs (one fiber for every connection's deadlines). A
 * connection is recorded as open in the same uninterruptible step that takes
 * it from the listener, and its fiber starts uninterruptible: only its
 * serving can be interrupted, so it always destroys its socket on the way
 * out. Closing the server scope runs `shutdown`, one sequence in this order:
 * listeners closed (ports free; pending accepts fail, so the accept loops
 * end); accept fibers awaited; connections between requests interrupted,
 * those writing a response given `grace` to finish (unless their peer takes
 * no byte for SHUTDOWN_STALL_MS); then every fiber still running
 * interrupted; then any connection whose fiber never ran destroyed; then the
 * watchdogs stopped.
 *
 * If a port cannot be bound, the listeners already open are closed and the
 * ListenError (naming host, port and reason) is the failure.
 */
export const serve = (
  config: ServerConfig,
  handler: ServerResponse.Handler
): Effect.Effect<RunningServer, ListenError, Scope.Scope | SocketServer | AccessLog> =>
  Effect.gen(function*() {
    const sockets = yield* SocketServer
    const log = yield* AccessLog
    const serverScope = yield* Effect.scope
    const limits: ConnectionLimits = {
      headerTimeoutMs: Duration.toMillis(config.headerTimeout),
      keepAliveTimeoutMs: Duration.toMillis(config.keepAliveTimeout),
      writeTimeoutMs: Duration.toMillis(config.writeTimeout),
      maxRequests: config.maxRequests
    }

    const trace = (
      event: TraceEvent,
      connection: string,
      fiber: string,
      parent: string,
      detail?: string,
      served?: number
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        log.trace({
          time: new Date(now),
          event,
          connection,
          fiber,
          parent,
          ...(detail === undefined ? {} : { detail }),
          ...(served === undefined ? {} : { served })
        }))
    /** A step of the server scope itself, run by the fiber that closes it. */
    const traceServer = (event: TraceEvent, detail: string) =>
      log.tracing
        ? Effect.flatMap(Effect.fiberId, (id) => trace(event, "server", FiberId.threadName(id), "main", detail))
        : Effect.void

    // Each part lives in a scope of its own, and shutdown closes them in the order it must run
    // (see `shutdown` below), as one finalizer of the server scope.
    const listenScope = yield* Scope.fork(serverScope, ExecutionStrategy.parallel)
    const acceptScope = yield* Scope.fork(serverScope, ExecutionStrategy.parallel)
    const connectionScope = yield* Scope.fork(serverScope, ExecutionStrategy.sequential)
    const watchdogScope = yield* Scope.fork(serverScope, ExecutionStrategy.sequential)

    /** Every connection's deadlines, kept by one fiber. */
    const watchdogs = yield* Scope.extend(makeWatchdogs, watchdogScope)
    /** Connections taken from a listener and not yet destroyed. */
    const open = new Set<Connection>()
    /** The connection fibers (and refusals). */
    const fibers = yield* Scope.extend(FiberSet.make<void, never>(), connectionScope)
    /** Connections being served (refusals excluded), with their fibers once forked. */
    const live = new Set<LiveConnection>()
    let draining = false
    /** Connections being answered 503. */
    let refusing = 0
    let listeners: ReadonlyArray<Listener> = []
    const clock = yield* Effect.clock
    /** The monotonic clock, as the connections keep it (milliseconds). */
    const monotonicMs = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    /** Each listener's accept fiber, by index. */
    const acceptFibers: Array<string> = []

    /** The tree as the inspector shows it; built only when a viewer asks. */
    const view = (): ServerView => ({
      listeners: listeners.map((l, i) => ({
        address: formatHostPort(l.host, l.port),
        acceptFiber: acceptFibers[i] ?? ""
      })),
      fiberSet: live.size + refusing,
      refusing,
      draining,
      connections: Array.from(live, (state): ConnectionView => {
        const now = monotonicMs()
        const phase = phaseOf(state.phase, draining)
        return {
          id: state.conn.id,
          fiber: state.fiber === undefined ? "" : fiberName(state.fiber.id()),
          peer: formatPeer(state.conn.remoteAddress ?? "?", state.conn.remotePort ?? 0),
          ageMs: now - state.acceptedAt,
          phase,
          served: state.requests,
          bytesSent: phase === "writing" || phase === "draining" ? state.bytesSent : 0,
          rate: rateOf(state, now)
        }
      }),
      watchdog: { scheduled: watchdogs.scheduled() }
    })
    // before the shutdown finalizer, so it is removed after it: a viewer sees the whole shutdown
    yield* log.lifecycle.register({ view, connections: live, draining: () => draining, monotonicMs })

    /**
     * Responses in flight get `grace` to finish: connections between
     * requests are interrupted at once, and a response whose peer stops
     * taking bytes (SHUTDOWN_STALL_MS) ends its connection. Both clocks
     * start as the drain begins: ending thousands of idle connections may
     * take a while on a loaded machine, and delays neither.
     */
    const drain = Effect.gen(function*() {
      draining = true
      const idle = [...live].flatMap((state) =>
        state.phase !== "responding" && state.fiber !== undefined ? [state.fiber] : []
      )
      const grace = Duration.decode(config.grace)
      yield* traceServer(
        "draining",
        `interrupting ${idle.length} connection(s) between requests; ${
          live.size - idle.length
        } response(s) in flight get up to ${Duration.format(grace)}`
      )
      // a write waiting on its peer now is sampled before the idle connections go (later ones sample themselves)
      for (const state of live) if (state.onDrain !== undefined) yield* state.onDrain()
      // the idle connections' ends are awaited within the grace period, not before it; finalizers run
      // uninterruptibly: the wait must be made interruptible for the timeout to end it
      const finished = yield* Effect.interruptible(
        Effect.zipRight(Fiber.interruptAll(idle), FiberSet.awaitEmpty(fibers))
      ).pipe(Effect.timeout(grace), Effect.isSuccess)
      yield* traceServer(
        "drained",
        finished ? "no response left in flight" : `grace period over: interrupting ${yield* FiberSet.size(fibers)}`
      )
    })

    /** Shutdown, in the order it runs. */
    const shutdown = (exit: Exit.Exit<unknown, unknown>) =>
      Effect.gen(function*() {
        // listeners closed: ports free at once, pending accepts fail
        yield* Scope.close(listenScope, exit)
        // so the accept loops (uninterruptible accepts) end: await them
        yield* Scope.close(acceptScope, exit)
        yield* traceServer("listeners-closed", "ports released, no new connections")
        yield* drain
        // whatever outlived the grace period is interrupted (its finalizer destroys its socket)
        yield* Scope.close(connectionScope, exit)
        // a connection whose fiber never ran
        yield* Effect.forEach(open, (conn) => conn.destroy, { discard: true })
        yield* Scope.close(watchdogScope, exit)
        yield* traceServer("closed", "every connection finalized, server scope closed")
      })
    // added after the child scopes, so it runs before their own finalizers (which find them closed)
    yield* Effect.addFinalizer(shutdown)

    listeners = yield* Effect.forEach(
      config.ports,
      (port) => Scope.extend(sockets.listen({ host: config.host, port }), listenScope)
    ).pipe(Effect.onError((cause) => Scope.close(listenScope, Exit.failCause(cause))))

    /**
     * A connection's fiber: it serves, then destroys its socket (and reports
     * how the serving ended), so `finalized` always follows `completed` (with
     * the reason), `interrupted` or a logged defect. The fiber starts
     * uninterruptible (see acceptLoop) and only the serving itself is
     * interruptible, so the destroy always runs.
     */
    const connectionFiber = (conn: Connection, parent: string, state: LiveConnection) =>
      Effect.flatMap(Effect.fiberId, (id) => {
        const fiber = fiberName(id)
        const serving = Effect.exit(Effect.interruptible(serveConnection(conn, {
          limits,
          watchdogs,
          handler,
          fiber,
          parent,
          state,
          draining: () => draining
        })))
        const forget = Effect.sync(() => {
          open.delete(conn)
          live.delete(state)
        })
        const release = (exit: Exit.Exit<string>): Effect.Effect<void> => {
          if (!log.tracing && (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause))) {
            return Effect.zipRight(conn.destroy, forget)
          }
          return Effect.gen(function*() {
            if (Exit.isSuccess(exit)) {
              if (log.tracing) yield* trace("completed", conn.id, fiber, parent, exit.value, state.requests)
            } else if (Cause.isInterruptedOnly(exit.cause)) {
              if (log.tracing) yield* trace("interrupted", conn.id, fiber, parent, undefined, state.requests)
            } else {
              // a defect is a bug: say so, and let the other connections go on (the fiber ends quietly)
              yield* log.error(`connection ${conn.id} failed`, exit.cause)
            }
            yield* conn.destroy
            yield* forget
            if (log.tracing) yield* trace("finalized", conn.id, fiber, parent, "connection destroyed")
          })
        }
        const served = log.tracing
          ? Effect.zipRight(
            trace("forked", conn.id, fiber, parent, `from ${formatPeer(conn.remoteAddress, conn.remotePort)}`),
            serving
          )
          : serving
        return Effect.flatMap(served, release)
      })

    /**
     * Over the limit: a 503 without reading the request, then close, draining
     * what the client sends meanwhile so that it reads the 503 rather than a reset.
     */
    const refusal = (conn: Connection) =>
      Effect.gen(function*() {
        const begun = yield* Clock.currentTimeMillis
        const { bodyLength, bytes } = ServerResponse.encodeClosingError(503, begun, new Headers([["Retry-After", "1"]]))
        const drain = Effect.iterate(true, { while: (more) => more, body: () => Effect.map(conn.read, Option.isSome) })
        // the 503 counts as sent once written, however the drain after it ends (reset, timeout)
        let sent = false
        yield* Effect.ignore(Effect.timeout(
          Effect.zipRight(conn.write(bytes), Effect.suspend(() => (sent = true, Effect.zipRight(conn.end, drain)))),
          REFUSAL_TIMEOUT
        ))
        yield* log.request({
          time: new Date(begun),
          remoteAddress: conn.remoteAddress,
          remotePort: conn.remotePort,
          connection: conn.id,
          fiber: fiberName(yield* Effect.fiberId),
          requestLine: "-",
          status: 503,
          bytes: sent ? bodyLength : 0,
          durationMs: (yield* Clock.currentTimeMillis) - begun
        })
      })

    let acceptFailureLoggedAt = -Infinity
    let acceptFailuresUnreported = 0
    /** A refused accept: logged at most once a second, with how many were not. */
    const reportAcceptFailure = (error: AcceptError | SocketError, backoffMs: number) =>
      Effect.flatMap(Clock.currentTimeNanos, (nanos) => {
        const now = Number(nanos) / 1e6
        if (now - acceptFailureLoggedAt < ACCEPT_LOG_INTERVAL_MS) {
          acceptFailuresUnreported++
          return Effect.void
        }
        acceptFailureLoggedAt = now
        const more = acceptFailuresUnreported
        acceptFailuresUnreported = 0
        return log.error(
          `${error.message}; still serving the open connections, accepting again in ${backoffMs} ms${
            more > 0 ? ` (${more} more refused since the last report)` : ""
          }`
        )
      })

    const acceptLoop = (listener: Listener, index: number) =>
      Effect.gen(function*() {
        acceptFibers[index] = FiberId.threadName(yield* Effect.fiberId)
        const parent = `server[${listener.host}:${listener.port}] accept${acceptFibers[index]}`
        // Connection fibers are forked straight from this fiber's runtime, uninterruptible from
        // their start (their serving alone is interruptible), into the FiberSet: no Effect steps
        // of FiberSet.run, no supervision hook per fiber.
        const runtime = yield* Effect.runtime<AccessLog>()
        const startFiber = Runtime.runFork(Runtime.make({
          context: runtime.context,
          fiberRefs: runtime.fiberRefs,
          runtimeFlags: RuntimeFlags.disable(runtime.runtimeFlags, RuntimeFlags.Interruption)
        }))
        // Uninterruptible from the accept to the fork: a connection handed over by the listener
        // is recorded as open at once (shutdown destroys it if its fiber never ran), and its
        // fiber cannot be interrupted before its destroy is in place. The wait itself ends when
        // the listener closes.
        const acceptOne = Effect.uninterruptible(Effect.flatMap(listener.accept, (conn) => {
          open.add(conn)
          // the peer's address is asked of the socket only when a log line will want it, and now,
          // before a close could take it away
          if (log.logsRequests || log.tracing) void conn.remoteAddress
          if (live.size >= config.maxConnections) {
            // refusals are bounded too: past as many again, drop at once
            if (refusing >= config.maxConnections) {
              open.delete(conn)
              return conn.destroy
            }
            refusing++
            return FiberSet.run(
              fibers,
              Effect.zipRight(
                Effect.exit(Effect.interruptible(refusal(conn))),
                Effect.zipRight(conn.destroy, Effect.sync(() => void (open.delete(conn), refusing--)))
              )
            )
          }
          const state = new LiveConnection(conn, monotonicMs())
          live.add(state)
          // started by the scheduler, as a fork is, not nested inside this step (started nested,
          // the stall rule at shutdown stopped firing: see the never-reading SIGINT e2e test)
          const fiber = startFiber(connectionFiber(conn, parent, state), { immediate: false })
          FiberSet.unsafeAdd(fibers, fiber)
          state.fiber = fiber
          return Effect.void
        }))
        let backoffMs = 0
        const acceptNext = Effect.zipRight(acceptOne, Effect.sync(() => void (backoffMs = 0)))
        // One connection after the other without yielding in between (Effect.forever would yield
        // after each): the listener's queue hands over only what the event loop accepted.
        const loop: Effect.Effect<never, AcceptError | SocketError, AccessLog> = Effect.flatMap(
          Effect.catchAll(acceptNext, (error) => {
            // the listener closed: the loop ends with it
            if (error._tag === "SocketError" && error.reason === "Closed") return Effect.fail(error)
            // out of descriptors and the like: the listener stays open, so pause (longer while it
            // keeps failing) rather than spin, say so at most once a second, then go on
            backoffMs = Math.min(ACCEPT_BACKOFF_MAX_MS, Math.max(ACCEPT_BACKOFF_MS, backoffMs * 2))
            return Effect.zipRight(reportAcceptFailure(error, backoffMs), Clock.sleep(Duration.millis(backoffMs)))
          }),
          () => loop
        )
        return yield* loop
      }).pipe(Effect.catchAll(() => Effect.void))

    for (const [index, listener] of listeners.entries()) yield* Effect.forkIn(acceptLoop(listener, index), acceptScope)
    yield* traceServer("listening", listeners.map((l) => `${l.host}:${l.port}`).join(", "))

    return { addresses: listeners.map((l) => ({ host: l.host, port: l.port })) }
  })

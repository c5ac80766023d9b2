import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Path } from "@effect/platform"
import { Console, Duration, Effect, Layer, Option } from "effect"
import { FileAccess } from "../files/FileAccess.ts"
import * as StaticFilesLayer from "../files/StaticFilesLayer.ts"
import { SocketServer } from "../net/SocketServer.ts"
import { describeExit, WorkerProcesses } from "../net/WorkerProcesses.ts"
import * as AccessLog from "../server/AccessLog.ts"
import * as Inspector from "../server/Inspector.ts"
import { LogSink } from "../server/LogSink.ts"
import * as Server from "../server/Server.ts"
import * as StaticHandler from "../server/StaticHandler.ts"
import * as Supervisor from "../server/Supervisor.ts"
import * as WorkerEvents from "../server/WorkerEvents.ts"
import { VERSION } from "../version.ts"
import type { OptionSpec } from "./argv.ts"
import * as DevOptions from "./DevOptions.ts"
import { ExitCode, ExitStatus } from "./ExitCode.ts"

const ports = Args.integer({ name: "port" }).pipe(
  Args.withDescription("Ports to listen on, one listener each (default 8080; 0 picks a free port)."),
  Args.repeated,
  Args.mapEffect((ports) => {
    const bad = ports.find((port) => port < 0 || port > 65535)
    return bad === undefined
      ? Effect.succeed(ports.length === 0 ? [8080] : ports)
      : Effect.fail(HelpDoc.p(`invalid port ${bad}: a port is a number from 0 to 65535`))
  })
)

/** A duration option given in seconds; only --grace may be 0. */
const seconds = (name: string, fallback: number, description: string, zeroAllowed = false) =>
  Options.float(name).pipe(
    Options.withPseudoName("SECONDS"),
    Options.withDefault(fallback),
    Options.withDescription(`${description} In seconds (default ${fallback}).`),
    Options.mapEffect((value) =>
      Number.isFinite(value) && (value > 0 || (zeroAllowed && value === 0))
        ? Effect.succeed(Duration.millis(Math.round(value * 1000)))
        : Effect.fail(
          ValidationError.invalidValue(
            HelpDoc.p(`--${name} must be a number of seconds, ${zeroAllowed ? "0 or more" : "more than 0"}`)
          )
        )
    )
  )

const count = (name: string, fallback: number, description: string) =>
  Options.integer(name).pipe(
    Options.withPseudoName("N"),
    Options.withDefault(fallback),
    Options.withDescription(`${description} (default ${fallback}).`),
    Options.mapEffect((value) =>
      value >= 1
        ? Effect.succeed(value)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name} must be 1 or more`)))
    )
  )

/** The most worker processes `--workers` takes. */
const MAX_WORKERS = 1024

const workers = Options.text("workers").pipe(
  Options.withPseudoName("N|auto"),
  Options.withDefault("1"),
  Options.withDescription(
    "Worker processes serving the same ports, each one this server; auto: one per core (default 1: no workers, this process serves)."
  ),
  Options.mapEffect((value): Effect.Effect<number | "auto", ValidationError.ValidationError> => {
    const trimmed = value.trim().toLowerCase()
    if (trimmed === "auto") return Effect.succeed("auto" as const)
    const n = /^[0-9]+$/.test(trimmed) ? Number(trimmed) : NaN
    return n >= 1 && n <= MAX_WORKERS
      ? Effect.succeed(n)
      : Effect.fail(
        ValidationError.invalidValue(HelpDoc.p(`--workers must be auto or a whole number from 1 to ${MAX_WORKERS}`))
      )
  })
)

/** A worker asked to stop gets its grace period and this much more to exit before it is killed. */
const WORKER_STOP_MARGIN = Duration.seconds(5)

const options = {
  ports,
  root: Options.text("root").pipe(
    Options.withPseudoName("DIR"),
    Options.withDefault("."),
    Options.withDescription("Directory to serve (default: the current directory).")
  ),
  host: Options.text("host").pipe(
    Options.withPseudoName("ADDR"),
    Options.withDefault(Server.defaults.host),
    Options.withDescription("Address to listen on (default 127.0.0.1; 0.0.0.0 or :: to expose).")
  ),
  listing: Options.boolean("listing").pipe(
    Options.withDescription("List directories that have no index.html or index.htm.")
  ),
  dotfiles: Options.boolean("dotfiles").pipe(Options.withDescription("Serve names starting with a dot.")),
  maxConnections: count("max-connections", Server.defaults.maxConnections, "Connections served at once; more get 503"),
  headerTimeout: seconds(
    "header-timeout",
    Duration.toSeconds(Server.defaults.headerTimeout),
    "Time for a request's header section to arrive, else 408."
  ),
  keepAliveTimeout: seconds(
    "keep-alive-timeout",
    Duration.toSeconds(Server.defaults.keepAliveTimeout),
    "Idle time allowed between requests on a connection."
  ),
  writeTimeout: seconds(
    "write-timeout",
    Duration.toSeconds(Server.defaults.writeTimeout),
    "Time a response may wait on a client that stopped reading."
  ),
  fileCache: Options.integer("file-cache").pipe(
    Options.withPseudoName("MIB"),
    Options.withDefault(32),
    Options.withDescription(
      "Memory for small files (up to 256 KiB each) kept between requests, validated by a stat each time; 0 turns it off (default 32)."
    ),
    Options.mapEffect((value) =>
      value >= 0 && value <= 65536
        ? Effect.succeed(value)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p("--file-cache must be 0 to 65536 (MiB)")))
    )
  ),
  maxRequests: count("max-requests", Server.defaults.maxRequests, "Requests per connection before it is closed"),
  grace: seconds(
    "grace",
    Duration.toSeconds(Server.defaults.grace),
    "At shutdown, time responses in flight get to finish.",
    true
  ),
  quiet: Options.boolean("quiet").pipe(Options.withDescription("No access log (errors still go to stderr).")),
  logFormat: Options.choice("log-format", ["text", "json"]).pipe(
    Options.withDefault("text" as const),
    Options.withDescription("Access log lines as text or JSON (default text).")
  ),
  trace: Options.boolean("trace").pipe(
    Options.withDescription("Log each connection fiber's life: forked, requests, end, finalized.")
  ),
  workers,
  maxRestarts: count(
    "max-restarts",
    10,
    "With --workers: worker restarts allowed within a minute; one more stops the server with status 1"
  ),
  inspector: Options.integer("inspector").pipe(
    Options.withPseudoName("PORT"),
    Options.optional,
    Options.withDescription(
      "Serve the live inspector (the server's fibers, in a browser) on 127.0.0.1 only; --inspector alone picks a free port, --inspector=PORT sets it."
    ),
    Options.mapEffect((port) =>
      Option.isNone(port) || (port.value >= 0 && port.value <= 65535)
        ? Effect.succeed(port)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p("--inspector must be a port from 0 to 65535")))
    )
  ),
  ...DevOptions.options
}

/** How the server's options may be spelled (see argv.ts); the ports are positionals. */
export const serverOptionSpecs: ReadonlyArray<OptionSpec> = [
  { name: "root", value: true },
  { name: "host", value: true },
  { name: "listing", value: false },
  { name: "dotfiles", value: false },
  { name: "max-connections", value: true, integer: true },
  { name: "header-timeout", value: true },
  { name: "keep-alive-timeout", value: true },
  { name: "write-timeout", value: true },
  { name: "file-cache", value: true, integer: true },
  { name: "max-requests", value: true, integer: true },
  { name: "grace", value: true },
  { name: "quiet", value: false },
  { name: "log-format", value: true },
  { name: "trace", value: false },
  { name: "workers", value: true },
  { name: "max-restarts", value: true, integer: true },
  { name: "inspector", value: true, integer: true, optionalValue: "0" },
  ...DevOptions.optionSpecs
]

/** The root must be a directory we can list: said plainly before anything listens. */
const checkRoot = (given: string, resolved: string) =>
  Effect.gen(function*() {
    const files = yield* FileAccess
    const problem = yield* files.stat(resolved).pipe(
      Effect.map((info) => (info.type === "Directory" ? undefined : `not a directory: ${given}`)),
      Effect.catchAll((error) =>
        Effect.succeed(
          error.code === "ENOENT"
            ? `no such directory: ${given}`
            : error.reason === "Denied"
            ? `cannot open directory ${given}: permission denied`
            : `cannot open directory ${given}: ${error.message}`
        )
      )
    )
    if (problem !== undefined) {
      return yield* Effect.zipRight(Console.error(`fiberhttp server: ${problem}`), new ExitCode({ code: 1 }))
    }
  })

export const serverCommand = Command.make("server", options, (o) =>
  Effect.gen(function*() {
    yield* Effect.flatMap(ExitStatus, (status) => status.signalIsNormalStop)
    const path = yield* Path.Path
    const root = path.resolve(o.root)
    yield* checkRoot(o.root, root)
    const processes = yield* WorkerProcesses
    const role = processes.role
    const workerCount = o.workers === "auto" ? Math.max(1, processes.availableParallelism) : o.workers
    const logOptions: AccessLog.AccessLogOptions = {
      format: o.logFormat,
      quiet: o.quiet,
      trace: o.trace,
      ...(role._tag === "Worker" ? { connectionPrefix: `w${role.id}:` } : {})
    }
    const config: Server.ServerConfig = {
      host: o.host,
      ports: o.ports,
      maxConnections: o.maxConnections,
      headerTimeout: o.headerTimeout,
      keepAliveTimeout: o.keepAliveTimeout,
      writeTimeout: o.writeTimeout,
      maxRequests: o.maxRequests,
      grace: o.grace
    }

    yield* DevOptions.validate(o)
    const scheme = DevOptions.schemeOf(o)
    const urlOf = (address: Server.BoundAddress) => DevOptions.urlOf(scheme, address)
    const socketServer = yield* DevOptions.socketServerLayer(o)
    const accessLog = Layer.effect(AccessLog.AccessLog, Effect.map(LogSink, (sink) => AccessLog.make(logOptions, sink)))
    /** The environment's plain TCP listeners, for the inspector whatever the site uses. */
    const plainSockets = yield* SocketServer

    /** The start-up lines, printed once: by the primary when there are workers. */
    const announce = (addresses: ReadonlyArray<Server.BoundAddress>, inspector?: string) =>
      Effect.zipRight(
        o.logFormat === "json"
          ? Console.log(
            JSON.stringify({
              event: "listening",
              version: VERSION,
              root,
              urls: addresses.map(urlOf),
              ...(workerCount > 1 ? { workers: workerCount } : {}),
              ...(inspector === undefined ? {} : { inspector })
            })
          )
          : Console.log(
            [
              `fiberhttp ${VERSION} serving ${root}${workerCount > 1 ? ` with ${workerCount} worker processes` : ""}`,
              ...addresses.map((a) => `  ${urlOf(a)}`),
              ...(inspector === undefined ? [] : [`  inspector: ${inspector}`]),
              "Press Ctrl-C to stop."
            ].join("\n")
          ),
        o.open && addresses.length > 0 ? DevOptions.openBrowser(urlOf(addresses[0]!)) : Effect.void
      )

    /** Serves the inspector for this process's lifecycle, until the scope closes; its URL. */
    const serveInspector = (port: number) =>
      Effect.gen(function*() {
        const log = yield* AccessLog.AccessLog
        const address = yield* Inspector.serve(log.lifecycle, { ...Inspector.defaults, port }).pipe(
          Effect.provideService(SocketServer, plainSockets)
        )
        // finalizers run last-added first: after what it shows has shut down (its last events
        // published), the viewers' streams end, then the inspector's own server stops
        yield* Effect.addFinalizer(() => log.lifecycle.end)
        return `http://${Inspector.HOST}:${address.port}/`
      })

    const listenFailed = (error: { readonly message: string }) =>
      Effect.zipRight(Console.error(`fiberhttp server: ${error.message}`), new ExitCode({ code: 1 }))

    if (role._tag === "Primary" && workerCount > 1) {
      // the primary serves nothing itself: it keeps the workers running (and serves the inspector,
      // which gathers the workers' trees)
      const primary = Effect.gen(function*() {
        const inspector = Option.isSome(o.inspector) ? yield* serveInspector(o.inspector.value) : undefined
        return yield* Supervisor.supervise(
          { workers: workerCount, maxRestarts: o.maxRestarts, stopTimeout: Duration.sum(o.grace, WORKER_STOP_MARGIN) },
          (addresses) => announce(addresses, inspector)
        )
      })
      return yield* primary.pipe(
        Effect.scoped,
        Effect.provide(accessLog),
        Effect.catchTags({
          ListenError: listenFailed,
          // the worker said why (a port in use ...) before it exited
          WorkerStartFailed: (failure) =>
            failure.exit.code !== null && failure.exit.code !== 0
              ? new ExitCode({ code: failure.exit.code })
              : Effect.zipRight(
                Console.error(
                  `fiberhttp server: worker w${failure.worker} ${describeExit(failure.exit)} before it listened`
                ),
                new ExitCode({ code: 1 })
              ),
          RestartLimitReached: (failure) =>
            Effect.zipRight(Console.error(`fiberhttp server: ${failure.message}`), new ExitCode({ code: 1 }))
        })
      )
    }

    const program = Effect.gen(function*() {
      let inspector: string | undefined
      if (Option.isSome(o.inspector)) {
        if (role._tag === "Worker") {
          // the primary serves the inspector: a worker forwards its events and its tree there,
          // finalized after its server so that its whole shutdown is sent
          const log = yield* AccessLog.AccessLog
          yield* WorkerEvents.forward(log.lifecycle, processes, `w${role.id}:`)
        } else {
          inspector = yield* serveInspector(o.inspector.value)
        }
      }
      const dev = yield* DevOptions.wrapHandler(
        yield* StaticHandler.make({ listing: o.listing, dotfiles: o.dotfiles }),
        o,
        {
          dotfiles: o.dotfiles,
          fileCacheBytes: o.fileCache * 1024 * 1024,
          writeTimeoutMs: Duration.toMillis(o.writeTimeout)
        }
      )
      const running = yield* Server.serve(config, dev.handler)
      // finalizers run last-added first: the event streams end before the server drains
      yield* Effect.addFinalizer(() => dev.endStreams)
      if (role._tag === "Worker") {
        // a worker serves until its primary says stop; the primary announces
        yield* processes.reportListening(running.addresses)
        return yield* processes.stopRequested
      }
      yield* announce(running.addresses, inspector)
      return yield* Effect.never
    })

    return yield* program.pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        StaticFilesLayer.layer(root, { cacheBytes: o.fileCache * 1024 * 1024 }),
        socketServer,
        accessLog
      )),
      Effect.catchTags({
        ListenError: listenFailed,
        FileError: (error) =>
          Effect.zipRight(
            Console.error(`fiberhttp server: cannot serve ${root}: ${error.message}`),
            new ExitCode({ code: 1 })
          )
      })
    )
  })).pipe(Command.withDescription("Serve a directory over HTTP/1.1 (or HTTPS) on one or more ports."))

import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Effect, Either, Layer, Option, Stream } from "effect"
import { parseDuration } from "../client/Duration.ts"
import { LocalIoError, type RequestError } from "../client/errors.ts"
import { describe, exitCodeOf } from "../client/exitCodes.ts"
import * as Output from "../client/Output.ts"
import { parseHeader, parseMethod, type RequestBody } from "../client/RequestSpec.ts"
import { type ClientConfig, runClient } from "../client/Run.ts"
import { parseTargets, UsageError } from "../client/Target.ts"
import * as NodeConnector from "../net/NodeConnector.ts"
import { ExitCode } from "./ExitCode.ts"

const targets = Args.text({ name: "target" }).pipe(
  Args.atLeast(1),
  Args.withDescription(
    "http[s]://host[:port]/path (IPv6 as http://[::1]:8080/), or host[/path] followed by a port (default 80)"
  )
)

const options = {
  ttl: Options.boolean("ttl").pipe(
    Options.withAlias("rtt"),
    Options.withDescription(
      "Before the response, print the TCP connect time and the time from opening the connection to the first response byte, in ms"
    )
  ),
  timing: Options.boolean("timing").pipe(
    Options.withDescription(
      "Print the timing waterfall (DNS, TCP connect, TLS, request sent, first byte, body done, total) on stderr"
    )
  ),
  method: Options.text("method").pipe(
    Options.withAlias("X"),
    Options.withPseudoName("METHOD"),
    Options.optional,
    Options.withDescription("Request method, e.g. HEAD (default: GET, or POST with --data/--data-file)")
  ),
  header: Options.text("header").pipe(
    Options.withAlias("H"),
    Options.withPseudoName("\"NAME: VALUE\""),
    Options.repeated,
    Options.withDescription(
      "Add a header, or replace a default one (Host, User-Agent, Accept); an empty value removes it. Repeatable"
    )
  ),
  data: Options.text("data").pipe(
    Options.withAlias("d"),
    Options.withPseudoName("TEXT"),
    Options.optional,
    Options.withDescription("Send TEXT as the request body (with Content-Length)")
  ),
  dataFile: Options.text("data-file").pipe(
    Options.withPseudoName("FILE"),
    Options.optional,
    Options.withDescription("Send the contents of FILE as the request body, streamed")
  ),
  body: Options.boolean("body").pipe(
    Options.withAlias("b"),
    Options.withDescription("Print only the response body, not the status line and headers")
  ),
  output: Options.text("output").pipe(
    Options.withAlias("o"),
    Options.withPseudoName("FILE"),
    Options.optional,
    Options.withDescription(
      "Save the body to FILE instead of stdout (progress bar on stderr when it is a terminal); one target only"
    )
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription(
      "Print one JSON object per line and target (URL, status, headers, body size, timings) instead of the response"
    )
  ),
  parallel: Options.integer("parallel").pipe(
    Options.withPseudoName("N"),
    Options.withDefault(4),
    Options.withDescription("Fetch up to N targets at once; output stays in the order given (default 4)")
  ),
  count: Options.integer("count").pipe(
    Options.withPseudoName("N"),
    Options.withDefault(1),
    Options.withDescription(
      "Send the request N times, on one kept-alive connection when the server allows, and print min/avg/max/stddev and percentiles (default 1)"
    )
  ),
  interval: Options.text("interval").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDefault("1s"),
    Options.withDescription("Pause between --count rounds: 500ms, 2s, 1.5 (seconds), 1m (default 1s)")
  ),
  location: Options.boolean("location").pipe(
    Options.withAlias("L"),
    Options.withDescription(
      "Follow redirects (301, 302, 303, 307, 308); 303, and 301/302 after POST, continue as GET without the body"
    )
  ),
  maxRedirects: Options.integer("max-redirects").pipe(
    Options.withPseudoName("N"),
    Options.withDefault(10),
    Options.withDescription("Most redirects -L follows before failing with exit 47 (default 10)")
  ),
  connectTimeout: Options.text("connect-timeout").pipe(
    Options.withPseudoName("DURATION"),
    Options.optional,
    Options.withDescription("Limit on DNS lookup + TCP connect + TLS handshake: seconds (1.5) or 500ms (default: none)")
  ),
  maxTime: Options.text("max-time").pipe(
    Options.withPseudoName("DURATION"),
    Options.optional,
    Options.withDescription(
      "Limit on each whole request, redirects included (each round with --count): seconds or 500ms (default: none)"
    )
  ),
  insecure: Options.boolean("insecure").pipe(
    Options.withAlias("k"),
    Options.withDescription("Do not verify the server's TLS certificate (SNI is still sent)")
  )
}

type Parsed = Command.Command.ParseConfig<typeof options> & { readonly targets: ReadonlyArray<string> }

const usage = (message: string) => new UsageError({ message })

const optionalDuration = (name: string, value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Either.right(undefined),
    onSome: (text) => Either.mapLeft(parseDuration(text), (why) => usage(`--${name}: ${why}`))
  })

/** A body from --data-file: length from stat, bytes streamed at send time. */
const fileBody = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const toError = (e: { readonly message: string }) =>
      new LocalIoError({ direction: "read", path, message: e.message })
    const info = yield* Effect.mapError(fs.stat(path), toError)
    const body: RequestBody = {
      length: Number(info.size),
      chunks: Stream.mapError(fs.stream(path), toError)
    }
    return body
  })

// @effect/cli hands a value-taking option given last without its value over
// as a positional: name it rather than calling it unknown.
const valueOptions = new Set([
  "-X",
  "--method",
  "-H",
  "--header",
  "-d",
  "--data",
  "--data-file",
  "-o",
  "--output",
  "--parallel",
  "--count",
  "--interval",
  "--max-redirects",
  "--connect-timeout",
  "--max-time"
])

/** Checks the command line as a whole and turns it into the client's configuration. */
const configure = (parsed: Parsed) =>
  Effect.gen(function*() {
    // @effect/cli also leaves the second use of a one-value option (and its value) among the positionals
    const stray = parsed.targets.findIndex((arg) => valueOptions.has(arg))
    if (stray >= 0) {
      const option = parsed.targets[stray]!
      return yield* usage(
        stray === parsed.targets.length - 1 ? `option ${option} needs a value` : `option ${option} given more than once`
      )
    }
    const targets = yield* parseTargets(parsed.targets)
    const headers = yield* Effect.forEach(parsed.header, (text) => parseHeader(text))
    if (Option.isSome(parsed.data) && Option.isSome(parsed.dataFile)) {
      return yield* usage("give --data or --data-file, not both")
    }
    if (parsed.body && parsed.json) return yield* usage("give --body or --json, not both")
    if (parsed.count < 1) return yield* usage("--count must be at least 1")
    if (parsed.parallel < 1) return yield* usage("--parallel must be at least 1")
    if (parsed.maxRedirects < 0) return yield* usage("--max-redirects must not be negative")
    if (Option.isSome(parsed.output) && targets.length > 1) return yield* usage("-o/--output takes one target")
    if (Option.isSome(parsed.output) && parsed.count > 1) {
      return yield* usage("-o/--output and --count do not go together")
    }
    const interval = yield* Either.mapLeft(parseDuration(parsed.interval), (why) => usage(`--interval: ${why}`))
    const connectTimeout = yield* optionalDuration("connect-timeout", parsed.connectTimeout)
    const maxTime = yield* optionalDuration("max-time", parsed.maxTime)
    const body: RequestBody | undefined = Option.isSome(parsed.data)
      ? (() => {
        const bytes = new TextEncoder().encode(parsed.data.value)
        return { length: bytes.length, chunks: Stream.succeed(bytes) }
      })()
      : Option.isSome(parsed.dataFile)
      ? yield* fileBody(parsed.dataFile.value)
      : undefined
    const method = yield* parseMethod(Option.getOrElse(parsed.method, () => (body === undefined ? "GET" : "POST")))
    const config: ClientConfig = {
      targets,
      fetch: {
        spec: { method, headers, body },
        followRedirects: parsed.location,
        maxRedirects: parsed.maxRedirects,
        connectTimeout,
        insecure: parsed.insecure
      },
      mode: parsed.json ? "json" : parsed.body ? "body" : "full",
      outputFile: Option.getOrUndefined(parsed.output),
      ttl: parsed.ttl,
      timing: parsed.timing,
      count: parsed.count,
      interval,
      parallel: parsed.parallel,
      maxTime
    }
    return config
  })

const ClientEnvironment = Layer.merge(NodeConnector.layer, Output.layerProcess)

export const clientCommand = Command.make("client", { targets, ...options }, (parsed) =>
  Effect.gen(function*() {
    const code = yield* configure(parsed).pipe(
      Effect.flatMap(runClient),
      Effect.catchAll((error: UsageError | RequestError) =>
        Effect.gen(function*() {
          const output = yield* Output.Output
          yield* output.stderr(`fiberhttp client: ${describe(error)}\n`)
          return exitCodeOf(error)
        })
      )
    )
    if (code !== 0) return yield* Effect.fail(new ExitCode({ code }))
  }).pipe(Effect.provide(ClientEnvironment))).pipe(
    Command.withDescription(
      "Send a request to each target, print the response, and time the round trip. " +
        "Exit status (curl's numbers): 0 success, 2 usage error, 3 bad URL, 6 name not resolved, 7 connection failed, " +
        "8 malformed response, 18 response cut short, 23 cannot write -o file, 26 cannot read --data-file, " +
        "28 timeout, 35 TLS failure, 47 too many redirects, 52 empty reply, 55 send failure, 56 receive failure, 130 interrupted (Ctrl-C); " +
        "with several targets, the first failing target's status."
    )
  )

import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Either, Option, Stream } from "effect"
import { acceptEncoding } from "../client/ContentDecoding.ts"
import { CaCertError, LocalIoError, type RequestError } from "../client/errors.ts"
import { describe, exitCodeOf } from "../client/exitCodes.ts"
import type { ConnectTo, ResolveOverride } from "../client/Fetch.ts"
import { fileProblem } from "../client/fileProblem.ts"
import * as Output from "../client/Output.ts"
import { parseDuration } from "../client/parseDuration.ts"
import { parseHeader, parseMethod, type RequestBody } from "../client/RequestSpec.ts"
import { type ClientConfig, runClient } from "../client/Run.ts"
import { parseTargets, UsageError } from "../client/Target.ts"
import type { ResolvedAddress } from "../net/Connector.ts"
import type { OptionSpec } from "./argv.ts"
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
  ),
  locationTrusted: Options.boolean("location-trusted").pipe(
    Options.withDescription(
      "Like -L, and send -H Authorization, Cookie and Proxy-Authorization to other hosts, ports and schemes too"
    )
  ),
  include: Options.boolean("include").pipe(
    Options.withAlias("i"),
    Options.withDescription(
      "With -o, print the status line and headers on stdout (they are printed by default otherwise)"
    )
  ),
  head: Options.boolean("head").pipe(
    Options.withAlias("I"),
    Options.withDescription("Send a HEAD request: the status line and headers only")
  ),
  fail: Options.boolean("fail").pipe(
    Options.withAlias("f"),
    Options.withDescription("On a status of 400 or more, print no body and exit 22")
  ),
  range: Options.text("range").pipe(
    Options.withAlias("r"),
    Options.withPseudoName("RANGE"),
    Options.optional,
    Options.withDescription("Ask for bytes RANGE only: 0-499, 500-, -500, 0-1,5-6 (sent as Range: bytes=RANGE)")
  ),
  continueAt: Options.text("continue-at").pipe(
    Options.withAlias("C"),
    Options.withPseudoName("OFFSET"),
    Options.optional,
    Options.withDescription("Resume the -o file at byte OFFSET; - resumes where the file ends")
  ),
  retry: Options.integer("retry").pipe(
    Options.withPseudoName("N"),
    Options.withDefault(0),
    Options.withDescription(
      "Retry up to N times on a transient failure (timeout, name not resolved, 408, 429, 500, 502, 503, 504), " +
        "waiting Retry-After or 1 s doubling (default 0)"
    )
  ),
  resolve: Options.text("resolve").pipe(
    Options.withPseudoName("HOST:PORT:ADDR[,ADDR]"),
    Options.repeated,
    Options.withDescription(
      "Connect to ADDR for HOST:PORT instead of asking DNS (Host and TLS name unchanged). Repeatable"
    )
  ),
  connectTo: Options.text("connect-to").pipe(
    Options.withPseudoName("HOST1:PORT1:HOST2:PORT2"),
    Options.repeated,
    Options.withDescription(
      "Requests for HOST1:PORT1 connect to HOST2:PORT2 (Host and TLS name unchanged); an empty part matches any. Repeatable"
    )
  ),
  cacert: Options.text("cacert").pipe(
    Options.withPseudoName("FILE"),
    Options.optional,
    Options.withDescription("Trust the CA certificates (PEM) in FILE instead of the system's")
  ),
  capath: Options.text("capath").pipe(
    Options.withPseudoName("DIR"),
    Options.optional,
    Options.withDescription("Trust the CA certificates (PEM files) in DIR instead of the system's")
  ),
  compressed: Options.boolean("compressed").pipe(
    Options.withDescription("Ask for a compressed response (br, gzip, deflate) and decode it as it arrives")
  )
}

/** How the client's options may be spelled (see argv.ts); keep in step with `options`. */
export const clientOptionSpecs: ReadonlyArray<OptionSpec> = [
  { name: "ttl", aliases: ["rtt"], value: false },
  { name: "timing", value: false },
  { name: "method", short: "X", value: true },
  { name: "header", short: "H", value: true, repeatable: true },
  { name: "data", short: "d", value: true },
  { name: "data-file", value: true },
  { name: "body", short: "b", value: false },
  { name: "output", short: "o", value: true },
  { name: "json", value: false },
  { name: "parallel", value: true, integer: true },
  { name: "count", value: true, integer: true },
  { name: "interval", value: true },
  { name: "location", short: "L", value: false },
  { name: "max-redirects", value: true, integer: true },
  { name: "connect-timeout", value: true },
  { name: "max-time", value: true },
  { name: "insecure", short: "k", value: false },
  { name: "location-trusted", value: false },
  { name: "include", short: "i", value: false },
  { name: "head", short: "I", value: false },
  { name: "fail", short: "f", value: false },
  { name: "range", short: "r", value: true },
  { name: "continue-at", short: "C", value: true },
  { name: "retry", value: true, integer: true },
  { name: "resolve", value: true, repeatable: true },
  { name: "connect-to", value: true, repeatable: true },
  { name: "cacert", value: true },
  { name: "capath", value: true },
  { name: "compressed", value: false }
]

type Parsed = Command.Command.ParseConfig<typeof options> & { readonly targets: ReadonlyArray<string> }

const usage = (message: string) => new UsageError({ message })

const optionalDuration = (name: string, value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Either.right(undefined),
    onSome: (text) => Either.mapLeft(parseDuration(text), (why) => usage(`--${name}: ${why}`))
  })

const fileError = (path: string) => (e: PlatformError) =>
  new LocalIoError({ direction: "read", path, message: fileProblem(e) })

/** What curl sends with -d unless -H says otherwise. */
const formType = "application/x-www-form-urlencoded"

/** A body from --data-file: length from stat, bytes streamed at send time. */
const fileBody = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.mapError(fs.stat(path), fileError(path))
    if (info.type === "Directory") {
      return yield* new LocalIoError({ direction: "read", path, message: "is a directory" })
    }
    const body: RequestBody = {
      length: Number(info.size),
      chunks: Stream.mapError(fs.stream(path), fileError(path)),
      contentType: formType
    }
    return body
  })

const bytesBody = (bytes: Uint8Array): RequestBody => ({
  length: bytes.length,
  chunks: Stream.succeed(bytes),
  contentType: formType
})

/** -d TEXT, or -d @FILE: the file's contents without its CR and LF bytes (curl's -d; --data-file keeps them). */
const dataBody = (text: string) =>
  Effect.gen(function*() {
    if (!text.startsWith("@")) return bytesBody(new TextEncoder().encode(text))
    const path = text.slice(1)
    if (path === "" || path === "-") return yield* usage("-d @FILE needs a file name (reading stdin is not supported)")
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* Effect.mapError(fs.readFile(path), fileError(path))
    return bytesBody(bytes.filter((b) => b !== 0x0d && b !== 0x0a))
  })

/** host or [v6] at the start of `text`, then the rest after the colon that follows it. */
const splitHost = (text: string): { host: string; rest: string } | undefined => {
  if (text.startsWith("[")) {
    const close = text.indexOf("]")
    if (close < 0 || text[close + 1] !== ":") return undefined
    return { host: text.slice(1, close), rest: text.slice(close + 2) }
  }
  const colon = text.indexOf(":")
  return colon < 0 ? undefined : { host: text.slice(0, colon), rest: text.slice(colon + 1) }
}

const splitPort = (text: string): { host: string; rest: string } | undefined => {
  const colon = text.indexOf(":")
  return colon < 0 ? undefined : { host: text.slice(0, colon), rest: text.slice(colon + 1) }
}

const ipv4 = /^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$/
const ipv6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/

const portIn = (text: string): number | undefined => {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

/** --resolve HOST:PORT:ADDR[,ADDR...] (IPv6 addresses may be bracketed). */
const parseResolve = (text: string): Either.Either<ResolveOverride, UsageError> => {
  const bad = usage(`--resolve "${text}": expected HOST:PORT:ADDRESS[,ADDRESS]`)
  const first = splitHost(text)
  if (first === undefined || first.host === "") return Either.left(bad)
  const second = splitPort(first.rest)
  const port = second === undefined ? undefined : portIn(second.host)
  if (second === undefined || port === undefined) return Either.left(bad)
  const addresses: Array<ResolvedAddress> = []
  for (const raw of second.rest.split(",")) {
    const address = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw
    if (ipv4.test(address)) addresses.push({ address, family: 4 })
    else if (ipv6.test(address)) addresses.push({ address, family: 6 })
    else return Either.left(usage(`--resolve "${text}": "${raw}" is not an IP address`))
  }
  return Either.right({ host: first.host, port, addresses })
}

/** --connect-to HOST1:PORT1:HOST2:PORT2, any part empty. */
const parseConnectTo = (text: string): Either.Either<ConnectTo, UsageError> => {
  const bad = Either.left(usage(`--connect-to "${text}": expected HOST1:PORT1:HOST2:PORT2 (a part may be empty)`))
  const a = splitHost(text)
  const b = a === undefined ? undefined : splitPort(a.rest)
  const c = b === undefined ? undefined : splitHost(b.rest)
  if (a === undefined || b === undefined || c === undefined) return bad
  const fromPort = b.host === "" ? undefined : portIn(b.host)
  const toPort = c.rest === "" ? undefined : portIn(c.rest)
  if ((b.host !== "" && fromPort === undefined) || (c.rest !== "" && toPort === undefined)) return bad
  return Either.right({
    fromHost: a.host === "" ? undefined : a.host,
    fromPort,
    toHost: c.host === "" ? undefined : c.host,
    toPort
  })
}

/** --cacert FILE / --capath DIR: the PEM text trusted (curl exit 77 when it cannot be used). */
const caCertificates = (cacert: Option.Option<string>, capath: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(cacert) && Option.isNone(capath)) return undefined
    const fs = yield* FileSystem.FileSystem
    const pems: Array<string> = []
    const problem = (path: string) => (e: PlatformError) => new CaCertError({ path, message: fileProblem(e) })
    if (Option.isSome(cacert)) {
      const text = yield* Effect.mapError(fs.readFileString(cacert.value, "latin1"), problem(cacert.value))
      if (!text.includes("-----BEGIN CERTIFICATE-----")) {
        return yield* new CaCertError({ path: cacert.value, message: "no PEM certificate in it" })
      }
      pems.push(text)
    }
    if (Option.isSome(capath)) {
      const dir = capath.value
      const names = yield* Effect.mapError(fs.readDirectory(dir), problem(dir))
      const before = pems.length
      for (const name of [...names].sort()) {
        const text = yield* Effect.orElseSucceed(fs.readFileString(`${dir}/${name}`, "latin1"), () => "")
        if (text.includes("-----BEGIN CERTIFICATE-----")) pems.push(text)
      }
      if (pems.length === before) return yield* new CaCertError({ path: dir, message: "no PEM certificate in it" })
    }
    return pems
  })

const rangeSpec = /^(?:[0-9]+-[0-9]*|-[0-9]+)(?:,(?:[0-9]+-[0-9]*|-[0-9]+))*$/

const hasField = (headers: ReadonlyArray<readonly [string, string]>, wanted: string) =>
  headers.some(([name]) => name.toLowerCase() === wanted)

/** Checks the command line as a whole and turns it into the client's configuration. */
const configure = (parsed: Parsed) =>
  Effect.gen(function*() {
    const targets = yield* parseTargets(parsed.targets)
    const given = yield* Effect.forEach(parsed.header, (text) => parseHeader(text))
    const headers: Array<readonly [string, string]> = [...given]
    if (Option.isSome(parsed.data) && Option.isSome(parsed.dataFile)) {
      return yield* usage("give --data or --data-file, not both")
    }
    const hasBody = Option.isSome(parsed.data) || Option.isSome(parsed.dataFile)
    if (parsed.body && parsed.json) return yield* usage("give --body or --json, not both")
    if (parsed.head && hasBody) return yield* usage("give -I/--head or a body (-d, --data-file), not both")
    if (parsed.head && Option.isSome(parsed.method)) return yield* usage("give -I/--head or -X, not both")
    if (parsed.count < 1) return yield* usage("--count must be at least 1")
    if (parsed.parallel < 1) return yield* usage("--parallel must be at least 1")
    if (parsed.maxRedirects < 0) return yield* usage("--max-redirects must not be negative")
    if (parsed.retry < 0) return yield* usage("--retry must not be negative")
    // `-o -` is stdout, as in curl
    const outputFile = Option.filter(parsed.output, (path) => path !== "-")
    if (Option.isSome(parsed.output) && targets.length > 1) return yield* usage("-o/--output takes one target")
    if (Option.isSome(parsed.output) && parsed.count > 1) {
      return yield* usage("-o/--output and --count do not go together")
    }
    if (Option.isSome(outputFile) && parsed.json) return yield* usage("give -o FILE or --json, not both")
    const interval = yield* Either.mapLeft(parseDuration(parsed.interval), (why) => usage(`--interval: ${why}`))
    const connectTimeout = yield* optionalDuration("connect-timeout", parsed.connectTimeout)
    const maxTime = yield* optionalDuration("max-time", parsed.maxTime)
    if (Option.isSome(parsed.range)) {
      if (!rangeSpec.test(parsed.range.value)) {
        return yield* usage(
          `-r/--range "${parsed.range.value}": expected FIRST-LAST, FIRST-, -SUFFIX, or a list of them`
        )
      }
      headers.push(["Range", `bytes=${parsed.range.value}`])
    }
    let resumeFrom: number | undefined
    if (Option.isSome(parsed.continueAt)) {
      if (Option.isNone(outputFile)) return yield* usage("-C/--continue-at resumes an -o FILE: give one")
      if (Option.isSome(parsed.range)) return yield* usage("give -C/--continue-at or -r/--range, not both")
      const at = parsed.continueAt.value
      if (at === "-") {
        const fs = yield* FileSystem.FileSystem
        const info = yield* Effect.either(fs.stat(outputFile.value))
        resumeFrom = info._tag === "Right" ? Number(info.right.size) : 0
      } else if (/^[0-9]+$/.test(at)) {
        resumeFrom = Number(at)
      } else {
        return yield* usage(`-C/--continue-at "${at}": expected a byte offset or -`)
      }
      // nothing to resume: the whole file is fetched
      if (resumeFrom === 0) resumeFrom = undefined
      else headers.push(["Range", `bytes=${resumeFrom}-`])
    }
    if (parsed.compressed && !hasField(headers, "accept-encoding")) headers.push(["Accept-Encoding", acceptEncoding])
    const resolve = yield* Effect.forEach(parsed.resolve, (text) => parseResolve(text))
    const connectTo = yield* Effect.forEach(parsed.connectTo, (text) => parseConnectTo(text))
    const ca = yield* caCertificates(parsed.cacert, parsed.capath)
    const body: RequestBody | undefined = Option.isSome(parsed.data)
      ? yield* dataBody(parsed.data.value)
      : Option.isSome(parsed.dataFile)
      ? yield* fileBody(parsed.dataFile.value)
      : undefined
    const defaultMethod = parsed.head ? "HEAD" : body === undefined ? "GET" : "POST"
    const method = yield* parseMethod(Option.getOrElse(parsed.method, () => defaultMethod))
    const config: ClientConfig = {
      targets,
      fetch: {
        spec: { method, headers, body },
        followRedirects: parsed.location || parsed.locationTrusted,
        maxRedirects: parsed.maxRedirects,
        connectTimeout,
        insecure: parsed.insecure,
        locationTrusted: parsed.locationTrusted,
        resolve,
        connectTo,
        ca
      },
      mode: parsed.json ? "json" : parsed.body ? "body" : "full",
      outputFile: Option.getOrUndefined(outputFile),
      include: parsed.include,
      stdoutAsked: Option.isSome(parsed.output) && Option.isNone(outputFile),
      fail: parsed.fail,
      retry: parsed.retry,
      compressed: parsed.compressed,
      resumeFrom,
      ttl: parsed.ttl,
      timing: parsed.timing,
      count: parsed.count,
      interval,
      parallel: parsed.parallel,
      maxTime
    }
    return config
  })

export const clientCommand = Command.make("client", { targets, ...options }, (parsed) =>
  Effect.gen(function*() {
    const code = yield* configure(parsed).pipe(
      Effect.flatMap(runClient),
      Effect.catchAll((error: UsageError | RequestError | CaCertError) =>
        Effect.gen(function*() {
          const output = yield* Output.Output
          yield* output.stderr(`fiberhttp client: ${describe(error)}\n`)
          return exitCodeOf(error)
        })
      )
    )
    if (code !== 0) return yield* Effect.fail(new ExitCode({ code }))
  })).pipe(
    Command.withDescription(
      "Send a request to each target, print the response, and time the round trip. " +
        "Exit status (curl's numbers): 0 success, 1 not HTTP, 2 usage error, 3 bad URL, 6 name not resolved, " +
        "7 connection failed, 8 malformed response head, 18 response cut short, 22 --fail on 400+, " +
        "23 cannot write (or binary to a terminal), 26 cannot read --data-file, 28 timeout, 33 -C refused, " +
        "35 TLS handshake, 47 too many redirects, 52 empty reply, 55 send failure, 56 receive failure or bad chunks, " +
        "60 certificate not verified, 61 --compressed decoding, 77 --cacert/--capath, 130 SIGINT, 143 SIGTERM; " +
        "with several targets, the first failing target's status."
    )
  )

import { Data, Either } from "effect"

/** Where one request goes: everything the connector and the request head need. */
export interface Target {
  readonly scheme: "http" | "https"
  /** Host name or IP literal, without the brackets of an IPv6 literal. */
  readonly host: string
  readonly port: number
  /** origin-form request target: path plus query, always starting with "/". */
  readonly path: string
  /** The Host header value: host (bracketed when IPv6), plus ":port" unless default. */
  readonly authority: string
  /** The canonical URL, used in headings, messages and --json. */
  readonly url: string
}

/** A command-line argument that is not a target at all (an unknown flag, a stray port). */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
}> {}

/** A target that is not a usable http/https URL: malformed, unknown scheme, bad port (curl exit 3). */
export class InvalidTarget extends Data.TaggedError("InvalidTarget")<{
  readonly input: string
  readonly message: string
  /** The URL came from a server's Location header (-L), not from the command line. */
  readonly fromLocation?: boolean
}> {}

const defaultPort = { http: 80, https: 443 } as const

const isPort = (token: string): boolean => /^[0-9]+$/.test(token)

const parsePort = (input: string, text: string): Either.Either<number, InvalidTarget> => {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN
  return port >= 1 && port <= 65535
    ? Either.right(port)
    : Either.left(new InvalidTarget({ input, message: `port ${text} is not a number from 1 to 65535` }))
}

const schemeOf = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//
// scheme://[userinfo@]host[:port][/...]: the port is read here, before URL()
// (which would call 99999 merely "Invalid URL" and accept 0).
const authorityPort = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/?#:]*)(?::([^/?#]*))?/

/**
 * Parses an absolute http(s) URL. The WHATWG parser does the host work
 * (IDNA, IPv4 forms, IPv6 literals, percent-encoding of the path); the rest is
 * checked here so that every rejection says what is wrong.
 */
export const parseUrl = (input: string, portOverride?: number): Either.Either<Target, InvalidTarget> => {
  const bad = (message: string) => Either.left(new InvalidTarget({ input, message }))
  const scheme = schemeOf.exec(input)?.[1]?.toLowerCase()
  if (scheme === undefined) return bad("not a URL (expected http://host[:port]/path)")
  if (scheme !== "http" && scheme !== "https") return bad(`unsupported scheme "${scheme}" (only http and https)`)
  const rest = input.slice(scheme.length + 3)
  if (rest.startsWith("[") && !/^\[[^\]/?#]*\]/.test(rest)) return bad("the [ of the IPv6 address is not closed")
  const portText = authorityPort.exec(input)?.[1]
  let port: number = defaultPort[scheme]
  if (portText !== undefined && portText !== "") {
    const parsed = parsePort(input, portText)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    port = parsed.right
  }
  if (portOverride !== undefined) port = portOverride
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return bad("malformed URL")
  }
  if (url.username !== "" || url.password !== "") return bad("credentials in the URL are not supported")
  const hostname = url.hostname
  if (hostname === "") return bad("no host name")
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname
  const authority = port === defaultPort[scheme] ? hostname : `${hostname}:${port}`
  const path = (url.pathname === "" ? "/" : url.pathname) + url.search
  return Either.right({ scheme, host, port, path, authority, url: `${scheme}://${authority}${path}` })
}

/**
 * Turns the command line's positionals into targets. Two forms mix freely:
 * - URL form: `http://host[:port]/path`, `https://...`, `http://[::1]:8080/`;
 * - the seed's form: `host[/path]` followed by a port (`www.bbc.com 80`,
 *   `localhost/index.html 8080`); several hosts followed by as many ports pair
 *   up, one port after several hosts applies to all, no port means 80.
 *
 * @effect/cli hands an unknown flag over as a positional, so anything starting
 * with "-" is rejected here as a usage error.
 */
export const parseTargets = (
  positionals: ReadonlyArray<string>
): Either.Either<ReadonlyArray<Target>, UsageError | InvalidTarget> => {
  const targets: Array<Target> = []
  let pending: Array<string> = []
  const flush = (ports: ReadonlyArray<number>): InvalidTarget | undefined => {
    for (let i = 0; i < pending.length; i++) {
      const parsed = parseUrl(
        `http://${pending[i]}`,
        ports.length === 0 ? undefined : ports[ports.length === 1 ? 0 : i]
      )
      if (Either.isLeft(parsed)) return new InvalidTarget({ input: pending[i]!, message: parsed.left.message })
      targets.push(parsed.right)
    }
    pending = []
    return undefined
  }
  let i = 0
  while (i < positionals.length) {
    const token = positionals[i]!
    if (token.startsWith("-") && token !== "-") {
      return Either.left(new UsageError({ message: `unknown option ${token} (see fiberhttp client --help)` }))
    }
    // `http:/host` or `http:host` would otherwise be the seed form's host "http"
    if (/^https?:/i.test(token) && !/^https?:\/\//i.test(token)) {
      return Either.left(
        new InvalidTarget({ input: token, message: "malformed URL: the scheme is followed by :// (http://host/path)" })
      )
    }
    // the seed form's port after a host: a word that cannot be a host name in that place is a bad port
    if (pending.length > 0 && !isPort(token) && /^[A-Za-z0-9_-]+$/.test(token) && token.toLowerCase() !== "localhost") {
      return Either.left(
        new UsageError({
          message: `"${token}" is not a port (a number from 1 to 65535); give further hosts as URLs (http://${token}/)`
        })
      )
    }
    if (isPort(token)) {
      const ports: Array<number> = []
      while (i < positionals.length && isPort(positionals[i]!)) {
        // Named with its host in the error line: `bad URL "localhost 0"`.
        const host = pending[pending.length === 1 ? 0 : ports.length]
        const parsed = parsePort(host === undefined ? positionals[i]! : `${host} ${positionals[i]!}`, positionals[i]!)
        if (Either.isLeft(parsed)) return Either.left(parsed.left)
        ports.push(parsed.right)
        i++
      }
      if (pending.length === 0) {
        return Either.left(new UsageError({ message: `port ${ports.join(" ")} does not follow a host name` }))
      }
      const withPort = pending.find((host) => /^(?:\[[^\]]*\]|[^/?#:]*):[0-9]*(?:[/?#]|$)/.test(host))
      if (withPort !== undefined) {
        return Either.left(
          new UsageError({ message: `${withPort} already names a port: give the port once, in the target or after it` })
        )
      }
      if (ports.length !== 1 && ports.length !== pending.length) {
        return Either.left(
          new UsageError({
            message: `${pending.length} host names but ${ports.length} ports: give one port, or one per host`
          })
        )
      }
      const error = flush(ports)
      if (error) return Either.left(error)
      continue
    }
    if (schemeOf.test(token) || token.includes("://")) {
      const error = flush([])
      if (error) return Either.left(error)
      const parsed = parseUrl(token)
      if (Either.isLeft(parsed)) return Either.left(parsed.left)
      targets.push(parsed.right)
    } else {
      pending.push(token)
    }
    i++
  }
  const error = flush([])
  if (error) return Either.left(error)
  if (targets.length === 0) return Either.left(new UsageError({ message: "no target given" }))
  return Either.right(targets)
}

/**
 * Resolves a Location header against the URL it came from (for -L). Field
 * text holds one code unit per byte received (Latin-1): bytes above 0x7F are
 * percent-encoded as they are, so a server's raw UTF-8 `/café` leads to
 * `/caf%C3%A9` (what it meant), not to the UTF-8 of its Latin-1 reading.
 */
export const resolveLocation = (base: Target, location: string): Either.Either<Target, InvalidTarget> => {
  const fromLocation = (error: InvalidTarget) =>
    new InvalidTarget({ input: error.input, message: error.message, fromLocation: true })
  let absolute: string
  try {
    const ascii = location.replace(/[\u0080-\u00ff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    absolute = new URL(ascii, base.url).href
  } catch {
    return Either.left(new InvalidTarget({ input: location, message: "malformed Location header", fromLocation: true }))
  }
  return Either.mapLeft(parseUrl(absolute), fromLocation)
}

import { Either, type Stream } from "effect"
import { checkField } from "../http/serialize.ts"
import { VERSION } from "../version.ts"
import type { LocalIoError } from "./errors.ts"
import type { Target } from "./Target.ts"
import { UsageError } from "./Target.ts"

/** A request body of known length, streamed (re-run for each redirect that keeps it). */
export interface RequestBody {
  readonly length: number
  readonly chunks: Stream.Stream<Uint8Array, LocalIoError>
  /** Sent as Content-Type unless -H gives one (curl's -d: application/x-www-form-urlencoded). */
  readonly contentType: string | undefined
}

/** What to send, independent of where: -X, -H, -d/--data-file. */
export interface RequestSpec {
  readonly method: string
  /** -H fields in order; an empty value removes a default header (as in curl). */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>
  readonly body: RequestBody | undefined
}

const framingFields = new Set(["content-length", "transfer-encoding"])

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export const parseMethod = (method: string): Either.Either<string, UsageError> =>
  token.test(method) ? Either.right(method) : Either.left(new UsageError({ message: `invalid method "${method}"` }))

/** Parses one -H argument, "Name: value". */
export const parseHeader = (text: string): Either.Either<readonly [string, string], UsageError> => {
  const colon = text.indexOf(":")
  const name = colon < 0 ? "" : text.slice(0, colon)
  const value = colon < 0 ? "" : text.slice(colon + 1).trim()
  if (colon < 0) return Either.left(new UsageError({ message: `invalid header "${text}" (expected "Name: value")` }))
  const invalid = checkField(name, value)
  if (invalid !== undefined) return Either.left(new UsageError({ message: `-H "${text}": ${invalid.message}` }))
  return Either.right([name, value])
}

/**
 * The header section sent to `target`: Host, User-Agent and Accept by default,
 * Content-Length for a body, then the -H fields. A -H field named like a default
 * replaces it in its place (or removes it, when empty). The body's framing is ours alone: -H
 * Content-Length or Transfer-Encoding would make the message lie about it.
 */
export const requestHeaders = (
  target: Target,
  spec: RequestSpec,
  body: RequestBody | undefined
): ReadonlyArray<readonly [string, string]> => {
  const defaults: Array<readonly [string, string]> = [
    ["Host", target.authority],
    ["User-Agent", `fiberhttp/${VERSION}`],
    ["Accept", "*/*"]
  ]
  if (body !== undefined) {
    if (body.contentType !== undefined) defaults.push(["Content-Type", body.contentType])
    defaults.push(["Content-Length", String(body.length)])
  }
  const own = spec.headers.filter(([name]) => !framingFields.has(name.toLowerCase()))
  const named = (wanted: string) => own.filter(([name]) => name.toLowerCase() === wanted)
  // An override takes its default's place, so that Host stays first (RFC 9110 section 7.2).
  const fields = defaults.flatMap((field) => {
    const overrides = named(field[0].toLowerCase())
    return overrides.length === 0 ? [field] : overrides.filter(([, value]) => value !== "")
  })
  const defaultNames = new Set(defaults.map(([name]) => name.toLowerCase()))
  for (const field of own) if (!defaultNames.has(field[0].toLowerCase()) && field[1] !== "") fields.push(field)
  return fields
}

import { expect } from "@effect/vitest"
import * as fc from "fast-check"
import type { ParseErrorCode } from "../../src/http/errors.ts"
import type { ParseResult, RequestHead } from "../../src/http/message.ts"
import { type RequestLimits, RequestParser } from "../../src/http/RequestParser.ts"

export const bytes = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))
export const text = (data: Uint8Array): string => String.fromCharCode(...data)

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** One parsed message, body chunks joined, as plain data for comparison. */
export interface Message<Head> {
  readonly head: Head
  readonly body: string
  readonly trailers: ReadonlyArray<readonly [string, string]>
}

export interface Outcome<Head> {
  readonly messages: ReadonlyArray<Message<Head>>
  readonly error?: ParseErrorCode
  /** Whether a message was cut off by the end of the input. */
  readonly partial: boolean
}

interface Parser {
  readonly bufferedBytes: number
  readonly isIdle: boolean
}

/**
 * Feeds `chunks` in order, calling `execute` until each is consumed, the way
 * a connection loop does; `check` runs after every call. With `finish`, the
 * input then ends as a connection close would.
 */
export const feed = <Head>(
  parser: Parser,
  execute: (input: Uint8Array) => ParseResult<Head>,
  chunks: ReadonlyArray<Uint8Array>,
  check: () => void = () => {},
  finish?: () => ParseResult<Head>
): Outcome<Head> => {
  const messages: Array<Message<Head>> = []
  let head: Head | undefined
  let body = ""
  const take = (result: ParseResult<Head>): void => {
    for (const event of result.events) {
      if (event._tag === "Head") {
        head = event.head
        body = ""
      } else if (event._tag === "Body") {
        body += text(event.chunk)
      } else if (event._tag === "End") {
        messages.push({ head: head!, body, trailers: event.trailers.entries })
        head = undefined
      } else if (event._tag === "Interim") {
        // an interim (1xx) head is reported and then skipped; the final head follows
      } else {
        throw new Error(`unknown parse event ${JSON.stringify((event as { _tag: unknown })._tag)}`)
      }
    }
  }
  for (const chunk of chunks) {
    let rest = chunk
    while (rest.length > 0) {
      const result = execute(rest)
      check()
      take(result)
      if (result.error !== undefined) return { messages, error: result.error.code, partial: true }
      if (result.consumed === 0) throw new Error("parser made no progress")
      if (result.consumed > rest.length) throw new Error("parser consumed more than its input")
      rest = rest.subarray(result.consumed)
    }
  }
  if (finish !== undefined) {
    const result = finish()
    take(result)
    if (result.error !== undefined) return { messages, error: result.error.code, partial: true }
  }
  return { messages, partial: !parser.isIdle }
}

/** Cuts `data` at the given positions (any order, duplicates allowed). */
export const splitAt = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const parts: Array<Uint8Array> = []
  let from = 0
  for (const p of points) {
    parts.push(data.slice(from, p))
    from = p
  }
  parts.push(data.slice(from))
  return parts
}

/** Split points for a message of up to a few kilobytes. */
export const cuts: fc.Arbitrary<Array<number>> = fc.array(fc.nat({ max: 100_000 }), { maxLength: 12 })

const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

export const token: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...tchars),
  minLength: 1,
  maxLength: 12
})

/** A field value: field-vchar text without surrounding whitespace. */
export const fieldValue: fc.Arbitrary<string> = fc
  .string({
    unit: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) },
      { weight: 2, arbitrary: fc.constantFrom(" ", "\t") },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) }
    ),
    maxLength: 40
  })
  .map((v) => v.replace(/^[\t ]+|[\t ]+$/g, ""))

/** Header names the framing rules act on are left out of random fields. */
const special = new Set(["host", "content-length", "transfer-encoding", "connection"])
export const extraFields: fc.Arbitrary<Array<[string, string]>> = fc.array(
  fc.tuple(token.filter((n) => !special.has(n.toLowerCase())), fieldValue),
  { maxLength: 8 }
)

export const originTarget: fc.Arbitrary<string> = fc
  .string({ unit: fc.constantFrom(..."abcXYZ019-._~:@!$&'()*+,;=%/?"), maxLength: 30 })
  .map((p) => "/" + p)

export type BodySpec =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly body: string }
  | {
    readonly kind: "chunked"
    readonly chunks: ReadonlyArray<{ readonly data: string; readonly ext: string }>
    readonly trailers: ReadonlyArray<[string, string]>
  }

const bodyText = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 60 })
const chunkExt = fc.constantFrom("", ";a", ";a=b", ";name=\"quoted; value\"", "; x = 1", ";a;b=c")

export const bodySpec: fc.Arbitrary<BodySpec> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  bodyText.map((body) => ({ kind: "length" as const, body })),
  fc.record({
    kind: fc.constant("chunked" as const),
    chunks: fc.array(fc.record({ data: bodyText.filter((d) => d.length > 0), ext: chunkExt }), { maxLength: 4 }),
    trailers: extraFields
  })
)

/** The body bytes of `spec` as sent, and the field announcing its framing. */
export const encodeBody = (spec: BodySpec): { readonly field?: [string, string]; readonly wire: string } => {
  switch (spec.kind) {
    case "none":
      return { wire: "" }
    case "length":
      return { field: ["Content-Length", String(spec.body.length)], wire: spec.body }
    case "chunked": {
      let wire = ""
      for (const c of spec.chunks) wire += c.data.length.toString(16) + c.ext + "\r\n" + c.data + "\r\n"
      wire += "0\r\n" + spec.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join("") + "\r\n"
      return { field: ["Transfer-Encoding", "chunked"], wire }
    }
  }
}

export const bodyOf = (spec: BodySpec): string =>
  spec.kind === "none" ? "" : spec.kind === "length" ? spec.body : spec.chunks.map((c) => c.data).join("")

export const trailersOf = (spec: BodySpec): ReadonlyArray<[string, string]> =>
  spec.kind === "chunked" ? spec.trailers : []

/** Runs `cases` through `fc.assert` with a fixed budget. */
export const property = <T>(arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void, numRuns = 300): void =>
  fc.assert(fc.property(arbitrary, predicate), { numRuns })

/** Feeds `chunks` to a new RequestParser (see `feed`). */
export const parseRequestChunks = (
  chunks: ReadonlyArray<Uint8Array>,
  limits: Partial<RequestLimits> = {}
): Outcome<RequestHead> => {
  const parser = new RequestParser(limits)
  return feed(parser, (input) => parser.execute(input), chunks)
}

/** `raw` whole and one byte at a time: both must agree; the whole's outcome. */
export const parseRequest = (raw: string, limits: Partial<RequestLimits> = {}): Outcome<RequestHead> => {
  const data = bytes(raw)
  const whole = parseRequestChunks([data], limits)
  const bytewise = parseRequestChunks(Array.from(data, (_, i) => data.subarray(i, i + 1)), limits)
  expect(bytewise, `${JSON.stringify(raw)} split byte by byte`).toEqual(whole)
  return whole
}

/** All 256 byte values as one-character strings. */
export const allBytes: ReadonlyArray<string> = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b))

import { CR, LF, SP, type TextWindow, TOKEN, URI } from "./chars.ts"
import type { ParseErrorCode } from "./errors.ts"
import { keepAlive, requestFraming } from "./framing.ts"
import { Headers } from "./Headers.ts"
import type { HttpVersion, ParseResult, RequestHead } from "./message.ts"
import { type MessageLimits, MessageParser } from "./MessageParser.ts"
import { isHostPort, isTargetFor } from "./target.ts"
import { HTTP_1_1, parseVersion } from "./version.ts"

export type RequestLimits = MessageLimits

/**
 * 8 KiB request line (414 beyond), 32 KiB / 100 header fields (431 beyond),
 * 4 KiB of chunk extensions per request, 8 MiB bodies (413 beyond).
 */
export const defaultRequestLimits: RequestLimits = {
  maxStartLineSize: 8 * 1024,
  maxHeaderSectionSize: 32 * 1024,
  maxHeaderCount: 100,
  maxChunkExtensionSize: 4 * 1024,
  maxBodySize: 8 * 1024 * 1024
}

/**
 * Incremental, strict HTTP/1.1 request parser (RFC 9112). One instance serves
 * one connection: `execute` stops after each request's End event, so
 * pipelined requests come out one by one, and continues with the next
 * request on the following call. After an error it stays failed.
 */
export class RequestParser extends MessageParser<RequestHead> {
  // Stryker disable next-line StringLiteral: equivalent, set by startLine before completeHead reads them
  private method = ""
  // Stryker disable next-line StringLiteral: equivalent, as above
  private target = ""
  private version: HttpVersion = HTTP_1_1
  protected readonly startLineTooLong = "UriTooLong"
  /** Bytes of the current partial request line whose method part was checked, and whether that part ended. */
  private methodChecked = 0
  private methodEnded = false
  /**
   * The current message's request line once read whole: true when it parsed
   * (it is rebuilt from its parts on demand), its raw text when it did not.
   */
  private lineRead: boolean | string = false

  constructor(limits: Partial<RequestLimits> = {}) {
    super({ ...defaultRequestLimits, ...limits })
  }

  /** See `MessageParser.run`: parses up to the end of one request. */
  execute(input: Uint8Array): ParseResult<RequestHead> {
    // a call starting between messages starts a new one: the last one's line is done with
    if (this.isIdle) this.lineRead = false
    return this.run(input)
  }

  /**
   * The request line of the message in progress (or the one that failed),
   * once it was read up to its line end: as parsed, or, when it was
   * malformed, its raw bytes as latin1 text (escape them before printing).
   * undefined before the line ended, so a refusal can say which request it
   * refused.
   */
  get requestLine(): string | undefined {
    if (this.lineRead === false) return undefined
    if (this.lineRead !== true) return this.lineRead
    return `${this.method} ${this.target} HTTP/${this.version.major}.${this.version.minor}`
  }

  /**
   * request-line = method SP request-target SP HTTP-version. `bytes[end]` is
   * the line's CR, which is neither a tchar, a URI character nor SP: it stops
   * the scans below at the end of the line.
   */
  protected startLine(bytes: Uint8Array, start: number, end: number): ParseErrorCode | "skip" | undefined {
    this.methodChecked = 0
    this.methodEnded = false
    // Empty lines before a request line are ignored (RFC 9112 section 2.2).
    if (start === end) return "skip"
    const refused = this.parseRequestLine(bytes, start, end)
    // A line refused in its method is not a request (and is refused at its first
    // bytes when it arrives in pieces): only a line with a method is kept.
    // Stryker disable next-line ConditionalExpression: equivalent, a valid line's raw text is its parsed form
    if (refused === undefined) this.lineRead = true
    else if (startsWithMethod(bytes, start, end)) this.lineRead = this.text.slice(bytes, start, end)
    return refused
  }

  /** The request line `bytes[start, end)`, its CR at `bytes[end]` (see `startLine`). */
  private parseRequestLine(bytes: Uint8Array, start: number, end: number): ParseErrorCode | undefined {
    let i = start
    while (TOKEN[bytes[i]!] === 1) i++
    if (bytes[i] !== SP) return badByte(bytes, i, end, "InvalidMethod")
    if (i === start) return "InvalidRequestLine"
    const methodEnd = i++
    const targetStart = i
    while (URI[bytes[i]!] === 1) i++
    if (bytes[i] !== SP) return badByte(bytes, i, end, "InvalidTarget")
    if (i === targetStart) return "InvalidRequestLine"
    const targetEnd = i++
    const version = parseVersion(bytes, i, end)
    if (typeof version === "string") {
      // A third space means whitespace inside the target, the likelier fault.
      if (version === "InvalidVersion" && bytes.subarray(i, end).includes(SP)) return "InvalidTarget"
      return version
    }
    const method = methodOf(bytes, start, methodEnd, this.text)
    const target = this.text.slice(bytes, targetStart, targetEnd)
    if (!isTargetFor(method, target)) return "InvalidTarget"
    this.method = method
    this.target = target
    this.version = version
    return undefined
  }

  /**
   * A request line is decided by its method before its end: the line is
   * rejected as soon as a byte there is neither a token char nor what may end
   * the method (SP; CR or LF, which `startLine` and the line reader judge).
   * Checked incrementally, each byte once.
   */
  protected override rejectStartLinePrefix(
    first: Uint8Array,
    firstStart: number,
    firstEnd: number,
    second: Uint8Array,
    secondStart: number,
    secondEnd: number
  ): ParseErrorCode | undefined {
    // Stryker disable next-line ConditionalExpression: equivalent, a rescan finds the same byte and answer
    if (this.methodEnded) return undefined
    // Stryker disable next-line ArithmeticOperator: equivalent, the first part is always the line buffer from 0
    const firstLength = firstEnd - firstStart
    const limit = Math.min(this.limits.maxStartLineSize, firstLength + secondEnd - secondStart)
    let n = this.methodChecked
    for (; n < limit; n++) {
      const b = n < firstLength ? first[firstStart + n]! : second[secondStart + n - firstLength]!
      if (TOKEN[b] !== 1) {
        // Stryker disable next-line BooleanLiteral: equivalent, a rescan finds the same byte and answer
        this.methodEnded = true
        // Stryker disable next-line ConditionalExpression: equivalent, the bytes looked at never hold the line's LF
        return b === SP || b === CR || b === LF ? undefined : "InvalidMethod"
      }
    }
    this.methodChecked = n
    return undefined
  }

  protected completeHead(): RequestHead | ParseErrorCode {
    const fields = this.fields
    const version = this.version
    // RFC 9112 section 3.2: 400 for a missing (HTTP/1.1), repeated or invalid Host.
    if (fields.hostCount > 1) return "DuplicateHost"
    if (fields.host === undefined) {
      if (version.minor >= 1) return "MissingHost"
    } else if (!isHostPort(fields.host, false)) {
      return "InvalidHost"
    }
    const framing = requestFraming(fields, version, this.limits.maxBodySize)
    if (typeof framing === "string") return framing
    return {
      method: this.method,
      target: this.target,
      version,
      headers: new Headers(fields.entries),
      framing,
      keepAlive: keepAlive(version, fields.connection)
    }
  }
}

/** Whether `bytes[start, end)` starts with a method: a token, then SP. */
const startsWithMethod = (bytes: Uint8Array, start: number, end: number): boolean => {
  let i = start
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, bytes[end] is the line's CR (see startLine)
  while (i < end && TOKEN[bytes[i]!] === 1) i++
  return i > start && i < end && bytes[i] === SP
}

/** The code for the byte at `i` that ended a start-line element early. */
const badByte = (bytes: Uint8Array, i: number, end: number, code: ParseErrorCode): ParseErrorCode => {
  if (i === end) return "InvalidRequestLine"
  if (bytes[i] === CR) return "BareCR"
  return code
}

/**
 * The common method that `bytes[start, end)` spells, as a constant string
 * (no decoding, and later comparisons with it are cheap); undefined for any
 * other method.
 */
export const commonMethod = (bytes: Uint8Array, start: number, end: number): string | undefined => {
  const length = end - start
  const b = bytes[start]
  if (length === 3) {
    if (b === 0x47 && bytes[start + 1] === 0x45 && bytes[start + 2] === 0x54) return "GET"
    if (b === 0x50 && bytes[start + 1] === 0x55 && bytes[start + 2] === 0x54) return "PUT"
  } else if (length === 4) {
    if (b === 0x48 && bytes[start + 1] === 0x45 && bytes[start + 2] === 0x41 && bytes[start + 3] === 0x44) return "HEAD"
    if (b === 0x50 && bytes[start + 1] === 0x4f && bytes[start + 2] === 0x53 && bytes[start + 3] === 0x54) return "POST"
  }
  return undefined
}

const methodOf = (bytes: Uint8Array, start: number, end: number, text: TextWindow): string =>
  // Stryker disable next-line LogicalOperator: equivalent, the constant and the decoded text are the same string
  commonMethod(bytes, start, end) ?? text.slice(bytes, start, end)

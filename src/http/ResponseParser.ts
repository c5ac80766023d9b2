import { CR, isDigit, REASON, SP } from "./chars.ts"
import type { ParseErrorCode } from "./errors.ts"
import { keepAlive, responseFraming } from "./framing.ts"
import { Headers } from "./Headers.ts"
import type { HttpVersion, ParseResult, ResponseHead } from "./message.ts"
import { type MessageLimits, MessageParser } from "./MessageParser.ts"
import { HTTP_1_1, parseVersion } from "./version.ts"

export type ResponseLimits = MessageLimits

/**
 * As for requests, but larger header sections, 64 KiB of chunk extensions per
 * response, and no body limit unless the caller sets one.
 */
export const defaultResponseLimits: ResponseLimits = {
  maxStartLineSize: 8 * 1024,
  maxHeaderSectionSize: 64 * 1024,
  maxHeaderCount: 200,
  maxChunkExtensionSize: 64 * 1024,
  maxBodySize: Number.MAX_SAFE_INTEGER
}

/**
 * Incremental, strict HTTP/1.1 response parser (RFC 9112) for one
 * connection. Interim 1xx responses (except 101) are skipped; the method of
 * the request being answered decides whether a body can follow (HEAD: no).
 * A body delimited by the connection close ends with `finish()`.
 */
export class ResponseParser extends MessageParser<ResponseHead> {
  private version: HttpVersion = HTTP_1_1
  private status = 0
  private reason = ""
  private requestMethod = "GET"
  protected readonly startLineTooLong = "InvalidStatusLine"

  /** `lenient`: accept a bare LF as a head's line end and unfold obs-fold, as a user agent may (the client does). */
  constructor(limits: Partial<ResponseLimits> = {}, lenient = false) {
    super({ ...defaultResponseLimits, ...limits }, lenient)
  }

  /**
   * Parses up to the end of one response (see `MessageParser.run`).
   * `requestMethod` is the method of the request this response answers.
   */
  execute(input: Uint8Array, requestMethod = "GET"): ParseResult<ResponseHead> {
    this.requestMethod = requestMethod
    return this.run(input)
  }

  /** Interim (1xx) responses skipped before the latest final head. */
  get interimResponses(): number {
    return this.skippedInterims
  }

  /** status-line = HTTP-version SP status-code SP [ reason-phrase ] */
  protected startLine(bytes: Uint8Array, start: number, end: number): ParseErrorCode | undefined {
    if (end - start < 12 || bytes[start + 8] !== SP) return anyCR(bytes, start, end) ?? "InvalidStatusLine"
    const version = parseVersion(bytes, start, start + 8)
    if (typeof version === "string") return version
    const d0 = bytes[start + 9]!
    const d1 = bytes[start + 10]!
    const d2 = bytes[start + 11]!
    if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2) || d0 === 0x30) {
      return anyCR(bytes, start, end) ?? "InvalidStatusLine"
    }
    // The SP before an empty reason is often left out; accept that.
    let reasonStart = end
    if (end > start + 12) {
      if (bytes[start + 12] !== SP) return anyCR(bytes, start, end) ?? "InvalidStatusLine"
      reasonStart = start + 13
      for (let i = reasonStart; i < end; i++) {
        const b = bytes[i]!
        if (REASON[b] !== 1) return b === CR ? "BareCR" : "InvalidStatusLine"
      }
    }
    this.version = version
    this.status = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30)
    this.reason = this.text.slice(bytes, reasonStart, end)
    return undefined
  }

  protected completeHead(): ResponseHead | ParseErrorCode {
    const fields = this.fields
    const version = this.version
    const status = this.status
    const framing = responseFraming(fields, version, status, this.requestMethod, this.limits.maxBodySize)
    if (typeof framing === "string") return framing
    return {
      version,
      status,
      reason: this.reason,
      headers: new Headers(fields.entries),
      framing,
      keepAlive: framing._tag !== "UntilClose" && keepAlive(version, fields.connection)
    }
  }

  protected override isInterim(head: ResponseHead): boolean {
    return head.status < 200 && head.status !== 101
  }
}

const anyCR = (bytes: Uint8Array, start: number, end: number): ParseErrorCode | undefined => {
  for (let i = start; i < end; i++) if (bytes[i] === CR) return "BareCR"
  return undefined
}

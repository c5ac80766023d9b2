import { CR, FIELD_VALUE, HEX, HTAB, LF, SEMICOLON, SP, TextWindow } from "./chars.ts"
import { HttpParseError, messageOf, type ParseErrorCode } from "./errors.ts"
import { FieldSection, parseFieldLine, parsePlainFieldLine, unfoldFieldLine } from "./fields.ts"
import { Headers } from "./Headers.ts"
import type { BodyFraming, ParseEvent, ParseResult } from "./message.ts"

/** Bounds on what a peer can make a parser hold or accept. */
export interface MessageLimits {
  /** Longest start line in bytes, CRLF excluded. */
  readonly maxStartLineSize: number
  /** Largest header section (and trailer section) in bytes, CRLFs included. */
  readonly maxHeaderSectionSize: number
  /** Most field lines in a header (or trailer) section. */
  readonly maxHeaderCount: number
  /**
   * Most bytes of chunk extensions (everything after each chunk size) in one
   * message, summed over its chunks: extensions are ignored, and the total
   * is what bounds the work they cause (RFC 9112 section 7.1.1).
   */
  readonly maxChunkExtensionSize: number
  /** Largest body, by Content-Length or summed chunk sizes. */
  readonly maxBodySize: number
}

// Parser phases. Numbers, not strings, so the dispatch is a jump table.
const START_LINE = 0
const FIELDS = 1
const BODY_LENGTH = 2
const CHUNK_SIZE = 3
const CHUNK_EXT = 4
const CHUNK_SIZE_LF = 5
const CHUNK_DATA = 6
const CHUNK_DATA_CR = 7
const CHUNK_DATA_LF = 8
const TRAILERS = 9
const UNTIL_CLOSE = 10
const FAILED = 11

// What `readLine` returns instead of a position.
const NEED_MORE = -1
const TOO_LONG = -2
const BARE_LF = -3

/** More hex digits than this in a chunk size is padding abuse or overflow. */
const MAX_CHUNK_SIZE_DIGITS = 16

const indexOf = Uint8Array.prototype.indexOf

const EMPTY_TRAILERS = new Headers([])

const NO_EVENTS: ReadonlyArray<never> = []

/**
 * The incremental HTTP/1.1 message engine shared by the request and response
 * parsers: start line and field lines are read as CRLF-terminated lines
 * (found with a native byte search, validated once complete; plain field
 * lines take a one-pass fast path with the same outcome), bodies by
 * Content-Length or by the chunked coding with a byte-level state machine.
 *
 * Only a partial line is ever buffered (at most the line limit in force), so
 * memory per connection is bounded by the limits, and every byte is looked at
 * a bounded number of times however the input is split. Errors are found at
 * line granularity, which makes the outcome independent of the split.
 */
export abstract class MessageParser<Head extends { readonly framing: BodyFraming }> {
  private phase = START_LINE
  private failure: HttpParseError | undefined = undefined
  /** The partial line carried over from the previous input. */
  private lineBuffer: Uint8Array = new Uint8Array(0)
  private lineLength = 0
  // The last complete line found by `readLine`, without its CRLF.
  private lineSource: Uint8Array = this.lineBuffer
  private lineStart = 0
  private lineEnd = 0

  protected readonly fields = new FieldSection()
  /** Decoded text of the input (or line buffer) around the current line. */
  protected readonly text = new TextWindow()
  private remaining = 0
  private chunkDigits = 0
  /** Chunk extension bytes in this message so far. */
  private extensionLength = 0
  private bodyTotal = 0
  /** Interim heads skipped since the last final head. */
  private interims = 0
  /** Interim heads skipped before the latest final head. */
  protected skippedInterims = 0

  /** Where the line after a bare LF begins (set when `readLine` returns BARE_LF). */
  private afterBareLF = 0

  /**
   * Leniencies RFC 9112 allows a recipient and only a user agent takes: a
   * bare LF ends a line of the head (section 2.2), and obs-fold is replaced
   * by a space (section 5.2). A server's parser stays strict: leniency there
   * is what request smuggling is made of.
   */
  protected constructor(
    protected readonly limits: MessageLimits,
    private readonly lenientHead: boolean = false
  ) {}

  /** Bytes held from earlier inputs (a partial line); never above the limits. */
  get bufferedBytes(): number {
    return this.lineLength
  }

  /** Whether the parser sits between messages with nothing pending. */
  get isIdle(): boolean {
    return this.phase === START_LINE && this.lineLength === 0 && this.interims === 0
  }

  get failed(): boolean {
    return this.phase === FAILED
  }

  /**
   * Parses a start line `bytes[start, end)`, followed by its CR at
   * `bytes[end]` (unless a lenient head ended it with a bare LF, when that
   * byte is not defined); returns an error code or
   * undefined when it is stored for `completeHead`. `"skip"` drops the line
   * (an empty line before a request line).
   */
  protected abstract startLine(bytes: Uint8Array, start: number, end: number): ParseErrorCode | "skip" | undefined
  /** Builds the head once the header section is complete, or rejects it. */
  protected abstract completeHead(): Head | ParseErrorCode
  /** The code for a start line over `maxStartLineSize`. */
  protected abstract readonly startLineTooLong: ParseErrorCode
  /**
   * Looks at the first bytes of a start line that `startLine` cannot judge:
   * one without its line end yet, over the limit, or ended by a bare LF. The
   * line so far is `first[firstStart, firstEnd)` then
   * `second[secondStart, secondEnd)`. Returns the code the line is rejected
   * with when its first bytes already decide it, so that garbage (a TLS
   * handshake, binary) is refused at once instead of after the header
   * timeout; undefined when they do not. It must give the code `startLine`
   * gives for every completion of the line, and look only at its first
   * `maxStartLineSize` bytes, so that the outcome never depends on how the
   * input is split.
   */
  // The body's mutant starts at the `{` after the parameters: a range, not next-line.
  // Stryker disable BlockStatement: equivalent, an empty body returns undefined too
  protected rejectStartLinePrefix(
    _first: Uint8Array,
    _firstStart: number,
    _firstEnd: number,
    _second: Uint8Array,
    _secondStart: number,
    _secondEnd: number
  ): ParseErrorCode | undefined {
    return undefined
  }
  // Stryker restore BlockStatement
  /** Whether a head is followed by another one for the same exchange (1xx). */
  // Stryker disable next-line BlockStatement: equivalent, an empty body returns undefined, as falsy
  protected isInterim(_head: Head): boolean {
    return false
  }

  /**
   * Consumes `input` up to the end of one message. Body events are views into
   * `input`. Call again with `input.subarray(consumed)` for what follows
   * (pipelined messages), or with the next read once all was consumed.
   */
  protected run(input: Uint8Array): ParseResult<Head> {
    if (this.phase === FAILED) return { consumed: 0, events: NO_EVENTS, error: this.failure! }
    const end = input.length
    const events: Array<ParseEvent<Head>> = []
    this.text.reset()
    let pos = 0
    let code: ParseErrorCode | undefined
    loop: while (pos < end) {
      switch (this.phase) {
        case START_LINE: {
          let next = this.readLine(input, pos, this.limits.maxStartLineSize)
          if (next === BARE_LF && this.lenientHead) next = this.afterBareLF
          // Stryker disable next-line EqualityOperator: equivalent, a line's next position is at least 1
          if (next < 0) {
            // the first bytes of the line may decide it already, before its end or its length
            if (next === NEED_MORE) {
              pos = end
              // the partial line is all in the buffer now
              code = this.rejectStartLinePrefix(this.lineBuffer, 0, this.lineLength, input, end, end)
              break loop
            }
            code = next === TOO_LONG
              ? this.rejectStartLinePrefix(this.lineBuffer, 0, this.lineLength, input, pos, end) ??
                this.startLineTooLong
              : this.rejectStartLinePrefix(this.lineSource, this.lineStart, this.lineEnd, input, end, end) ?? "BareLF"
            break loop
          }
          pos = next
          const result = this.startLine(this.lineSource, this.lineStart, this.lineEnd)
          if (result === "skip") continue
          if (result !== undefined) {
            code = result
            break loop
          }
          this.fields.reset()
          this.phase = FIELDS
          break
        }
        case FIELDS:
        case TRAILERS: {
          const fields = this.fields
          // Room for this line's content: the section must still fit this
          // line's CRLF and the empty line that ends the section.
          const budget = this.limits.maxHeaderSectionSize - fields.bytes - 4
          // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent, without the fast path readLine and parseFieldLine decide the same
          if (this.lineLength === 0 && fields.entries.length < this.limits.maxHeaderCount) {
            const next = parsePlainFieldLine(input, pos, budget, fields, this.text)
            if (next !== -1) {
              pos = next
              break
            }
          }
          // Stryker disable next-line EqualityOperator: equivalent, at 0 both arms give 0
          let next = this.readLine(input, pos, budget < 0 ? 0 : budget)
          if (next === BARE_LF && this.lenientHead) next = this.afterBareLF
          // Stryker disable next-line EqualityOperator: equivalent, a line's next position is at least 1
          if (next < 0) {
            if (next === NEED_MORE) {
              pos = end
              break loop
            }
            code = next === TOO_LONG ? "HeaderSectionTooLarge" : "BareLF"
            break loop
          }
          const lineStart = this.lineStart
          const lineEnd = this.lineEnd
          pos = next
          if (lineEnd > lineStart) {
            if (fields.entries.length === this.limits.maxHeaderCount) {
              code = "TooManyHeaders"
              break loop
            }
            const source = this.lineSource
            const folded = this.lenientHead && (source[lineStart] === SP || source[lineStart] === HTAB)
            code = folded
              ? unfoldFieldLine(source, lineStart, lineEnd, fields, this.text)
              : parseFieldLine(source, lineStart, lineEnd, fields, this.text)
            if (code !== undefined) break loop
            break
          }
          if (this.phase === TRAILERS) {
            events.push({ _tag: "End", trailers: new Headers(fields.entries) })
            this.phase = START_LINE
            break loop
          }
          const head = this.completeHead()
          if (typeof head === "string") {
            code = head
            break loop
          }
          if (this.isInterim(head)) {
            // An interim response (1xx) is reported, not acted on; the final one follows.
            events.push({ _tag: "Interim", head })
            this.interims++
            this.phase = START_LINE
            continue
          }
          this.skippedInterims = this.interims
          this.interims = 0
          events.push({ _tag: "Head", head })
          const framing = head.framing
          switch (framing._tag) {
            case "ContentLength":
              if (framing.length === 0) {
                events.push({ _tag: "End", trailers: EMPTY_TRAILERS })
                this.phase = START_LINE
                break loop
              }
              this.remaining = framing.length
              this.phase = BODY_LENGTH
              break
            case "Chunked":
              this.bodyTotal = 0
              this.extensionLength = 0
              this.startChunk()
              break
            case "UntilClose":
              this.phase = UNTIL_CLOSE
              break
            case "None":
              events.push({ _tag: "End", trailers: EMPTY_TRAILERS })
              this.phase = START_LINE
              break loop
          }
          break
        }
        case BODY_LENGTH: {
          const take = Math.min(this.remaining, end - pos)
          events.push({ _tag: "Body", chunk: input.subarray(pos, pos + take) })
          pos += take
          this.remaining -= take
          if (this.remaining === 0) {
            events.push({ _tag: "End", trailers: EMPTY_TRAILERS })
            this.phase = START_LINE
            break loop
          }
          break
        }
        case CHUNK_SIZE: {
          const b = input[pos++]!
          const digit = HEX[b]!
          if (digit >= 0) {
            if (++this.chunkDigits > MAX_CHUNK_SIZE_DIGITS || this.remaining > (Number.MAX_SAFE_INTEGER - digit) / 16) {
              code = "ChunkSizeOverflow"
              break loop
            }
            this.remaining = this.remaining * 16 + digit
          } else if (this.chunkDigits === 0) {
            code = b === LF ? "BareLF" : "InvalidChunkSize"
            break loop
          } else if (b === CR) {
            this.phase = CHUNK_SIZE_LF
          } else if (b === SEMICOLON) {
            if (++this.extensionLength > this.limits.maxChunkExtensionSize) {
              code = "ChunkExtensionTooLong"
              break loop
            }
            this.phase = CHUNK_EXT
          } else {
            code = b === LF ? "BareLF" : "InvalidChunkSize"
            break loop
          }
          break
        }
        case CHUNK_EXT: {
          // The extension is skipped (nothing here uses one), but bounded and
          // restricted to field-value bytes so it cannot hide a line break.
          const max = this.limits.maxChunkExtensionSize
          while (pos < end) {
            const b = input[pos++]!
            if (b === CR) {
              this.phase = CHUNK_SIZE_LF
              break
            }
            if (FIELD_VALUE[b] !== 1) {
              code = b === LF ? "BareLF" : "InvalidChunkExtension"
              break loop
            }
            if (++this.extensionLength > max) {
              code = "ChunkExtensionTooLong"
              break loop
            }
          }
          break
        }
        case CHUNK_SIZE_LF: {
          if (input[pos++] !== LF) {
            code = "BareCR"
            break loop
          }
          if (this.remaining === 0) {
            this.fields.reset()
            this.phase = TRAILERS
            break
          }
          this.bodyTotal += this.remaining
          if (this.bodyTotal > this.limits.maxBodySize) {
            code = "BodyTooLarge"
            break loop
          }
          this.phase = CHUNK_DATA
          break
        }
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, end - pos)
          events.push({ _tag: "Body", chunk: input.subarray(pos, pos + take) })
          pos += take
          this.remaining -= take
          if (this.remaining === 0) this.phase = CHUNK_DATA_CR
          break
        }
        case CHUNK_DATA_CR: {
          const b = input[pos++]!
          if (b !== CR) {
            code = b === LF ? "BareLF" : "InvalidChunkTerminator"
            break loop
          }
          this.phase = CHUNK_DATA_LF
          break
        }
        case CHUNK_DATA_LF: {
          if (input[pos++] !== LF) {
            code = "BareCR"
            break loop
          }
          this.startChunk()
          break
        }
        case UNTIL_CLOSE: {
          events.push({ _tag: "Body", chunk: input.subarray(pos, end) })
          pos = end
          break
        }
      }
    }
    if (code !== undefined) {
      const error = this.fail(code)
      return { consumed: pos, events, error }
    }
    return { consumed: pos, events }
  }

  /**
   * The peer closed the connection. Between messages that is clean (no
   * events); a body delimited by the close ends here; anything else was cut
   * short and yields a "Truncated" error.
   */
  finish(): ParseResult<Head> {
    if (this.phase === FAILED) return { consumed: 0, events: NO_EVENTS, error: this.failure! }
    if (this.isIdle) return { consumed: 0, events: NO_EVENTS }
    if (this.phase === UNTIL_CLOSE) {
      this.phase = START_LINE
      return { consumed: 0, events: [{ _tag: "End", trailers: EMPTY_TRAILERS }] }
    }
    return { consumed: 0, events: NO_EVENTS, error: this.fail("Truncated") }
  }

  private startChunk(): void {
    this.remaining = 0
    this.chunkDigits = 0
    this.phase = CHUNK_SIZE
  }

  private fail(code: ParseErrorCode): HttpParseError {
    this.phase = FAILED
    this.lineLength = 0
    this.lineBuffer = new Uint8Array(0)
    this.failure = new HttpParseError({ code, message: messageOf(code) })
    return this.failure
  }

  /**
   * Finds the next CRLF-terminated line of at most `limit` content bytes.
   * Returns the position after its LF and sets `lineSource/Start/End`; or
   * NEED_MORE after buffering a partial line, TOO_LONG, or BARE_LF (with
   * `lineSource/Start/End` set to the line before the LF).
   */
  private readLine(input: Uint8Array, pos: number, limit: number): number {
    const end = input.length
    const pending = this.lineLength
    // The line, CRLF included, may span at most limit + 2 bytes.
    // Uint8Array's own search: Buffer overrides indexOf with a slower path.
    const lf = indexOf.call(input, LF, pos)
    if (lf === -1) {
      if (pending + end - pos > limit + 1) return TOO_LONG
      this.append(input, pos, end, limit + 2)
      return NEED_MORE
    }
    if (pending + lf - pos > limit + 1) return TOO_LONG
    // the line (without CR and LF, or without the bare LF) goes to lineSource/Start/End
    // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent, copying the line to the buffer first gives the same line
    if (pending === 0) {
      // Stryker disable next-line ConditionalExpression: equivalent, the byte before a line is the previous line's LF or before the input
      const bare = lf === pos || input[lf - 1] !== CR
      this.lineSource = input
      this.lineStart = pos
      this.lineEnd = bare ? lf : lf - 1
      this.afterBareLF = lf + 1
      return bare ? BARE_LF : lf + 1
    }
    this.append(input, pos, lf, limit + 2)
    const length = this.lineLength
    this.lineLength = 0
    const bare = this.lineBuffer[length - 1] !== CR
    this.lineSource = this.lineBuffer
    this.lineStart = 0
    this.lineEnd = bare ? length : length - 1
    this.afterBareLF = lf + 1
    return bare ? BARE_LF : lf + 1
  }

  private append(input: Uint8Array, from: number, to: number, capacity: number): void {
    this.text.reset()
    const needed = this.lineLength + to - from
    // Stryker disable next-line EqualityOperator: equivalent, growing at equal size only costs a copy
    if (needed > this.lineBuffer.length) {
      // The growth policy bounds memory and copies; no result depends on it beyond fitting `needed`.
      // Stryker disable next-line MethodExpression,ArithmeticOperator: equivalent, see above
      const grown = new Uint8Array(Math.min(capacity, Math.max(needed, 2 * this.lineBuffer.length, 256)))
      grown.set(this.lineBuffer.subarray(0, this.lineLength))
      this.lineBuffer = grown
    }
    this.lineBuffer.set(input.subarray(from, to), this.lineLength)
    this.lineLength = needed
  }
}

import { COLON, CR, equalsLower, FIELD_VALUE, HTAB, LF, SP, type TextWindow, TOKEN } from "./chars.ts"
import type { ParseErrorCode } from "./errors.ts"

/**
 * The field lines of one header or trailer section, in arrival order, plus
 * the values of the fields that decide framing and persistence, picked out
 * while parsing so that nobody rescans the list with string compares.
 */
export class FieldSection {
  // Stryker disable next-line ArrayDeclaration: equivalent, the parser calls reset() before it reads a section
  entries: Array<[string, string]> = []
  hostCount = 0
  /** The first Host value. */
  host: string | undefined = undefined
  contentLength: Array<string> | undefined = undefined
  transferEncoding: Array<string> | undefined = undefined
  connection: Array<string> | undefined = undefined
  /** Bytes of the section so far, line terminators included. */
  bytes = 0

  reset(): void {
    this.entries = []
    this.hostCount = 0
    this.host = undefined
    this.contentLength = undefined
    this.transferEncoding = undefined
    this.connection = undefined
    this.bytes = 0
  }
}

const isWhitespace = (b: number): boolean => b === SP || b === HTAB

/**
 * Parses one field line `bytes[start, end)` (without its CRLF) into `section`
 * (RFC 9112 section 5): `name ":" OWS value OWS`. Returns the rejection code,
 * or undefined when the line was added.
 */
export const parseFieldLine = (
  bytes: Uint8Array,
  start: number,
  end: number,
  section: FieldSection,
  text: TextWindow
): ParseErrorCode | undefined => {
  const first = bytes[start]!
  // A line starting with whitespace continues the previous one (obs-fold), or
  // sits between the start line and the first field: both are rejected.
  if (isWhitespace(first)) return "ObsFold"
  let i = start
  while (i < end && TOKEN[bytes[i]!] === 1) i++
  const nameEnd = i
  if (i === end) return "InvalidHeaderName"
  const stop = bytes[i]!
  if (stop !== COLON) {
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent, a leading space returned above; else the scan stays on `stop`
    if (isWhitespace(stop) && i > start) {
      // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, the i < end below bounds what is read
      while (i < end && isWhitespace(bytes[i]!)) i++
      if (i < end && bytes[i] === COLON) return "WhitespaceBeforeColon"
    }
    return stop === CR ? "BareCR" : "InvalidHeaderName"
  }
  if (nameEnd === start) return "InvalidHeaderName"
  i++
  // Stryker disable next-line ConditionalExpression: equivalent, a scan past end leaves valueStart > end, which addField reads as the empty value (it slices the name first)
  while (i < end && isWhitespace(bytes[i]!)) i++
  const valueStart = i
  for (; i < end; i++) {
    const b = bytes[i]!
    if (FIELD_VALUE[b] !== 1) return b === CR ? "BareCR" : "InvalidHeaderValue"
  }
  addField(bytes, start, nameEnd, valueStart, end, section, text)
  return undefined
}

/** Fields whose value decides framing, persistence or routing: never assembled from folded lines. */
const unfoldable = (name: string): boolean => {
  const lower = name.toLowerCase()
  return lower !== "content-length" && lower !== "transfer-encoding" && lower !== "connection" && lower !== "host"
}

/**
 * A line starting with whitespace, `bytes[start, end)`, read as obs-fold (RFC
 * 9112 section 5.2): a user agent replaces the fold with SP, so its text is
 * appended to the previous field's value after one space. Rejected before the
 * first field (section 2.2), after a field that frames the message
 * (Content-Length, Transfer-Encoding, Connection, Host: folding those is an
 * ambiguity, not a style), and with bytes a value may not hold.
 */
export const unfoldFieldLine = (
  bytes: Uint8Array,
  start: number,
  end: number,
  section: FieldSection,
  text: TextWindow
): ParseErrorCode | undefined => {
  const last = section.entries[section.entries.length - 1]
  if (last === undefined || !unfoldable(last[0])) return "ObsFold"
  let i = start
  while (i < end && isWhitespace(bytes[i]!)) i++
  const valueStart = i
  for (; i < end; i++) {
    const b = bytes[i]!
    if (FIELD_VALUE[b] !== 1) return b === CR ? "BareCR" : "InvalidHeaderValue"
  }
  let valueEnd = end
  while (valueEnd > valueStart && isWhitespace(bytes[valueEnd - 1]!)) valueEnd--
  const more = text.slice(bytes, valueStart, valueEnd)
  if (more !== "") last[1] = last[1] === "" ? more : `${last[1]} ${more}`
  section.bytes += end - start + 2
  return undefined
}

/**
 * The fast path for the common case: a complete, valid field line at
 * `bytes[start]` whose content (CRLF excluded) is at most `limit` bytes, read
 * in one pass. Returns the position after its LF, or -1 when the line is
 * anything else (incomplete, too long, invalid): then `parseFieldLine` on the
 * whole line decides, so both paths accept and reject exactly the same.
 * Any change that only returns -1 more often decides the same, so the scans'
 * and the bail-out's mutants of that kind are marked equivalent below.
 */
export const parsePlainFieldLine = (
  bytes: Uint8Array,
  start: number,
  limit: number,
  section: FieldSection,
  text: TextWindow
): number => {
  let i = start
  // `bytes` is the whole input: past its end bytes[i] is undefined, which is in
  // no table and is neither a colon nor CR nor LF, so every scan stops there and
  // a line that runs to the end goes to the slow path (-1).
  // Stryker disable next-line ConditionalExpression,EqualityOperator,UpdateOperator: equivalent, a name scan that stops early or runs backwards ends on a byte that is not a colon (-1)
  while (TOKEN[bytes[i]!] === 1) i++
  if (i === start || bytes[i] !== COLON) return -1
  const nameEnd = i++
  while (isWhitespace(bytes[i]!)) i++
  const valueStart = i
  // Stryker disable next-line ConditionalExpression,EqualityOperator,UpdateOperator: equivalent, a value scan that stops early or runs backwards ends on a byte that is not the line's CR (-1)
  while (FIELD_VALUE[bytes[i]!] === 1) i++
  // Stryker disable next-line ArithmeticOperator: equivalent, bytes[i - 1] is never LF and i + start > limit only bails more often (-1)
  if (bytes[i] !== CR || bytes[i + 1] !== LF || i - start > limit) return -1
  addField(bytes, start, nameEnd, valueStart, i, section, text)
  return i + 2
}

const addField = (
  bytes: Uint8Array,
  start: number,
  nameEnd: number,
  valueStart: number,
  end: number,
  section: FieldSection,
  text: TextWindow
): void => {
  let valueEnd = end
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, below valueStart lie only the OWS skipped before it, and a range ending below its start slices to the empty value
  while (valueEnd > valueStart && isWhitespace(bytes[valueEnd - 1]!)) valueEnd--
  const name = text.slice(bytes, start, nameEnd)
  const value = text.slice(bytes, valueStart, valueEnd)
  section.entries.push([name, value])
  section.bytes += end - start + 2
  switch (nameEnd - start) {
    case 4:
      if (equalsLower(bytes, start, "host") && section.hostCount++ === 0) section.host = value
      break
    case 10:
      // Stryker disable next-line ArrayDeclaration: equivalent, the element it adds holds neither close nor keep-alive
      if (equalsLower(bytes, start, "connection")) (section.connection ??= []).push(value)
      break
    case 14:
      if (equalsLower(bytes, start, "content-length")) (section.contentLength ??= []).push(value)
      break
    case 17:
      if (equalsLower(bytes, start, "transfer-encoding")) (section.transferEncoding ??= []).push(value)
      break
  }
}

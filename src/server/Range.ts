import { trimOws } from "../http/ows.ts"

/** A Range header against a representation of `size` bytes (RFC 9110 section 14). */
export type RangeRequest =
  /** No usable range (absent, not bytes, malformed, or several ranges): send the whole file. */
  | { readonly _tag: "None" }
  /** Inclusive byte offsets, already clipped to the file. */
  | { readonly _tag: "Single"; readonly start: number; readonly end: number }
  /** Valid syntax, but no byte of it lies in the (non-empty) file: 416. */
  | { readonly _tag: "Unsatisfiable" }

const NONE: RangeRequest = { _tag: "None" }
const UNSATISFIABLE: RangeRequest = { _tag: "Unsatisfiable" }
/** The byte ranges after the unit "bytes" and its "=", OWS around the unit allowed. */
const BYTE_RANGES = /^[ \t]*bytes[ \t]*=(.*)/i
const SPEC = /^(\d*)[ \t]*-[ \t]*(\d*)$/

export const parseRange = (header: string, size: number): RangeRequest => {
  // No range fits an empty representation; RFC 9110 section 14.1.1 lets the server
  // ignore it then, and a 200 with the empty body is what nginx and python send.
  if (size === 0) return NONE
  const ranges = BYTE_RANGES.exec(header)
  if (ranges === null) return NONE
  const specs = ranges[1]!.split(",").map(trimOws).filter((s) => s !== "")
  // several ranges: answering with the whole file is allowed and avoids multipart bodies
  if (specs.length !== 1) return NONE
  const match = SPEC.exec(specs[0]!)
  if (match === null) return NONE
  // both groups take part in every match, if only as ""
  const first = match[1]!
  const last = match[2]!
  if (first === "") {
    if (last === "") return NONE
    const suffix = Number(last)
    if (suffix === 0) return UNSATISFIABLE
    return { _tag: "Single", start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (last !== "" && Number(last) < start) return NONE
  if (start >= size) return UNSATISFIABLE
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1)
  return { _tag: "Single", start, end }
}

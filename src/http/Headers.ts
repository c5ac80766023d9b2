import { isOws } from "./ows.ts"

/**
 * Header fields as they arrived: order and original case are kept (a proxy or
 * a client printing a response must not reorder them), lookups ignore case.
 * Small lists (tens of fields) make a linear scan cheaper than a map.
 */
export class Headers {
  constructor(readonly entries: ReadonlyArray<readonly [name: string, value: string]> = []) {}

  static fromRecord(record: Readonly<Record<string, string>>): Headers {
    return new Headers(Object.entries(record))
  }

  get size(): number {
    return this.entries.length
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    for (const [n, v] of this.entries) {
      if (sameName(n, name)) return v
    }
    return undefined
  }

  /** Every value of `name`, in order. */
  getAll(name: string): Array<string> {
    const out: Array<string> = []
    for (const [n, v] of this.entries) {
      if (sameName(n, name)) out.push(v)
    }
    return out
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  /** A copy with `name` replaced by one field (appended if absent). */
  set(name: string, value: string): Headers {
    const kept = this.entries.filter(([n]) => !sameName(n, name))
    return new Headers([...kept, [name, value]])
  }

  append(name: string, value: string): Headers {
    return new Headers([...this.entries, [name, value]])
  }

  remove(name: string): Headers {
    return new Headers(this.entries.filter(([n]) => !sameName(n, name)))
  }

  /**
   * Whether a comma-separated list header (Connection, Expect, ...) contains
   * `token`, ignoring ASCII case and optional whitespace.
   */
  hasToken(name: string, token: string): boolean {
    const lower = token.toLowerCase()
    for (const [n, v] of this.entries) {
      if (sameName(n, name) && listHasToken(v, lower)) return true
    }
    return false
  }
}

/**
 * Whether the comma-separated list `value` has `token` (lowercase) as an
 * element, ignoring ASCII case and OWS (SP, HTAB: nothing else, so no
 * NBSP-padded element passes). Allocation-free: it runs per request.
 */
export const listHasToken = (value: string, token: string): boolean => {
  const n = value.length
  let i = 0
  while (i < n) {
    while (isOws(value.charCodeAt(i)) || value.charCodeAt(i) === 0x2c) i++
    let j = 0
    // past the end of either, charCodeAt is NaN, which equals nothing and is no OWS: no bound needed
    while (foldCase(value.charCodeAt(i + j)) === token.charCodeAt(j)) j++
    if (j === token.length) {
      let k = i + j
      while (isOws(value.charCodeAt(k))) k++
      if (k === n || value.charCodeAt(k) === 0x2c) return true
    }
    // Stryker disable next-line EqualityOperator: equivalent, at n charCodeAt is NaN and the loop above ends on i < n
    while (i < n && value.charCodeAt(i) !== 0x2c) i++
  }
  return false
}

/**
 * Whether two field names are equal ignoring ASCII case (names are tokens,
 * so ASCII), without allocating lowercase copies on every lookup.
 */
const sameName = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    // Stryker disable next-line ConditionalExpression: equivalent, equal codes fold alike; x !== y only spares the folding
    if (x !== y && foldCase(x) !== foldCase(y)) return false
  }
  return true
}

const foldCase = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c)

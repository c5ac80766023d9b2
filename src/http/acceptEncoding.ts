import { trimOws } from "./ows.ts"

/** Content codings the server can send, most preferred first when the client rates them alike. */
export type Coding = "br" | "gzip"

/** A qvalue (RFC 9110 12.4.2): 0 to 1, three decimals at most; anything else is unreadable (undefined). */
const parseQ = (
  text: string
): number | undefined => (/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : undefined)

/**
 * The weight an Accept-Encoding field gives each coding (RFC 9110 12.5.3):
 * `x-gzip` counts as `gzip`, `*` stands for every coding not named, and
 * identity is acceptable unless excluded by `identity;q=0` (or `*;q=0`
 * without identity named). Elements with an unreadable q are ignored.
 */
export const weightsOf = (
  header: string
): { readonly weight: (coding: Coding | "identity") => number; readonly rated: (coding: "identity") => boolean } => {
  const named = new Map<string, number>()
  for (const element of header.split(",")) {
    const [rawName, ...params] = element.split(";")
    // An empty element (`a,,b`) lands under "", a name no lookup asks for.
    const name = trimOws(rawName!).toLowerCase()
    let q: number | undefined = 1
    for (const param of params) {
      const eq = param.indexOf("=")
      if (eq === -1) continue
      if (trimOws(param.slice(0, eq)).toLowerCase() === "q") q = parseQ(trimOws(param.slice(eq + 1)))
    }
    if (q === undefined) continue
    const key = name === "x-gzip" ? "gzip" : name
    // the same coding named twice: the higher weight holds
    named.set(key, Math.max(q, named.get(key) ?? 0))
  }
  const star = named.get("*")
  return {
    weight: (coding) => {
      const own = named.get(coding)
      if (own !== undefined) return own
      if (star !== undefined) return star
      return coding === "identity" ? 1 : 0
    },
    rated: (coding) => named.has(coding) || star !== undefined
  }
}

/**
 * The coding to send among `available` (in the server's order of
 * preference): the one with the highest weight above 0, the server's
 * order breaking ties, unless identity is rated (named, or by `*`) higher.
 * "identity" when nothing beats it; undefined when neither a coding nor
 * identity is acceptable (the caller may still send identity, RFC 9110 12.5.3).
 */
export const chooseCoding = (
  header: string | undefined,
  available: ReadonlyArray<Coding>
): Coding | "identity" | undefined => {
  if (header === undefined) return "identity"
  const { rated, weight } = weightsOf(header)
  let best: Coding | undefined
  let bestWeight = 0
  for (const coding of available) {
    const w = weight(coding)
    if (w > bestWeight) {
      best = coding
      bestWeight = w
    }
  }
  const identity = weight("identity")
  if (best !== undefined && (!rated("identity") || bestWeight >= identity)) return best
  if (identity > 0) return "identity"
  return best
}

/** Codings of `available` the client accepts (weight above 0), best first, ties in the server's order. */
export const acceptedCodings = (header: string | undefined, available: ReadonlyArray<Coding>): Array<Coding> => {
  if (header === undefined) return []
  const { weight } = weightsOf(header)
  // Array.prototype.sort is stable: equal weights keep the server's order.
  return available
    .map((coding) => ({ coding, w: weight(coding) }))
    .filter((c) => c.w > 0)
    .sort((a, b) => b.w - a.w)
    .map((c) => c.coding)
}

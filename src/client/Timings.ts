/**
 * The moments of one request, in milliseconds (sub-millisecond precision)
 * since it started. Phases that did not happen are undefined: no DNS, TCP or
 * TLS on a reused connection, no TLS over plain HTTP.
 */
export interface Timings {
  readonly dns: number | undefined
  readonly connect: number | undefined
  readonly tls: number | undefined
  readonly sent: number
  readonly firstByte: number
  readonly done: number
}

export const millisBetween = (from: bigint, to: bigint): number => Number(to - from) / 1e6

/** One phase of the waterfall: where it starts and how long it took. */
export interface Phase {
  /** Short name for --json ("dns", "connect", "tls", "send", "wait", "receive"). */
  readonly key: string
  readonly name: string
  readonly start: number
  readonly duration: number
}

/** DNS lookup, TCP connect, TLS handshake, request sent, first byte (waiting), body done (download). */
export const phases = (t: Timings): ReadonlyArray<Phase> => {
  const out: Array<Phase> = []
  let at = 0
  const add = (key: string, name: string, end: number | undefined) => {
    if (end === undefined) return
    out.push({ key, name, start: at, duration: end - at })
    at = end
  }
  add("dns", "DNS lookup", t.dns)
  add("connect", "TCP connect", t.connect)
  add("tls", "TLS handshake", t.tls)
  add("send", "Request sent", t.sent)
  add("wait", "First byte", t.firstByte)
  add("receive", "Body done", t.done)
  return out
}

/** The TCP handshake alone: the network's round trip (undefined on a reused connection). */
export const connectTime = (t: Pick<Timings, "dns" | "connect">): number | undefined =>
  t.connect === undefined ? undefined : t.connect - (t.dns ?? 0)

/** From opening the connection (after DNS) to the first response byte, as the seed measured. */
export const firstByteTime = (t: Pick<Timings, "dns" | "firstByte">): number => t.firstByte - (t.dns ?? 0)

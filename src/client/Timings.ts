import type { Span } from "../net/Connector.ts"
import type { ExchangeInstants } from "./Exchange.ts"

/** A phase of a request: when it began and ended, in milliseconds since the request began. */
export interface Interval {
  readonly start: number
  readonly end: number
}

/**
 * The phases of one request, in milliseconds (sub-millisecond precision)
 * since it began: the DNS lookup's start, else the TCP connect's, else (on a
 * reused connection) the request's first write. Each phase is measured from
 * the instants the transport saw (see `Connector`), so the time between two
 * phases that was the client's own work belongs to neither. Phases that did
 * not happen are undefined: no DNS for an IP literal, no DNS, TCP or TLS on a
 * reused connection, no TLS over plain HTTP.
 */
export interface Timings {
  readonly dns: Interval | undefined
  readonly connect: Interval | undefined
  readonly tls: Interval | undefined
  /** From the request's first write to its last byte handed to the kernel. */
  readonly send: Interval
  /** From the request sent to the first response byte. */
  readonly wait: Interval
  /** From the first response byte to the last (or the close that ended the body). */
  readonly receive: Interval
}

/** The timings known when a response head arrives: the body is still to come. */
export type HeadTimings = Omit<Timings, "receive">

/** What opening a connection saw, on the connector's clock. */
export interface OpeningInstants {
  readonly lookup: Span | undefined
  readonly connect: Span
  readonly tls: Span | undefined
}

const millisBetween = (from: bigint, to: bigint): number => Number(to - from) / 1e6

const originOf = (opening: OpeningInstants | undefined, exchange: ExchangeInstants): bigint =>
  opening?.lookup?.startedAt ?? opening?.connect.startedAt ?? exchange.startedAt

/** The timings of a request from its instants; `opening` is undefined on a reused connection. */
export const headTimings = (opening: OpeningInstants | undefined, exchange: ExchangeInstants): HeadTimings => {
  const origin = originOf(opening, exchange)
  const interval = (from: bigint, to: bigint): Interval => ({
    start: millisBetween(origin, from),
    end: millisBetween(origin, to)
  })
  const span = (s: Span | undefined) => (s === undefined ? undefined : interval(s.startedAt, s.endedAt))
  return {
    dns: span(opening?.lookup),
    connect: span(opening?.connect),
    tls: span(opening?.tls),
    send: interval(exchange.startedAt, exchange.sentAt),
    wait: interval(exchange.sentAt, exchange.firstByteAt)
  }
}

export const timingsOf = (
  opening: OpeningInstants | undefined,
  exchange: ExchangeInstants & { readonly doneAt: bigint }
): Timings => {
  const head = headTimings(opening, exchange)
  return {
    ...head,
    receive: { start: head.wait.end, end: millisBetween(originOf(opening, exchange), exchange.doneAt) }
  }
}

/** The phases' keys, in order: --json writes `${key}Ms`. */
export type PhaseKey = "dns" | "connect" | "tls" | "send" | "wait" | "receive"

/** One name per figure, the same in --ttl, --timing, --count and (as `${key}Ms`) --json. */
export const labels = {
  dns: "DNS lookup",
  connect: "TCP connect",
  tls: "TLS handshake",
  send: "send",
  wait: "wait",
  receive: "receive",
  firstByte: "first byte",
  total: "total"
} as const

/** One phase of the waterfall: where it starts and how long it took. */
export interface Phase {
  readonly key: PhaseKey
  readonly name: string
  readonly start: number
  readonly duration: number
}

const order: ReadonlyArray<PhaseKey> = ["dns", "connect", "tls", "send", "wait", "receive"]

/** The phases that happened, in order. */
export const phases = (t: HeadTimings & { readonly receive?: Interval }): ReadonlyArray<Phase> => {
  const out: Array<Phase> = []
  for (const key of order) {
    const interval = t[key]
    if (interval !== undefined) {
      out.push({ key, name: labels[key], start: interval.start, duration: interval.end - interval.start })
    }
  }
  return out
}

/** From the request's beginning to the first response byte (curl's time_starttransfer). */
export const firstByteTime = (t: Pick<Timings, "wait">): number => t.wait.end

/** From the request's beginning to the end of the response (curl's time_total). */
export const totalTime = (t: Pick<Timings, "receive">): number => t.receive.end

/** The TCP handshake alone: the network's round trip (undefined on a reused connection). */
export const connectTime = (t: Pick<Timings, "connect">): number | undefined =>
  t.connect === undefined ? undefined : t.connect.end - t.connect.start

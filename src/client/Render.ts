import type { Headers } from "../http/Headers.ts"
import type { ResponseHead } from "../http/message.ts"
import type { PhaseSummary, Summary } from "./Stats.ts"
import { connectTime, firstByteTime, type HeadTimings, labels, phases, type Timings, totalTime } from "./Timings.ts"

/** Milliseconds with microsecond resolution: "0.412 ms". */
export const formatMs = (ms: number): string => `${ms.toFixed(3)} ms`

const statusLine = (head: ResponseHead) =>
  `HTTP/${head.version.major}.${head.version.minor} ${head.status}${head.reason === "" ? "" : ` ${head.reason}`}`

const fieldLines = (headers: Headers) => headers.entries.map(([name, value]) => `${name}: ${value}\r\n`).join("")

/** The status line and header section as they arrived (order and case kept), CRLF-terminated like the wire. */
export const headText = (head: ResponseHead): string => `${statusLine(head)}\r\n${fieldLines(head.headers)}\r\n`

/** Trailer fields of a chunked body, printed after it when there are any. */
export const trailerText = (trailers: Headers): string => (trailers.size === 0 ? "" : `\r\n${fieldLines(trailers)}`)

/**
 * Head or trailer text back into the bytes that arrived. The parser reads
 * field octets as Latin-1 (one code unit per byte, RFC 9110 section 5.5), so
 * writing the text as a string would re-encode a server's UTF-8 or other
 * obs-text bytes (`café` would print as `cafÃ©`): this prints them unchanged.
 */
export const wireBytes = (text: string): Uint8Array => {
  const bytes = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  return bytes
}

/** The heading above each target's output when several are fetched. */
export const heading = (url: string, first: boolean): string => `${first ? "" : "\n"}==> ${url} <==\n`

/**
 * --ttl: the TCP handshake (the network's round trip) and the time to the
 * first response byte, before the response; on a reused connection there
 * was no handshake.
 */
export const ttlText = (timings: HeadTimings): string => {
  const connect = connectTime(timings)
  const first = `${labels.firstByte} ${formatMs(firstByteTime(timings))}`
  return connect === undefined
    ? `RTT: connection reused, ${first}\n`
    : `RTT: ${labels.connect} ${formatMs(connect)}, ${first}\n`
}

const labelWidth = Math.max(...Object.values(labels).map((label) => label.length)) + 2

/**
 * --timing: one line per phase with a bar placed on a shared time axis (the
 * client's own work between two phases is the gap between their bars), then
 * the first byte and the total, each since the request began.
 */
export const waterfall = (timings: Timings, barWidth = 40): string => {
  const total = totalTime(timings)
  const scale = total > 0 ? barWidth / total : 0
  const lines = phases(timings).map(({ duration, name, start }) => {
    const from = Math.min(barWidth - 1, Math.floor(start * scale))
    const length = Math.max(1, Math.round(duration * scale))
    const bar = " ".repeat(from) + "#".repeat(Math.min(length, barWidth - from))
    return `  ${name.padEnd(labelWidth)}${formatMs(duration).padStart(13)}  |${bar.padEnd(barWidth)}|\n`
  })
  const cumulative = (label: string, ms: number) => `  ${label.padEnd(labelWidth)}${formatMs(ms).padStart(13)}\n`
  return lines.join("") + cumulative(labels.firstByte, firstByteTime(timings)) + cumulative(labels.total, total)
}

/** One round of --count; `total` is the round's, redirects included. */
export const roundLine = (
  round: number,
  head: ResponseHead,
  timings: Timings,
  bodyBytes: number,
  total: number
): string => {
  const connect = connectTime(timings)
  const how = connect === undefined ? "reused" : `${labels.connect} ${formatMs(connect)}`
  return `${round}: ${head.status}${
    head.reason === "" ? "" : ` ${head.reason}`
  }  ${bodyBytes} bytes  ${how}  ${labels.firstByte} ${formatMs(firstByteTime(timings))}  ${labels.total} ${
    formatMs(total)
  }\n`
}

const fixed = (ms: number) => ms.toFixed(3)

/** The --count summary, like ping's. */
export const summaryText = (url: string, sent: number, summary: Summary | undefined): string => {
  const failed = sent - (summary?.count ?? 0)
  const head = `--- ${url}: ${sent} requests, ${summary?.count ?? 0} answered, ${failed} failed ---\n`
  if (summary === undefined) return head
  return (
    head +
    `round trip min/avg/max/stddev = ${fixed(summary.min)}/${fixed(summary.avg)}/${fixed(summary.max)}/${
      fixed(summary.stddev)
    } ms\n` +
    `percentiles p50/p90/p99 = ${fixed(summary.p50)}/${fixed(summary.p90)}/${fixed(summary.p99)} ms\n`
  )
}

/** --count with --timing: each figure's statistics over the rounds that had it. */
export const phaseSummaryText = (summaries: ReadonlyArray<PhaseSummary>): string =>
  `per phase, min/avg/max/p50 in ms:\n` +
  summaries.map(({ name, summary }) =>
    `  ${name.padEnd(labelWidth)}${
      [summary.min, summary.avg, summary.max, summary.p50].map(fixed).join("/")
    }  (${summary.count} round${summary.count === 1 ? "" : "s"})\n`
  ).join("")

const units = ["B", "KiB", "MiB", "GiB", "TiB"]

export const formatBytes = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

const clock = (seconds: number) => {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = (n: number) => String(n).padStart(2, "0")
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`
}

/**
 * -o's progress line (redrawn in place with "\r"): bytes so far, rate, and
 * with a known length a bar, the percentage and the time left.
 */
export const progressLine = (options: {
  readonly bytes: number
  readonly total: number | undefined
  readonly elapsedMs: number
  readonly columns: number
}): string => {
  const { bytes, total, elapsedMs, columns } = options
  const rate = elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0
  const left = `${formatBytes(bytes)}${total === undefined ? "" : ` / ${formatBytes(total)}`}  ${
    formatBytes(Math.round(rate))
  }/s`
  if (total === undefined || total === 0) return `\r${left}`.padEnd(columns - 1)
  const fraction = Math.min(1, bytes / total)
  const eta = rate > 0 ? `ETA ${clock((total - bytes) / rate)}` : "ETA --:--"
  const right = `${(fraction * 100).toFixed(0).padStart(3)}%  ${eta}`
  const barWidth = Math.max(0, columns - 1 - left.length - right.length - 6)
  const filled = Math.round(barWidth * fraction)
  const bar = barWidth > 0 ? `  [${"#".repeat(filled)}${" ".repeat(barWidth - filled)}]` : ""
  return `\r${left}${bar}  ${right}`
}

import { firstByteTime, labels, type PhaseKey, phases, type Timings } from "./Timings.ts"

/** Summary of repeated round trips (--count), in the unit of the samples. */
export interface Summary {
  readonly count: number
  readonly min: number
  readonly avg: number
  readonly max: number
  /** Population standard deviation: the samples are all the round trips there were. */
  readonly stddev: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
}

/**
 * The p-th percentile by linear interpolation between closest ranks
 * (the "R-7" definition used by NumPy and spreadsheets), of sorted samples.
 */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return NaN
  const rank = (p / 100) * (sorted.length - 1)
  const lower = Math.floor(rank)
  const upper = Math.ceil(rank)
  const a = sorted[lower]!
  const b = sorted[upper]!
  return a + (b - a) * (rank - lower)
}

/** undefined for no samples: there is nothing to summarise. */
export const summarize = (samples: ReadonlyArray<number>): Summary | undefined => {
  if (samples.length === 0) return undefined
  const sorted = [...samples].sort((a, b) => a - b)
  const count = sorted.length
  const avg = sorted.reduce((sum, x) => sum + x, 0) / count
  const variance = sorted.reduce((sum, x) => sum + (x - avg) * (x - avg), 0) / count
  return {
    count,
    min: sorted[0]!,
    avg,
    max: sorted[count - 1]!,
    stddev: Math.sqrt(variance),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99)
  }
}

/** One figure's statistics over the rounds of --count that had it (no TCP connect on a reused connection). */
export interface PhaseSummary {
  readonly key: PhaseKey | "firstByte" | "total"
  readonly name: string
  readonly summary: Summary
}

/**
 * Each phase's, the first byte's and the total's statistics, in the
 * waterfall's order: the phases and first byte of each round's final
 * response, the round's total (redirects included).
 */
export const summarizePhases = (
  rounds: ReadonlyArray<{ readonly timings: Timings; readonly total: number }>
): ReadonlyArray<PhaseSummary> => {
  const samples = new Map<PhaseSummary["key"], { name: string; values: Array<number> }>()
  const add = (key: PhaseSummary["key"], name: string, value: number) => {
    const entry = samples.get(key) ?? { name, values: [] }
    entry.values.push(value)
    samples.set(key, entry)
  }
  for (const { timings } of rounds) {
    for (const phase of phases(timings)) add(phase.key, phase.name, phase.duration)
  }
  for (const { timings } of rounds) add("firstByte", labels.firstByte, firstByteTime(timings))
  for (const { total } of rounds) add("total", labels.total, total)
  const order: ReadonlyArray<PhaseSummary["key"]> = [
    "dns",
    "connect",
    "tls",
    "send",
    "wait",
    "receive",
    "firstByte",
    "total"
  ]
  return order.flatMap((key) => {
    const entry = samples.get(key)
    const summary = entry === undefined ? undefined : summarize(entry.values)
    return entry === undefined || summary === undefined ? [] : [{ key, name: entry.name, summary }]
  })
}

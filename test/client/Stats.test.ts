import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { percentile, summarize } from "../../src/client/Stats.ts"

describe("summarize", () => {
  it("gives nothing for no samples", () => {
    expect(summarize([])).toBeUndefined()
  })

  it("computes min/avg/max/stddev and interpolated percentiles", () => {
    const s = summarize([4, 2, 8, 6, 10])!
    expect(s).toMatchObject({ count: 5, min: 2, avg: 6, max: 10, p50: 6 })
    expect(s.stddev).toBeCloseTo(Math.sqrt(8), 12)
    expect(s.p90).toBeCloseTo(9.2, 12)
    expect(s.p99).toBeCloseTo(9.92, 12)
  })

  it("handles one sample", () => {
    expect(summarize([1.5])).toEqual({
      count: 1,
      min: 1.5,
      avg: 1.5,
      max: 1.5,
      stddev: 0,
      p50: 1.5,
      p90: 1.5,
      p99: 1.5
    })
  })

  it("keeps every statistic between min and max, percentiles in order", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), (xs) => {
        const s = summarize(xs)!
        const eps = 1e-6
        for (const v of [s.avg, s.p50, s.p90, s.p99]) {
          expect(v).toBeGreaterThanOrEqual(s.min - eps)
          expect(v).toBeLessThanOrEqual(s.max + eps)
        }
        expect(s.p50).toBeLessThanOrEqual(s.p90 + eps)
        expect(s.p90).toBeLessThanOrEqual(s.p99 + eps)
        expect(s.stddev).toBeGreaterThanOrEqual(0)
      })
    )
  })

  it("percentile 0 and 100 are the extremes", () => {
    expect(percentile([1, 2, 3], 0)).toBe(1)
    expect(percentile([1, 2, 3], 100)).toBe(3)
  })
})

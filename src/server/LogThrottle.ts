/**
 * Says whether a message about `key` (a file) may be logged now: once per key
 * per period, so a file requested a thousand times a second is one line a
 * period, not a thousand. At most `maxKeys` keys are remembered in a period:
 * past that (a client asking for many names under an unreadable directory)
 * the answer is "overflow" once per period and "no" after it, so the log
 * stays bounded whatever clients ask for. Pure bookkeeping over the times
 * the caller passes (monotonic milliseconds).
 */
export class LogThrottle {
  /** Keys logged in the current period, by when, oldest first (a key is logged again only once it left). */
  private readonly loggedAt = new Map<string, number>()
  private overflowAt = -Infinity

  constructor(readonly periodMs: number, readonly maxKeys: number) {}

  admit(key: string, now: number): "yes" | "no" | "overflow" {
    for (const [oldest, at] of this.loggedAt) {
      if (now - at < this.periodMs) break
      this.loggedAt.delete(oldest)
    }
    if (this.loggedAt.has(key)) return "no"
    if (this.loggedAt.size >= this.maxKeys) {
      if (now - this.overflowAt < this.periodMs) return "no"
      this.overflowAt = now
      return "overflow"
    }
    this.loggedAt.set(key, now)
    return "yes"
  }
}

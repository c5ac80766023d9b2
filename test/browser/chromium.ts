import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

/** Debian's Chromium; playwright-core never downloads a browser. */
export const chromiumPath = "/usr/bin/chromium"

const inCi = process.env.CI === "true" || process.env.CI === "1"

/**
 * Why the browser tests of `file` cannot run here ("" when they can). Outside
 * CI a missing Chromium skips them with a note; under CI they always run (and
 * fail without it).
 */
export const skipReasonFor = (file: string): string => {
  const reason = !inCi && !existsSync(chromiumPath)
    ? ` (skipped: ${chromiumPath} not found; apt-get install chromium to run it)`
    : ""
  if (reason !== "") console.warn(`${file}: browser test${reason}`)
  return reason
}

/**
 * Headless Chromium as root on a machine without a network: no sandbox, no
 * GPU, and none of the background connections this machine would refuse.
 */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 30_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })

import { Effect } from "effect"
import { spawn } from "node:child_process"

/** The platform's "open this URL" command, or undefined when there is no display to open it on. */
export const openerOf = (
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv
): { readonly file: string; readonly args: (url: string) => Array<string> } | undefined => {
  if (platform === "darwin") return { file: "open", args: (url) => [url] }
  if (platform === "win32") return { file: "cmd", args: (url) => ["/c", "start", "\"\"", url] }
  const display = (env.DISPLAY ?? "") !== "" || (env.WAYLAND_DISPLAY ?? "") !== ""
  return display ? { file: "xdg-open", args: (url) => [url] } : undefined
}

/**
 * Hands `url` to the desktop's browser opener and lets it go: the opener
 * is its own process (the browser outlives the server), so nothing here
 * waits for it, and a missing opener is no failure of the server's.
 */
export const openBrowser = (url: string): Effect.Effect<void> =>
  Effect.sync(() => {
    const opener = openerOf(process.platform, process.env)
    if (opener === undefined) return
    try {
      const child = spawn(opener.file, opener.args(url), { stdio: "ignore", detached: true })
      child.on("error", () => {})
      child.unref()
    } catch {
      // no opener on this system: the URL is printed anyway
    }
  })

// What the client end-to-end tests share: the built CLI and a way to run it.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "../..")
export const bin = path.join(root, "dist/fiberhttp.js")

/** Builds dist/fiberhttp.js unless it is there. */
export const ensureBuilt = (): void => {
  if (!fs.existsSync(bin)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" })
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every 20 ms for up to `ms`; throws, naming `what`, if it never held. */
export const until = async (condition: () => boolean, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

export interface ClientRun {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
  /** Wall time from spawn to exit. */
  readonly ms: number
}

/** Runs `fiberhttp client ...args`; rejects if it has not exited within `timeoutMs` (it is killed). */
export const runClient = (args: ReadonlyArray<string>, timeoutMs = 10_000): Promise<ClientRun> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, [bin, "client", ...args], { stdio: ["ignore", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    let err = ""
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`fiberhttp client ${args.join(" ")} did not exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out), stderr: err, ms: Date.now() - started })
    })
  })

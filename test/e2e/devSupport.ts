// What the development-server e2e tests share: the built CLI's server as a process, curl, certificates.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export const repo = path.resolve(import.meta.dirname, "../..")
export const bin = path.join(repo, "dist/fiberhttp.js")

export const ensureBuilt = (): void => {
  if (!fs.existsSync(bin)) execFileSync("npm", ["run", "build"], { cwd: repo, stdio: "ignore" })
}

export interface DevServer {
  readonly child: ChildProcess
  readonly port: number
  /** The first URL printed, e.g. https://127.0.0.1:40123/ */
  readonly url: string
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
  /** SIGINT, then waits for the exit. */
  readonly stop: () => Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
}

/** Starts `fiberhttp server 0 --root ROOT ...args` and waits for its URL. */
export const startServer = (root: string, args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): Promise<DevServer> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "server", "0", "--root", root, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: env ?? process.env
    })
    let out = ""
    let err = ""
    let started = false
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((done) =>
      child.on("exit", (code, signal) => done({ code, signal, at: Date.now() }))
    )
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`server did not start: ${out} ${err}`))
    }, 15_000)
    void exited.then(({ code }) => {
      if (!started) {
        clearTimeout(timer)
        reject(new Error(`server exited with ${code}: ${out} ${err}`))
      }
    })
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const match = /(https?):\/\/127\.0\.0\.1:(\d+)\//.exec(out)
      if (match !== null && !started) {
        started = true
        clearTimeout(timer)
        resolve({
          child,
          port: Number(match[2]),
          url: match[0],
          stdout: () => out,
          stderr: () => err,
          exited,
          stop: () => {
            child.kill("SIGINT")
            return exited
          }
        })
      }
    })
  })

export interface Exited {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** Runs a program to its end (killed after `timeoutMs`), without a shell. */
export const runProgram = (
  file: string,
  args: ReadonlyArray<string>,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}
): Promise<Exited> =>
  new Promise((resolve) => {
    execFile(
      file,
      args,
      { encoding: "buffer", timeout: options.timeoutMs ?? 15_000, env: options.env ?? process.env, maxBuffer: 1 << 26 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ code, stdout, stderr: stderr.toString() })
      }
    )
  })

/** `fiberhttp server ...args` run to its end (for start-up failures). */
export const runServerToEnd = (args: ReadonlyArray<string>): Promise<Exited> =>
  runProgram(process.execPath, [bin, "server", ...args])

export const runClient = (args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): Promise<Exited> =>
  runProgram(process.execPath, [bin, "client", ...args], env === undefined ? {} : { env })

/** curl with `args`; -s and -S always. */
export const curl = (args: ReadonlyArray<string>): Promise<Exited> => runProgram("curl", ["-sS", ...args])

export { makeCertificate } from "../support/certificate.ts"

/** Splits curl -i output (or -D -) into status, lower-cased headers and body. */
export const parseHead = (text: string): { status: number; headers: Map<string, string> } => {
  const blocks = text.split("\r\n\r\n").filter((b) => b.startsWith("HTTP/"))
  const lines = blocks[blocks.length - 1]!.split("\r\n")
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":")
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
  }
  return { status: Number(lines[0]!.split(" ")[1]), headers }
}

export interface CurlResponse {
  readonly code: number | null
  readonly status: number
  readonly headers: Map<string, string>
  readonly body: Buffer
  readonly stderr: string
  /** What `-w` wrote, if given. */
  readonly written: string
}

let curlFiles = 0

/** One curl request: status, headers (of the last response) and the body bytes as received. */
export const curlFetch = async (url: string, args: ReadonlyArray<string> = []): Promise<CurlResponse> => {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync("/tmp"), "fiberhttp-curl-"))
  const headerFile = path.join(dir, `h${curlFiles}`)
  const bodyFile = path.join(dir, `b${curlFiles++}`)
  try {
    const result = await curl(["-D", headerFile, "-o", bodyFile, ...args, url])
    const head = fs.existsSync(headerFile) ? fs.readFileSync(headerFile, "latin1") : ""
    const parsed = head === "" ? { status: 0, headers: new Map<string, string>() } : parseHead(head)
    return {
      code: result.code,
      ...parsed,
      body: fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile) : Buffer.alloc(0),
      stderr: result.stderr,
      written: result.stdout.toString()
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

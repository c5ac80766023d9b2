// End-to-end: the built CLI's server checked with clients no one here wrote
// (curl, wget): odd file names in listings, unreadable files, what refusals
// and dual-stack peers look like in the log, Allow, ranges of empty files.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bin, ensureBuilt } from "./support.ts"

interface Running {
  readonly child: ChildProcess
  readonly port: number
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

/** Starts `server 0 ...args`, as `command` (a prefix such as setpriv's) when given. */
const start = (args: ReadonlyArray<string>, prefix: ReadonlyArray<string> = []): Promise<Running> =>
  new Promise((resolve, reject) => {
    const argv = [...prefix, process.execPath, bin, "server", "0", ...args]
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: os.tmpdir() })
    let out = ""
    let err = ""
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`server did not start: ${out} ${err}`))
    }, 15_000)
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    child.stdout!.on("data", (d: Buffer) => {
      const ready = !out.includes("Press Ctrl-C")
      out += d.toString()
      const port = /http:\/\/\S+:(\d+)\//.exec(out)?.[1]
      if (ready && out.includes("Press Ctrl-C") && port !== undefined) {
        clearTimeout(timer)
        resolve({ child, port: Number(port), stdout: () => out, stderr: () => err, exited })
      }
    })
    child.on("error", reject)
  })

const stop = async (server: Running) => {
  server.child.kill("SIGINT")
  expect(await server.exited).toBe(0)
}

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs an outside tool; bounded, never throws on a non-zero exit. */
const run = (command: string, args: ReadonlyArray<string>, cwd = os.tmpdir()): Promise<Run> =>
  new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 20_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })

/** `curl -s` with a `-w` format; gives curl's output. */
const curl = async (...args: ReadonlyArray<string>) => {
  const result = await run("curl", ["-s", "--max-time", "10", ...args])
  expect(result.code, result.stderr).toBe(0)
  return result.stdout
}

/** Waits until `condition` holds (log lines are written after the response). */
const until = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 5000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const accessLines = (server: Running) => server.stdout().split("\n").filter((l) => /^\d{4}-\d\d-\d\dT/.test(l))

let scratch = ""

beforeAll(() => {
  ensureBuilt()
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-edges-"))
  fs.chmodSync(scratch, 0o755)
})

afterAll(() => {
  if (scratch !== "") fs.rmSync(scratch, { recursive: true, force: true })
})

describe("--listing and the server agree on every name (wget -r)", () => {
  /** Each file holds its own name, so what wget saved can be matched whatever it named it locally. */
  const names = [
    "back\\slash.txt",
    "100%.txt",
    "%41.txt",
    "#hash.txt",
    "q?mark.txt",
    "sp ace.txt",
    "dq\"uote.txt",
    "sq'uote.txt",
    "amp&semi;.txt",
    "plus+eq=.txt",
    "été.txt",
    "tab\tx.txt",
    "nl\nx.txt",
    "star*(paren).txt",
    "lt<gt>.txt",
    "a:b",
    "~tilde",
    "brace{}[]|^`.txt",
    "sub/in\\sub.txt",
    "dir\\back/f.txt",
    "%2e%2e/x.txt",
    "a..\\..\\x.txt"
  ]

  it("wget -r -np of a listed directory exits 0 and fetches every file; names that are not UTF-8 are left out", async () => {
    const root = path.join(scratch, "odd")
    const dir = path.join(root, "d")
    for (const name of names) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), name)
    }
    // a name no URL can give: the server decodes paths as UTF-8 (Linux file systems take any bytes)
    const latin1 = Buffer.concat([Buffer.from(dir + "/lat"), Buffer.from([0xe9]), Buffer.from(".txt")])
    fs.writeFileSync(latin1, "latin1 name")
    const server = await start(["--listing", "--root", root])
    try {
      const page = await curl(`http://127.0.0.1:${server.port}/d/`)
      expect(page).toContain("back\\slash.txt</a>")
      expect(page).not.toContain("lat")
      const saved = path.join(scratch, "wget")
      fs.mkdirSync(saved)
      const wget = await run(
        "wget",
        ["-r", "-np", "-nv", "-e", "robots=off", `http://127.0.0.1:${server.port}/d/`],
        saved
      )
      expect(wget.code, wget.stderr).toBe(0)
      const files: Array<string> = []
      const walk = (at: string) => {
        for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
          const full = path.join(at, entry.name)
          if (entry.isDirectory()) walk(full)
          else if (entry.name !== "index.html") files.push(fs.readFileSync(full, "utf8"))
        }
      }
      walk(saved)
      expect(files.sort()).toEqual([...names].sort())
      // every request wget made was answered 200
      // a request's line is written once its response has gone out: it may follow wget's exit
      await until(() => accessLines(server).length >= names.length + 5, "an access line per request")
      const statuses = accessLines(server).map((l) => / (\d{3}) \d+ [\d.]+ms$/.exec(l)?.[1])
      expect(statuses.length).toBe(names.length + 5)
      expect(new Set(statuses)).toEqual(new Set(["200"]))
    } finally {
      await stop(server)
    }
  })
})

describe("refusals, peers, Allow and ranges as outside clients see them", () => {
  let server: Running
  let root = ""

  beforeAll(async () => {
    root = path.join(scratch, "site")
    fs.mkdirSync(root)
    fs.writeFileSync(path.join(root, "empty.txt"), "")
    fs.writeFileSync(path.join(root, "hello.txt"), "hello world\n")
    server = await start(["--host", "::", "--root", root])
  }, 30_000)

  afterAll(async () => {
    await stop(server)
  })

  const url = (target: string, host = "127.0.0.1") => `http://${host}:${server.port}${target}`

  it("a Range on an empty file: 200 with the empty body (a non-empty file still gets 206)", async () => {
    expect(await curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-r", "0-0", url("/empty.txt")))
      .toBe("200 0")
    expect(await curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-r", "-5", url("/empty.txt")))
      .toBe("200 0")
    expect(await curl("-w", " %{http_code}", "-r", "0-4", url("/hello.txt"))).toBe("hello 206")
  })

  it("405 lists every method served, OPTIONS included", async () => {
    const head = await curl("-X", "DELETE", "-D", "-", "-o", "/dev/null", url("/hello.txt"))
    expect(head).toMatch(/^HTTP\/1\.1 405 /)
    expect(head).toMatch(/\r\nAllow: GET, HEAD, OPTIONS\r\n/)
    const options = await curl("-X", "OPTIONS", "-D", "-", "-o", "/dev/null", url("/hello.txt"))
    expect(options).toMatch(/\r\nAllow: GET, HEAD, OPTIONS\r\n/)
  })

  it("a 400 whose request line was read logs that line, escaped", async () => {
    // no Host: curl sends the line, the head is refused
    expect(await curl("-H", "Host:", "-o", "/dev/null", "-w", "%{http_code}", url("/hello.txt?a=1"))).toBe("400")
    expect(
      await curl("--request-target", "/a\"b\\c d", "-o", "/dev/null", "-w", "%{http_code}", url("/"))
    ).toBe("400")
    await until(() => accessLines(server).filter((l) => / 400 \d+ /.test(l)).length >= 2, "two log lines")
    const lines = accessLines(server).filter((l) => / 400 \d+ /.test(l))
    expect(lines[0]).toMatch(/ "GET \/hello\.txt\?a=1 HTTP\/1\.1" 400 \d+ /)
    expect(lines[1]).toMatch(/ "GET \/a\\"b\\\\c d HTTP\/1\.1" 400 \d+ /)
  })

  it("--host :: logs an IPv4 client as 127.0.0.1:port and an IPv6 one as [::1]:port", async () => {
    const v4 = await curl("-o", "/dev/null", "-w", "%{http_code} %{local_port}", url("/hello.txt?v4"))
    expect(v4).toMatch(/^200 \d+$/)
    const v6 = await curl("-o", "/dev/null", "-w", "%{http_code} %{local_port}", url("/hello.txt?v6", "[::1]"))
    expect(v6).toMatch(/^200 \d+$/)
    const lineOf = (query: string) => accessLines(server).find((l) => l.includes(`/hello.txt?${query} `))
    await until(() => lineOf("v4") !== undefined && lineOf("v6") !== undefined, "both log lines")
    expect(lineOf("v4")!.split(" ")[1]).toBe(`127.0.0.1:${v4.split(" ")[1]}`)
    expect(lineOf("v6")!.split(" ")[1]).toBe(`[::1]:${v6.split(" ")[1]}`)
    expect(server.stdout()).not.toContain("::ffff:")
  })
})

/**
 * How to run the server as a user that cannot read a file the test makes
 * unreadable: root reads everything, so as root the server runs as nobody
 * (setpriv), which needs the built CLI readable by others; otherwise as
 * this user, with the file's mode 000. Undefined prefix: why it cannot.
 */
const unprivileged = (): { readonly prefix: ReadonlyArray<string> } | { readonly why: string } => {
  if (process.getuid?.() !== 0) return { prefix: [] }
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => fs.existsSync(p))
  if (setpriv === undefined) return { why: "running as root without setpriv (util-linux) to drop to nobody" }
  for (let at = bin; at !== path.dirname(at); at = path.dirname(at)) {
    const mode = fs.statSync(at).mode
    if ((mode & (at === bin ? 0o004 : 0o001)) === 0) return { why: `nobody cannot reach ${bin} (${at})` }
  }
  return { prefix: [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] }
}

describe("a file the server's user cannot read", () => {
  const user = unprivileged()
  const title = "403 to curl, logged to stderr once per file however often it is asked for"
  const test = "why" in user ? it.skip : it
  test("why" in user ? `${title} (skipped: ${user.why})` : title, async () => {
    if ("why" in user) return
    const root = path.join(scratch, "locked")
    fs.mkdirSync(path.join(root, "private"), { recursive: true })
    fs.chmodSync(root, 0o755)
    fs.writeFileSync(path.join(root, "open.txt"), "open\n")
    fs.chmodSync(path.join(root, "open.txt"), 0o644)
    fs.writeFileSync(path.join(root, "secret.txt"), "secret\n")
    fs.writeFileSync(path.join(root, "private", "f.txt"), "f\n")
    // as root the server runs as nobody: owner-only modes lock it out; as a user, mode 000 does
    const locked = user.prefix.length > 0 ? 0o600 : 0o000
    fs.chmodSync(path.join(root, "secret.txt"), locked)
    fs.chmodSync(path.join(root, "private"), user.prefix.length > 0 ? 0o700 : 0o000)
    const server = await start(["--root", root], user.prefix)
    try {
      const status = (target: string) =>
        curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${server.port}${target}`)
      expect(await status("/open.txt")).toBe("200")
      for (const target of ["/secret.txt", "/secret.txt", "/./secret.txt", "/%73ecret.txt", "/private/f.txt"]) {
        expect(await status(target), target).toBe("403")
      }
      expect(await status("/private/f.txt")).toBe("403")
      const denied = () => server.stderr().split("\n").filter((l) => l.includes("permission denied"))
      await until(() => denied().length >= 2, "the stderr lines")
      await new Promise((r) => setTimeout(r, 200))
      expect(denied()).toEqual([
        `error: permission denied, answering 403: /secret.txt (under ${fs.realpathSync(root)})`,
        `error: permission denied, answering 403: /private/f.txt (under ${fs.realpathSync(root)})`
      ])
    } finally {
      await stop(server)
      fs.chmodSync(path.join(root, "private"), 0o700)
    }
  })
})

describe("the request limit with a pipelining client (RFC 9112 section 9.6)", () => {
  /**
   * A raw client (python3) with a small receive buffer: three pipelined
   * requests, the last one at --max-requests; once the server has logged
   * them (written, connection ended), three more, as a pipelining client
   * that has not read yet sends them; then it reads everything.
   */
  const client = `
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
req = ("GET %s HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" % path).encode()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
s.connect(("127.0.0.1", port))
s.sendall(req * 3)
print("sent", flush=True)
sys.stdin.readline()
try:
    s.sendall(req * 3)
except OSError:
    pass
import time
time.sleep(0.3)
s.settimeout(10)
got, ended = b"", "end"
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got += b
except OSError as e:
    ended = type(e).__name__
print(got.count(b"HTTP/1.1 200 OK"), len(got), ended, flush=True)
`

  it("every response up to the limit arrives whole, then FIN: bytes sent after the close do not reset it", async () => {
    const root = path.join(scratch, "limit")
    fs.mkdirSync(root, { recursive: true })
    const body = Buffer.alloc(700_000, "x")
    fs.writeFileSync(path.join(root, "f.bin"), body)
    const server = await start(["--root", root, "--max-requests", "3"])
    try {
      const python = spawn("python3", ["-c", client, String(server.port), "/f.bin"], {
        stdio: ["pipe", "pipe", "pipe"]
      })
      let out = ""
      python.stdout!.on("data", (d: Buffer) => (out += d.toString()))
      const exited = new Promise<number | null>((done) => python.on("exit", (code) => done(code)))
      await until(() => out.includes("sent"), "the first requests")
      await until(() => accessLines(server).length === 3, "three access lines")
      python.stdin!.end("go\n")
      expect(await exited).toBe(0)
      const [responses, bytes, ended] = out.trim().split("\n").at(-1)!.split(" ")
      expect({ responses, ended }).toEqual({ responses: "3", ended: "end" })
      expect(Number(bytes)).toBeGreaterThan(3 * body.length)
    } finally {
      await stop(server)
    }
  })
})

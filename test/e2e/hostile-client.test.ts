// The client against hostile servers: the built CLI (dist/fiberhttp.js) against raw node:net
// servers on 127.0.0.1 that send endless heads, endless bodies, broken chunk framing, short
// bodies, garbage instead of a status line, one byte at a time, resets, 1xx floods and redirect
// traps. Every case must end promptly (by itself or at --max-time) with exactly one error line
// `fiberhttp: URL: cause` and the documented exit code, keep what arrived, and stay within bounded
// memory (the client's peak RSS from /proc, and how far the server got ahead of what came out).
// The cases that `client.test.ts` already covers (a plain truncated body, an empty reply, a reset
// with Content-Length, a silent server) are not repeated here.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { bin, ensureBuilt } from "./support.ts"
import { writeAll } from "./writeAll.mjs"

// ---------------------------------------------------------------------------------------------
// Hostile servers

interface Hostile {
  readonly url: string
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Bytes the server's sockets took for sending (awaiting 'drain', so at most one write ahead). */
  readonly sent: () => number
}

const closers: Array<() => void> = []

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Repeats `data` for as long as the client takes it. */
const endless = async (socket: net.Socket, data: string | Buffer, count: (n: number) => void) => {
  while (await writeAll(socket, data, count)) {
    // the client's backpressure paces this loop
  }
}

/**
 * A raw server: `behave` runs once per connection, after the first bytes of the request arrived.
 * `write` counts what it sends; strings are sent as Latin-1 (byte for byte).
 */
const hostile = (
  behave: (socket: net.Socket, write: (data: string | Buffer) => Promise<boolean>, index: number) => unknown
): Promise<Hostile> =>
  new Promise((resolve) => {
    let connections = 0
    let sent = 0
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      const index = connections++
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      const write = (data: string | Buffer) => writeAll(socket, data, (n) => (sent += n))
      socket.once("data", () => void behave(socket, write, index))
    })
    server.listen(0, "127.0.0.1", () => {
      closers.push(() => {
        for (const socket of sockets) socket.destroy()
        server.close()
      })
      const port = (server.address() as net.AddressInfo).port
      resolve({ url: `http://127.0.0.1:${port}/`, connections: () => connections, sent: () => sent })
    })
  })

/** A server whose every connection gets `reply` (then `then`: hold it open, end it, or reset it). */
const replying = (reply: string | Buffer, then: "hold" | "end" | "reset" = "end") =>
  hostile(async (socket, write) => {
    await write(reply)
    if (then === "end") socket.end()
    else if (then === "reset") setTimeout(() => socket.resetAndDestroy(), 30)
  })

// ---------------------------------------------------------------------------------------------
// The client, measured

interface Run {
  readonly code: number | null
  /** Everything written to stdout, up to `keep` bytes. */
  readonly stdout: Buffer
  readonly stdoutBytes: number
  /** Whether every stdout byte was `uniform` (when asked). */
  readonly uniform: boolean
  readonly stderr: string
  readonly ms: number
  /** The client's peak resident set (VmHWM) in KiB, last read before it exited; 0 where /proc is missing. */
  readonly peakKiB: number
}

const run = (
  args: ReadonlyArray<string>,
  options: {
    readonly keep?: number
    readonly uniform?: number
    readonly limitMs?: number
    /** Close our end of the stdout pipe once this many bytes came (`| head -c N`). */
    readonly closeStdoutAfter?: number
  } = {}
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, [bin, "client", ...args], { stdio: ["ignore", "pipe", "pipe"] })
    const keep = options.keep ?? 1024 * 1024
    const kept: Array<Buffer> = []
    let keptBytes = 0
    let stdoutBytes = 0
    let uniform = true
    let stderr = ""
    let peakKiB = 0
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (options.closeStdoutAfter !== undefined && stdoutBytes >= options.closeStdoutAfter) child.stdout.destroy()
      if (options.uniform !== undefined && uniform) {
        for (let i = 0; i < chunk.length; i++) {
          if (chunk[i] !== options.uniform) {
            uniform = false
            break
          }
        }
      }
      if (keptBytes < keep) {
        kept.push(chunk.subarray(0, keep - keptBytes))
        keptBytes += Math.min(chunk.length, keep - keptBytes)
      }
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const sample = () => {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8")
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status)
        if (hwm !== null) peakKiB = Math.max(peakKiB, Number(hwm[1]))
      } catch {
        // gone, or no /proc
      }
    }
    const sampler = setInterval(sample, 20)
    const limit = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`fiberhttp client ${args.join(" ")} did not exit within ${options.limitMs ?? 8000} ms`))
    }, options.limitMs ?? 8000)
    child.on("close", (code) => {
      clearInterval(sampler)
      clearTimeout(limit)
      resolve({ code, stdout: Buffer.concat(kept), stdoutBytes, uniform, stderr, ms: Date.now() - started, peakKiB })
    })
  })

/**
 * A client that streamed hundreds of MiB must stay near its resting size: a baseline of about
 * 65 MiB, plus garbage the collector has not reclaimed yet. Holding the body would pass this
 * within a fraction of a second at loopback speed.
 */
const MAX_PEAK_KIB = 256 * 1024

const boundedMemory = (result: Run) => {
  if (process.env.HOSTILE_VERBOSE) {
    console.log(`peak ${result.peakKiB} KiB, ${result.ms} ms, stdout ${result.stdoutBytes} B`)
  }
  if (process.platform === "linux") {
    expect(result.peakKiB).toBeGreaterThan(0)
    expect(result.peakKiB).toBeLessThan(MAX_PEAK_KIB)
  }
}

/** Exactly one line on stderr, `fiberhttp: URL: cause`, and the cause as expected. */
const oneErrorLine = (result: Run, url: string, cause: string | RegExp) => {
  expect(result.stderr.split("\n")).toHaveLength(2)
  expect(result.stderr.startsWith(`fiberhttp: ${url}: `)).toBe(true)
  const text = result.stderr.slice(`fiberhttp: ${url}: `.length, -1)
  if (typeof cause === "string") expect(text).toBe(cause)
  else expect(text).toMatch(cause)
}

const malformed = (code: string, message: string) => `malformed response (${code}): ${message}`

const dirs: Array<string> = []
const tempFile = (name: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-hostile-client-"))
  dirs.push(dir)
  return path.join(dir, name)
}

beforeAll(() => {
  ensureBuilt()
}, 60_000)

afterAll(() => {
  for (const close of closers) close()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A chunked response's head, as sent and as printed. */
const OK_CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

// ---------------------------------------------------------------------------------------------

describe("hostile servers: heads that never end", () => {
  it("endless field lines, an endless single line, 1000 fields, a slow endless head: exit 8 (or 28), promptly, bounded", async () => {
    const shortLines = await hostile(async (_socket, write) => {
      await write("HTTP/1.1 200 OK\r\n")
      let i = 0
      while (await write(`X-Field-${i++}: value\r\n`)) {
        // endless
      }
    })
    const longLines = await hostile(async (_socket, write) => {
      await write("HTTP/1.1 200 OK\r\n")
      let i = 0
      while (await write(`X-Long-${i++}: ${"v".repeat(1024)}\r\n`)) {
        // endless
      }
    })
    const oneLine = await hostile(async (socket, write) => {
      await write("HTTP/1.1 200 OK\r\nX-Big: ")
      await endless(socket, "b".repeat(16 * 1024), () => {})
    })
    const endlessStatusLine = await hostile(async (socket, write) => {
      await write("HTTP/1.1 200 ")
      await endless(socket, "r".repeat(16 * 1024), () => {})
    })
    let many = "HTTP/1.1 200 OK\r\n"
    for (let i = 0; i < 1000; i++) many += `X-${i}: ${i}\r\n`
    const manyFields = await replying(`${many}Content-Length: 2\r\n\r\nok`, "hold")
    const slow = await hostile(async (_socket, write) => {
      await write("HTTP/1.1 200 OK\r\n")
      for (let i = 0; await write(`X-Slow-${i}: ${i}\r\n`); i++) await sleep(25)
    })

    const [a, b, c, d, e, f] = await Promise.all([
      run(["--max-time", "10", shortLines.url]),
      run(["--max-time", "10", longLines.url]),
      run(["--max-time", "10", oneLine.url]),
      run(["--max-time", "10", endlessStatusLine.url]),
      run(["--max-time", "10", manyFields.url]),
      run(["--max-time", "1", slow.url])
    ])
    oneErrorLine(a, shortLines.url, malformed("TooManyHeaders", "too many header fields"))
    oneErrorLine(b, longLines.url, malformed("HeaderSectionTooLarge", "header section too large"))
    oneErrorLine(c, oneLine.url, malformed("HeaderSectionTooLarge", "header section too large"))
    oneErrorLine(d, endlessStatusLine.url, malformed("InvalidStatusLine", "malformed status line"))
    oneErrorLine(e, manyFields.url, malformed("TooManyHeaders", "too many header fields"))
    oneErrorLine(f, slow.url, "no complete response within 1 s (--max-time)")
    for (const result of [a, b, c, d, e]) {
      expect(result.code).toBe(8)
      expect(result.stdout.length).toBe(0)
      // well before --max-time: the limits end it, not the clock
      expect(result.ms).toBeLessThan(6000)
      boundedMemory(result)
    }
    expect(f.code).toBe(28)
    expect(f.stdout.length).toBe(0)
    // the server was cut off long before the field count limit
    expect(f.ms).toBeLessThan(4000)
  })
})

describe("hostile servers: bodies that never end", () => {
  it("an endless chunked body to stdout, to -o /dev/null, to a file, and an endless body until close: 28 at --max-time, memory bounded, what arrived kept", async () => {
    const frame = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, 0x61), Buffer.from("\r\n")])
    const chunked = () =>
      hostile(async (_socket, write) => {
        await write(OK_CHUNKED)
        while (await write(frame)) {
          // endless
        }
      })
    const toStdout = await chunked()
    const toNull = await chunked()
    const toFile = await chunked()
    const untilClose = await hostile(async (_socket, write) => {
      await write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
      while (await write(Buffer.alloc(0x10000, 0x62))) {
        // endless
      }
    })
    const file = tempFile("endless.bin")

    const [out, nul, saved, close] = await Promise.all([
      run(["-b", "--max-time", "1.5", toStdout.url], { keep: 0, uniform: 0x61 }),
      run(["-o", "/dev/null", "--max-time", "1.5", toNull.url]),
      run(["-o", file, "--max-time", "1.5", toFile.url]),
      run(["-b", "--max-time", "1.5", untilClose.url], { keep: 0, uniform: 0x62 })
    ])
    for (const [result, server] of [[out, toStdout], [nul, toNull], [saved, toFile], [close, untilClose]] as const) {
      expect(result.code).toBe(28)
      oneErrorLine(result, server.url, "no complete response within 1.5 s (--max-time)")
      expect(result.ms).toBeGreaterThanOrEqual(1500)
      expect(result.ms).toBeLessThan(5000)
      boundedMemory(result)
    }
    // stdout: a great deal arrived, all of it body bytes, and the server was never far ahead
    for (const [result, server] of [[out, toStdout], [close, untilClose]] as const) {
      expect(result.uniform).toBe(true)
      expect(result.stdoutBytes).toBeGreaterThan(4 * 1024 * 1024)
      expect(server.sent() - result.stdoutBytes).toBeLessThan(48 * 1024 * 1024)
    }
    // -o: nothing on stdout, the body in the file, kept after the timeout
    expect(nul.stdout.toString()).toBe("")
    expect(saved.stdout.toString()).toBe("")
    const size = fs.statSync(file).size
    expect(size).toBeGreaterThan(4 * 1024 * 1024)
    expect(toFile.sent() - size).toBeLessThan(48 * 1024 * 1024)
  })

  it("stdout's reader goes away (`| head`): the endless body stops being fetched, 23 at once", async () => {
    const frame = Buffer.concat([Buffer.from("1000\r\n"), Buffer.alloc(0x1000, 0x61), Buffer.from("\r\n")])
    const server = await hostile(async (_socket, write) => {
      await write(OK_CHUNKED)
      while (await write(frame)) {
        // endless
      }
    })
    const result = await run(["-b", "--max-time", "10", server.url], { closeStdoutAfter: 1 })
    expect(result.code).toBe(23)
    oneErrorLine(result, server.url, "could not write stdout: the reader has gone (EPIPE)")
    expect(result.ms).toBeLessThan(6000)
  })

  it("an endless stream of 100 Continue: 28 at --max-time, nothing printed, memory bounded", async () => {
    const flood = await hostile(async (_socket, write) => {
      const burst = "HTTP/1.1 100 Continue\r\n\r\n".repeat(2000)
      while (await write(burst)) {
        // endless
      }
    })
    const result = await run(["--max-time", "1", flood.url])
    expect(result.code).toBe(28)
    oneErrorLine(result, flood.url, "no complete response within 1 s (--max-time)")
    expect(result.stdout.length).toBe(0)
    expect(result.ms).toBeLessThan(6000)
    expect(flood.sent()).toBeGreaterThan(1024 * 1024)
    boundedMemory(result)
  })
})

describe("hostile servers: broken chunk framing", () => {
  it("non-hex, overflowing, negative, prefixed sizes, data without CRLF, an endless extension, endless trailers: exit 56 (curl's) after the good chunk is printed", async () => {
    const good = "5\r\nhello\r\n"
    // name, what follows the good chunk, the parse error, its message, the body printed before it
    const cases: ReadonlyArray<[string, string, string, string, string]> = [
      ["non-hex", `${good}zz\r\nxx\r\n0\r\n\r\n`, "InvalidChunkSize", "invalid chunk size", "hello"],
      [
        "overflow",
        `${good}ffffffffffffffffff\r\nxx\r\n0\r\n\r\n`,
        "ChunkSizeOverflow",
        "chunk size too large",
        "hello"
      ],
      ["2^53 and beyond", `${good}20000000000000\r\nxx\r\n`, "ChunkSizeOverflow", "chunk size too large", "hello"],
      ["negative", `${good}-5\r\nhello\r\n0\r\n\r\n`, "InvalidChunkSize", "invalid chunk size", "hello"],
      ["0x-prefixed", `${good}0x5\r\nhello\r\n0\r\n\r\n`, "InvalidChunkSize", "invalid chunk size", "hello"],
      ["empty size line", `${good}\r\nhello\r\n0\r\n\r\n`, "InvalidChunkSize", "invalid chunk size", "hello"],
      // the chunk's data is whole and printed; the bytes after it are not its CRLF
      [
        "data without its CRLF",
        `${good}5\r\nworldX5\r\n`,
        "InvalidChunkTerminator",
        "chunk data not followed by CRLF",
        "helloworld"
      ],
      ["bare LF after the size", `${good}5\nworld\r\n`, "BareLF", "LF without a preceding CR", "hello"],
      ["an endless extension", "endless-extension", "ChunkExtensionTooLong", "chunk extension too long", "hello"],
      ["endless trailers", "endless-trailers", "TooManyHeaders", "too many header fields", "hello"]
    ]
    const servers = await Promise.all(
      cases.map(([, body]) =>
        body === "endless-extension"
          ? hostile(async (socket, write) => {
            await write(`${OK_CHUNKED}${good}5;name=`)
            await endless(socket, "v".repeat(4096), () => {})
          })
          : body === "endless-trailers"
          ? hostile(async (socket, write) => {
            await write(`${OK_CHUNKED}${good}0\r\n`)
            await endless(socket, "X-Trailer: v\r\n".repeat(64), () => {})
          })
          : replying(OK_CHUNKED + body, "hold")
      )
    )
    const results = await Promise.all(servers.map((server) => run(["--max-time", "10", server.url])))
    results.forEach((result, i) => {
      const [name, , code, message, printed] = cases[i]!
      oneErrorLine(result, servers[i]!.url, malformed(code, message))
      expect({ name, code: result.code }).toEqual({ name, code: 56 })
      // the head and the good chunk came out before the bad one was found
      expect(result.stdout.toString()).toBe(`${OK_CHUNKED}${printed}`)
      expect(result.ms).toBeLessThan(6000)
    })
    boundedMemory(results[results.length - 1]!)
  })
})

describe("hostile servers: short and lying bodies", () => {
  it("Content-Length past the body then a close: 18, head and bytes printed (or saved); 10^15 the same; 10^18 is refused as invalid (8)", async () => {
    const short = await replying("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", "end")
    const huge = await replying("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\ntiny", "end")
    const absurd = await replying("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\ntiny", "end")
    const chunkedShort = await replying(`${OK_CHUNKED}a\r\n12345`, "end")
    const file = tempFile("short.bin")
    const [full, saved, big, tooBig, chunkCut] = await Promise.all([
      run([short.url]),
      run(["-o", file, short.url]),
      run(["-b", huge.url]),
      run([absurd.url]),
      run([chunkedShort.url])
    ])
    expect(full.code).toBe(18)
    expect(full.stdout.toString()).toBe("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
    oneErrorLine(full, short.url, "connection closed before the response ended (9 body bytes received)")
    expect(saved.code).toBe(18)
    expect(fs.readFileSync(file, "utf8")).toBe("only this")
    oneErrorLine(saved, short.url, "connection closed before the response ended (9 body bytes received)")
    expect(big.code).toBe(18)
    expect(big.stdout.toString()).toBe("tiny")
    oneErrorLine(big, huge.url, "connection closed before the response ended (4 body bytes received)")
    expect(tooBig.code).toBe(8)
    expect(tooBig.stdout.length).toBe(0)
    oneErrorLine(tooBig, absurd.url, malformed("InvalidContentLength", "invalid Content-Length"))
    expect(chunkCut.code).toBe(18)
    expect(chunkCut.stdout.toString()).toBe(`${OK_CHUNKED}12345`)
    oneErrorLine(chunkCut, chunkedShort.url, "connection closed before the response ended (5 body bytes received)")
    for (const result of [full, saved, big, tooBig, chunkCut]) boundedMemory(result)
  })

  it("a reset mid-way through a chunked body: 56, the head and the body so far kept (stdout and -o)", async () => {
    const reset = () => replying(`${OK_CHUNKED}7\r\npartial\r\n3\r\nab`, "reset")
    const [toStdout, toFile] = await Promise.all([reset(), reset()])
    const file = tempFile("reset.bin")
    const [out, saved] = await Promise.all([run([toStdout.url]), run(["-o", file, toFile.url])])
    expect(out.code).toBe(56)
    expect(out.stdout.toString()).toBe(`${OK_CHUNKED}partialab`)
    oneErrorLine(out, toStdout.url, /^receive failure: .*connection reset by peer \(ECONNRESET\)$/)
    expect(saved.code).toBe(56)
    expect(fs.readFileSync(file, "utf8")).toBe("partialab")
    oneErrorLine(saved, toFile.url, /^receive failure: .*connection reset by peer \(ECONNRESET\)$/)
  })
})

describe("hostile servers: replies that are not HTTP/1.x", () => {
  it("garbage, binary, HTTP/2 (preface, frames, version), HTTP/0.9, another protocol: exit 1 (curl's) or 8 at once, even with the connection held open", async () => {
    const notHttp = "not an HTTP/1.x response (the reply does not begin with \"HTTP/\")"
    const notHttpLine = `not an HTTP response: ${notHttp}`
    const cases: ReadonlyArray<[string | Buffer, "hold" | "end", string]> = [
      ["garbage here\r\n\r\n", "hold", notHttpLine],
      [Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x0d, 0x0a]), "hold", notHttpLine],
      // a SETTINGS frame with no line break at all: must not wait for one
      [Buffer.from("000006040000000000000300000064", "hex"), "hold", notHttpLine],
      ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "hold", notHttpLine],
      ["<html><body>HTTP/0.9 style</body></html>", "hold", notHttpLine],
      ["<html>closed at once", "end", notHttpLine],
      ["SSH-2.0-OpenSSH_9.2\r\n", "hold", notHttpLine],
      ["HTTP/2 200\r\n\r\n", "hold", malformed("InvalidStatusLine", "malformed status line")],
      ["HTTP/2.0 200 OK\r\n\r\n", "hold", malformed("VersionNotSupported", "HTTP major version not supported")],
      ["HTTP/1.1 2OO OK\r\n\r\n", "hold", malformed("InvalidStatusLine", "malformed status line")],
      ["HTTP/1.1 200 OK\r\nContent-Le", "end", "connection closed in the middle of the response head"]
    ]
    const servers = await Promise.all(cases.map(([reply, then]) => replying(reply, then)))
    const results = await Promise.all(servers.map((server) => run(["--max-time", "10", server.url])))
    results.forEach((result, i) => {
      const [reply, , cause] = cases[i]!
      const name = typeof reply === "string" ? reply : reply.toString("hex")
      oneErrorLine(result, servers[i]!.url, cause)
      expect({ name, code: result.code }).toEqual({
        name,
        code: i === cases.length - 1 ? 18 : cause === notHttpLine ? 1 : 8
      })
      expect(result.stdout.length).toBe(0)
      expect(result.ms).toBeLessThan(6000)
    })
  })
})

describe("hostile servers: an answer to an upload, then no more reading", () => {
  it("a 413 before the body is read, the connection held open: the answer is shown at once (exit 0), the upload stopped", async () => {
    const server = await hostile(async (socket, write) => {
      socket.pause()
      await write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n")
    })
    const payload = tempFile("upload.bin")
    fs.writeFileSync(payload, Buffer.alloc(16 * 1024 * 1024, 0x75))
    const result = await run(["--data-file", payload, "--max-time", "10", server.url])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n")
    expect(result.ms).toBeLessThan(6000)
  })
})

describe("hostile servers: one byte at a time", () => {
  it("a whole chunked response with trailers, dripped byte by byte, comes out exactly; an endless drip ends at --max-time with what arrived", async () => {
    const head = "HTTP/1.1 200 OK\r\nX-Drip: yes\r\nTransfer-Encoding: chunked\r\n\r\n"
    const wire = `${head}4;x=1\r\nslow\r\n6\r\n drip!\r\n0\r\nX-Trailer: end\r\n\r\n`
    const drip = await hostile(async (socket, write) => {
      socket.setNoDelay(true)
      for (const c of wire) {
        if (!(await write(c))) return
        await sleep(2)
      }
    })
    const forever = await hostile(async (socket, write) => {
      socket.setNoDelay(true)
      for (const c of "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n") {
        await write(c)
        await sleep(2)
      }
      while (await write("z")) await sleep(5)
    })
    const [whole, endlessDrip] = await Promise.all([run([drip.url]), run(["-b", "--max-time", "1", forever.url])])
    expect(whole.code).toBe(0)
    expect(whole.stderr).toBe("")
    expect(whole.stdout.toString()).toBe(`${head}slow drip!\r\nX-Trailer: end\r\n`)
    expect(endlessDrip.code).toBe(28)
    oneErrorLine(endlessDrip, forever.url, "no complete response within 1 s (--max-time)")
    expect(endlessDrip.stdout.length).toBeGreaterThan(10)
    expect(endlessDrip.stdout.toString()).toBe("z".repeat(endlessDrip.stdout.length))
    expect(endlessDrip.ms).toBeLessThan(4000)
  })
})

describe("hostile servers: redirect traps (-L)", () => {
  it("a loop with a new connection each hop, a ping-pong between two servers: 47; a redirect to another scheme: 3", async () => {
    const loop = await hostile(async (socket, write) => {
      await write("HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
      socket.end()
    })
    let other = ""
    const ping = await hostile(async (_socket, write) => {
      await write(`HTTP/1.1 307 Temporary Redirect\r\nLocation: ${other}\r\nContent-Length: 5\r\n\r\nmove!`)
    })
    const pong = await hostile(async (_socket, write) => {
      await write(`HTTP/1.1 308 Permanent Redirect\r\nLocation: ${ping.url}\r\nContent-Length: 0\r\n\r\n`)
    })
    other = pong.url
    const schemes = await Promise.all(
      ["ftp://127.0.0.1/file", "file:///etc/passwd", "javascript:alert(1)"].map((location) =>
        replying(`HTTP/1.1 301 Moved Permanently\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`, "hold")
      )
    )
    const [looped, pingPonged, ...redirected] = await Promise.all([
      run(["-L", "--max-redirects", "5", "-b", loop.url]),
      run(["-L", "--max-redirects", "4", "-b", ping.url]),
      ...schemes.map((server) => run(["-L", "-b", "--max-time", "5", server.url]))
    ])
    expect(looped.code).toBe(47)
    oneErrorLine(looped, loop.url, "more than 5 redirects (--max-redirects)")
    expect(loop.connections()).toBe(6)
    expect(pingPonged.code).toBe(47)
    oneErrorLine(pingPonged, ping.url, "more than 4 redirects (--max-redirects)")
    // redirect bodies are not the answer: nothing printed with -b
    expect(pingPonged.stdout.length).toBe(0)
    expect(ping.connections() + pong.connections()).toBe(5)
    expect(redirected.map((r) => r.code)).toEqual([3, 3, 3])
    oneErrorLine(
      redirected[0]!,
      schemes[0]!.url,
      "redirect to a bad URL \"ftp://127.0.0.1/file\": unsupported scheme \"ftp\" (only http and https)"
    )
    oneErrorLine(
      redirected[1]!,
      schemes[1]!.url,
      "redirect to a bad URL \"file:///etc/passwd\": unsupported scheme \"file\" (only http and https)"
    )
    oneErrorLine(
      redirected[2]!,
      schemes[2]!.url,
      "redirect to a bad URL \"javascript:alert(1)\": not a URL (expected http://host[:port]/path)"
    )
  })
})

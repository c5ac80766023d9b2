// Hostile clients against the built server process on loopback: request smuggling and malformed
// requests (RFC 9112 and the well-known desync payloads), and path traversal in every spelling.
// Everything is sent raw over node:net, so no client library normalises it on the way.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  ensureBuilt,
  errorPageOf,
  type Exchange,
  exchange,
  type Fixture,
  get,
  makeFixture,
  parseResponses,
  type RunningServer,
  startServer
} from "./hostileSupport.ts"

let fixture: Fixture
let server: RunningServer

beforeAll(async () => {
  ensureBuilt()
  fixture = makeFixture()
  server = await startServer(fixture.root, ["--quiet", "--header-timeout", "3"])
}, 60_000)

afterAll(async () => {
  if (server !== undefined) await server.stop()
  fixture?.cleanup()
})

const reasons: Record<number, string> = {
  400: "Bad Request",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  505: "HTTP Version Not Supported"
}

/** Runs `work` over `items`, `width` at a time. */
const inBatches = async <A, B>(
  items: ReadonlyArray<A>,
  width: number,
  work: (a: A) => Promise<B>
): Promise<Array<B>> => {
  const out: Array<B> = []
  for (let i = 0; i < items.length; i += width) out.push(...await Promise.all(items.slice(i, i + width).map(work)))
  return out
}

/** `text` cut in three pieces (at a third and two thirds), sent 3 ms apart: the outcome may not depend on the split. */
const split = (text: string): Array<string> => {
  const a = Math.floor(text.length / 3)
  const b = Math.floor((2 * text.length) / 3)
  return [text.slice(0, a), text.slice(a, b), text.slice(b)].filter((p) => p.length > 0)
}

// ---------------------------------------------------------------------------------------------
// The corpus

const POST = "POST /small.txt HTTP/1.1\r\nHost: a\r\n"
const GET = "GET /index.html HTTP/1.1\r\nHost: a\r\n"
/** A whole request for the marker file: if it is ever answered, a body was read as a request. */
const SMUGGLED = "GET /smuggled.txt HTTP/1.1\r\nHost: a\r\n\r\n"
const hex = (n: number) => n.toString(16)
/** A chunked body carrying a whole request inside its one chunk. */
const chunkedSmuggle = `${hex(SMUGGLED.length)}\r\n${SMUGGLED}\r\n0\r\n\r\n`

interface Rejected {
  readonly name: string
  readonly raw: string
  readonly status: number
}

/** Requests that must be refused with `status`, then the connection closed; a smuggled request follows each one. */
const rejected: ReadonlyArray<Rejected> = [
  // Transfer-Encoding spelled so that some parsers see chunked and others do not
  { name: "TE with a space before the colon", raw: `${POST}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE with a tab before the colon", raw: `${POST}Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  {
    name: "TE line with a leading space (obs-fold)",
    raw: `${POST} Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "TE line with a leading tab (obs-fold)",
    raw: `${POST}\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "TE folded onto the next line",
    raw: `${POST}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "TE value folded after another field",
    raw: `${POST}X-A: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "TE first, right after the request line, indented",
    raw: `POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n`,
    status: 400
  },
  {
    name: "TE chunked twice in one field",
    raw: `${POST}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "TE chunked twice in two fields",
    raw: `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  { name: "TE chunked not last", raw: `${POST}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, status: 400 },
  {
    name: "TE chunked not last, over two fields",
    raw: `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  { name: "TE without chunked", raw: `${POST}Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE identity", raw: `${POST}Transfer-Encoding: identity\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE xchunked", raw: `${POST}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE chunked-false", raw: `${POST}Transfer-Encoding: chunked-false\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE chunk", raw: `${POST}Transfer-Encoding: chunk\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE quoted", raw: `${POST}Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n`, status: 400 },
  {
    name: "TE with a parameter on chunked",
    raw: `${POST}Transfer-Encoding: chunked;q=0.5\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  { name: "TE chunked then NBSP", raw: `${POST}Transfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE NBSP then chunked", raw: `${POST}Transfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE empty", raw: `${POST}Transfer-Encoding:\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: "TE a coding before chunked", raw: `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  {
    name: "TE in HTTP/1.0",
    raw: `POST /small.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  // every control byte but HTAB, before and after "chunked"
  ...Array.from({ length: 33 }, (_, i) => (i === 32 ? 0x7f : i)).filter((b) => b !== 0x09).flatMap(
    (b): Array<Rejected> => {
      const c = String.fromCharCode(b)
      const label = `0x${b.toString(16).padStart(2, "0")}`
      return [
        {
          name: `TE with ${label} before chunked`,
          raw: `${POST}Transfer-Encoding: ${c}chunked\r\n\r\n0\r\n\r\n`,
          status: 400
        },
        {
          name: `TE with ${label} after chunked`,
          raw: `${POST}Transfer-Encoding: chunked${c}\r\n\r\n0\r\n\r\n`,
          status: 400
        },
        {
          name: `TE with ${label} in the name`,
          raw: `${POST}Transfer-${c}Encoding: chunked\r\n\r\n0\r\n\r\n`,
          status: 400
        }
      ]
    }
  ),
  // Content-Length with Transfer-Encoding: CL.TE and TE.CL
  {
    name: "CL.TE: Content-Length first, a byte left for the next request",
    raw: `${POST}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`,
    status: 400
  },
  {
    name: "TE.CL: the chunk carries a request",
    raw: `${POST}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${chunkedSmuggle}`,
    status: 400
  },
  {
    name: "TE then CL 0",
    raw: `${POST}Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n${chunkedSmuggle}`,
    status: 400
  },
  {
    name: "obfuscated TE with CL",
    raw:
      `${POST}Content-Length: 4\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: cow\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n`,
    status: 400
  },
  // Content-Length lists, signs, duplicates
  ...[
    "-1",
    "+5",
    "-0",
    "0x5",
    "5.0",
    "1e1",
    "5 5",
    "5;",
    "",
    " ",
    "5,",
    ",5",
    "5,,5",
    "\xb5",
    "٥",
    "99999999999999999999",
    "9007199254740993"
  ].map(
    (v): Rejected => ({
      name: `Content-Length ${JSON.stringify(v)}`,
      raw: `${POST}Content-Length: ${v}\r\n\r\nhello`,
      status: 400
    })
  ),
  { name: "Content-Length list that differs", raw: `${POST}Content-Length: 5, 6\r\n\r\nhello!`, status: 400 },
  {
    name: "two Content-Length fields that differ",
    raw: `${POST}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    status: 400
  },
  { name: "Content-Length with NUL", raw: `${POST}Content-Length: 5\x00\r\n\r\nhello`, status: 400 },
  { name: "Content-Length with a vertical tab", raw: `${POST}Content-Length:\x0b5\r\n\r\nhello`, status: 400 },
  { name: "Content-Length, space before colon", raw: `${POST}Content-Length : 5\r\n\r\nhello`, status: 400 },
  { name: "Content-Length over 8 MiB", raw: `${POST}Content-Length: 9000000\r\n\r\nhello`, status: 413 },
  // line endings
  { name: "bare LF line endings", raw: "GET /small.txt HTTP/1.1\nHost: a\n\n", status: 400 },
  { name: "bare CR line endings", raw: "GET /small.txt HTTP/1.1\rHost: a\r\r", status: 400 },
  { name: "bare LF after a field", raw: "GET /small.txt HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", status: 400 },
  { name: "bare LF ending the head", raw: "GET /small.txt HTTP/1.1\r\nHost: a\r\n\n", status: 400 },
  {
    name: "bare CR inside a field line",
    raw: "GET /small.txt HTTP/1.1\r\nHost: a\r\nX: 1\rTransfer-Encoding: chunked\r\n\r\n",
    status: 400
  },
  { name: "bare LF as an empty leading line", raw: "\nGET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "LF CR line endings", raw: "GET /small.txt HTTP/1.1\n\rHost: a\n\r\n\r", status: 400 },
  // NUL and CR in values and names
  { name: "NUL in a value", raw: `${GET}X-A: a\x00b\r\n\r\n`, status: 400 },
  { name: "NUL in a name", raw: `${GET}X\x00A: b\r\n\r\n`, status: 400 },
  { name: "CR in a value", raw: `${GET}X-A: a\rb\r\n\r\n`, status: 400 },
  { name: "DEL in a value", raw: `${GET}X-A: a\x7fb\r\n\r\n`, status: 400 },
  { name: "escape sequence in a value", raw: `${GET}X-A: \x1b[31mred\r\n\r\n`, status: 400 },
  { name: "NUL in the target", raw: "GET /small.txt\x00.html HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "CR in the target", raw: "GET /small\r.txt HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "field line without a colon", raw: `${GET}Transfer-Encoding chunked\r\n\r\n`, status: 400 },
  { name: "empty field name", raw: `${GET}: chunked\r\n\r\n`, status: 400 },
  // request lines
  { name: "HTTP/0.9 simple request", raw: "GET /\r\n", status: 400 },
  { name: "HTTP/0.9 simple request for a file", raw: "GET /small.txt\r\n\r\n", status: 400 },
  { name: "HTTP/0.9 version", raw: "GET / HTTP/0.9\r\n\r\n", status: 505 },
  { name: "HTTP/2 connection preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505 },
  { name: "HTTP/2.0 request", raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505 },
  { name: "HTTP/3.0 request", raw: "GET / HTTP/3.0\r\nHost: a\r\n\r\n", status: 505 },
  { name: "HTTP/2 without a minor", raw: "GET / HTTP/2\r\nHost: a\r\n\r\n", status: 400 },
  { name: "lower-case version", raw: "GET / http/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "HTTPS/1.1", raw: "GET / HTTPS/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "version 1.1.1", raw: "GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "tab as the separator", raw: "GET\t/small.txt\tHTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "two spaces after the method", raw: "GET  /small.txt HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "space after the version", raw: "GET /small.txt HTTP/1.1 \r\nHost: a\r\n\r\n", status: 400 },
  { name: "space in the target", raw: "GET /small.txt HTTP/1.1 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "leading space", raw: " GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "fragment in the target", raw: "GET /small.txt#x HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "non-ASCII in the target", raw: "GET /sm\xe9ll.txt HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "relative target", raw: "GET small.txt HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  { name: "method with a separator", raw: "G(T /small.txt HTTP/1.1\r\nHost: a\r\n\r\n", status: 400 },
  // Host
  { name: "no Host in HTTP/1.1", raw: "GET /small.txt HTTP/1.1\r\n\r\n", status: 400 },
  { name: "two Host fields", raw: "GET /small.txt HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", status: 400 },
  { name: "Host with a space", raw: "GET /small.txt HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400 },
  { name: "Host with a path", raw: "GET /small.txt HTTP/1.1\r\nHost: a/../b\r\n\r\n", status: 400 },
  { name: "Host with userinfo", raw: "GET /small.txt HTTP/1.1\r\nHost: user@a\r\n\r\n", status: 400 },
  // sizes
  { name: "request line over 8 KiB", raw: `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`, status: 414 },
  { name: "endless request line (64 KiB, no LF)", raw: `GET /${"a".repeat(64 * 1024)}`, status: 414 },
  { name: "one field over 32 KiB", raw: `${GET}X-A: ${"a".repeat(33 * 1024)}\r\n\r\n`, status: 431 },
  {
    name: "header section over 32 KiB in small fields",
    raw: `${GET}${"X-Abcdefghij: 0123456789012345678901234567890123456789\r\n".repeat(90)}${
      "X-B: ".padEnd(30000, "b")
    }\r\n\r\n`,
    status: 431
  },
  { name: "101 fields", raw: `${GET}${"X-A: 1\r\n".repeat(101)}\r\n`, status: 431 },
  { name: "endless field line (64 KiB, no LF)", raw: `${GET}X-A: ${"a".repeat(64 * 1024)}`, status: 431 },
  // chunk sizes
  ...["zz", "-1", "+5", "0x5", " 5", "5 ", "\t5", "5\t", "", "ffffffffffffffffff", "20000000000000", "5_0", "5 ;x", "g"]
    .map(
      (size): Rejected => ({
        name: `chunk size ${JSON.stringify(size)}`,
        raw: `${GET}Transfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`,
        status: 400
      })
    ),
  {
    name: "chunk data longer than its size",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "chunk data shorter than its size, a request after it",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "chunk size ended by a bare LF",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "chunk data ended by a bare LF",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "chunk extension with a NUL",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n5;a=\x00\r\nhello\r\n0\r\n\r\n`,
    status: 400
  },
  {
    name: "chunk extension over 4 KiB",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n5;${"a".repeat(5000)}\r\nhello\r\n0\r\n\r\n`,
    status: 400
  },
  { name: "chunk over 8 MiB", raw: `${GET}Transfer-Encoding: chunked\r\n\r\n800001\r\nhello`, status: 413 },
  {
    name: "obs-fold in a trailer",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n folded\r\n\r\n`,
    status: 400
  },
  {
    name: "trailer without a colon",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n0\r\nGET /smuggled.txt HTTP/1.1\r\n\r\n`,
    status: 400
  }
]

interface Accepted {
  readonly name: string
  readonly raw: string
  /** The responses, in order; then the connection stays open. */
  readonly statuses: ReadonlyArray<number>
}

/**
 * Valid (if unusual) framings: each request's body carries a whole request
 * for the marker file, then a pipelined GET /small.txt follows. The server
 * must answer exactly `statuses` (the last one is /small.txt), and never the
 * request inside a body.
 */
const accepted: ReadonlyArray<Accepted> = [
  ...[
    "Transfer-Encoding: chunked",
    "Transfer-Encoding:chunked",
    "Transfer-Encoding: \tchunked\t ",
    "transfer-encoding: CHUNKED",
    "TRANSFER-ENCODING: Chunked",
    "Transfer-Encoding: , chunked",
    "Transfer-Encoding: chunked,",
    "Transfer-Encoding: chunked\r\nX-Transfer-Encoding: gzip"
  ].map((te): Accepted => ({
    name: JSON.stringify(te),
    raw: `${GET}${te}\r\n\r\n${chunkedSmuggle}`,
    statuses: [200, 200]
  })),
  {
    name: "chunk size with leading zeros, upper-case hex, extensions and a trailer",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n000${
      hex(SMUGGLED.length).toUpperCase()
    };a=1;b="x y"\r\n${SMUGGLED}\r\n0;end\r\nX-T: 1\r\n\r\n`,
    statuses: [200, 200]
  },
  {
    name: "chunks split mid-request",
    raw: `${GET}Transfer-Encoding: chunked\r\n\r\n5\r\n${SMUGGLED.slice(0, 5)}\r\n${hex(SMUGGLED.length - 5)}\r\n${
      SMUGGLED.slice(5)
    }\r\n0\r\n\r\n`,
    statuses: [200, 200]
  },
  ...[
    "Content-Length: N",
    "Content-Length:N",
    "Content-Length: 00N",
    "Content-Length: N, N",
    "Content-Length: N\r\ncontent-length: N"
  ]
    .map((cl): Accepted => ({
      name: JSON.stringify(cl),
      raw: `${GET}${cl.replaceAll("N", String(SMUGGLED.length))}\r\n\r\n${SMUGGLED}`,
      statuses: [200, 200]
    })),
  {
    name: "POST with a body that is a request: 405, the body discarded",
    raw: `${POST}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    statuses: [405, 200]
  },
  {
    // not Transfer-Encoding at all: no body, so what follows is the next request (malformed: "0")
    name: "Transfer_Encoding (underscore) is another field",
    raw: `${POST}Transfer_Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    statuses: [405, 400]
  },
  {
    name: "CRLFs before the request line",
    raw: `\r\n\r\n${GET}\r\n`,
    statuses: [200, 200]
  },
  { name: "HTTP/1.2 is answered as 1.1", raw: "GET /index.html HTTP/1.2\r\nHost: a\r\n\r\n", statuses: [200, 200] },
  { name: "an unknown method", raw: "BREW /index.html HTTP/1.1\r\nHost: a\r\n\r\n", statuses: [501, 200] },
  {
    name: "lower-case method is another method",
    raw: "get /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
    statuses: [501, 200]
  },
  { name: "absolute-form target", raw: "GET http://a/index.html HTTP/1.1\r\nHost: a\r\n\r\n", statuses: [200, 200] },
  // well framed, but names no file: refused by the file layer, the connection kept
  { name: "%00 in the target", raw: "GET /small.txt%00.html HTTP/1.1\r\nHost: a\r\n\r\n", statuses: [400, 200] },
  {
    name: "overlong UTF-8 in the target",
    raw: "GET /%c0%ae%c0%ae/small.txt HTTP/1.1\r\nHost: a\r\n\r\n",
    statuses: [400, 200]
  },
  {
    name: "a body on a GET",
    raw: `${GET}Content-Length: 5\r\n\r\nhello`,
    statuses: [200, 200]
  }
]

const followUp = get("/small.txt")

describe("hostile requests against the built server", () => {
  /** Checks one refused exchange; returns a description of what is wrong, if anything. */
  const checkRejected = (c: Rejected, got: Exchange): string | undefined => {
    const { responses, rest } = parseResponses(got.data)
    const text = got.data.toString("latin1")
    if (text.includes(fixture.smuggled)) return "served the smuggled request"
    if (responses.length !== 1) return `${responses.length} responses: ${JSON.stringify(text.slice(0, 300))}`
    const r = responses[0]!
    if (rest.length > 0) return `bytes after the response: ${JSON.stringify(rest.toString("latin1").slice(0, 100))}`
    if (r.status !== c.status) return `status ${r.status}, wanted ${c.status}`
    if (r.headers.get("connection") !== "close") return "no Connection: close"
    if (r.body.toString() !== errorPageOf(c.status, reasons[c.status]!)) {
      return `body: ${r.body.toString().slice(0, 200)}`
    }
    if (!got.closed) return "not closed"
    return undefined
  }

  it(
    `refuses ${rejected.length} smuggling and malformed requests with the right status and a close, whole or split`,
    async () => {
      const problems: Array<string> = []
      const statuses = new Map<number, number>()
      for (const mode of ["whole", "split"] as const) {
        const results = await inBatches(rejected, 16, async (c) => {
          const input = c.raw + followUp
          return [
            c,
            await exchange(server.port, mode === "whole" ? input : split(input), { gapMs: 3, timeoutMs: 4000 })
          ] as const
        })
        for (const [c, got] of results) {
          const problem = checkRejected(c, got)
          if (problem !== undefined) problems.push(`${mode} ${c.name}: ${problem}`)
          if (mode === "whole") statuses.set(c.status, (statuses.get(c.status) ?? 0) + 1)
        }
      }
      expect(problems).toEqual([])
      // the corpus reaches every refusal status
      expect([...statuses.keys()].sort()).toEqual([400, 413, 414, 431, 501, 505])
      expect(server.stderr()).toBe("")
    },
    60_000
  )

  it(
    `frames ${accepted.length} unusual but valid requests exactly: a request inside a body is never answered`,
    async () => {
      const problems: Array<string> = []
      const results = await inBatches(accepted, 16, async (c) =>
        [
          c,
          await exchange(server.port, c.raw + followUp, {
            timeoutMs: 3000,
            until: (data) => parseResponses(data).responses.length >= c.statuses.length
          })
        ] as const)
      for (const [c, got] of results) {
        const { responses, rest } = parseResponses(got.data)
        const text = got.data.toString("latin1")
        const statuses = responses.map((r) => r.status)
        if (text.includes(fixture.smuggled)) problems.push(`${c.name}: served the smuggled request`)
        else if (JSON.stringify(statuses) !== JSON.stringify(c.statuses)) {
          problems.push(
            `${c.name}: ${JSON.stringify(statuses)}`
          )
        } else if (rest.length > 0) problems.push(`${c.name}: bytes after the responses`)
        // the last answer is /small.txt, and then the connection is kept (unless the last was an error)
        else if (c.statuses.at(-1) === 200 && responses.at(-1)!.body.toString() !== fixture.small) {
          problems.push(
            `${c.name}: wrong last body`
          )
        } else if (c.statuses.at(-1) === 200 && got.closed) problems.push(`${c.name}: closed`)
      }
      expect(problems).toEqual([])
    },
    30_000
  )

  it(
    "a body too big to discard: answered, then closed; a request inside it or after it is never answered",
    async () => {
      const withTail = (size: number) => "a".repeat(size - SMUGGLED.length) + SMUGGLED
      const chunk = "a".repeat(0x10000)
      const cases = [
        ["Content-Length 2 MiB", `${GET}Content-Length: ${2 * 1024 * 1024}\r\n\r\n${withTail(2 * 1024 * 1024)}`],
        ["Content-Length 7 MiB", `${GET}Content-Length: ${7 * 1024 * 1024}\r\n\r\n${withTail(7 * 1024 * 1024)}`],
        [
          "chunked 1.3 MiB",
          `${GET}Transfer-Encoding: chunked\r\n\r\n${`10000\r\n${chunk}\r\n`.repeat(20)}${chunkedSmuggle}`
        ]
      ] as const
      for (const [name, raw] of cases) {
        const got = await exchange(server.port, raw + SMUGGLED, { timeoutMs: 5000 })
        const { responses } = parseResponses(got.data)
        expect(responses.map((r) => r.status), name).toEqual([200])
        expect(responses[0]!.headers.get("connection"), name).toBe("close")
        expect(got.data.toString("latin1"), name).not.toContain(fixture.smuggled)
        expect(got.closed, name).toBe(true)
      }
    },
    30_000
  )

  it("after a response that ends the connection, the requests pipelined behind it are never answered", async () => {
    const cases = [
      ["Connection: close", [get("/index.html", "Connection: close\r\n")]],
      ["Connection: keep-alive, close", [get("/index.html", "Connection: keep-alive, close\r\n")]],
      ["HTTP/1.0 without keep-alive", ["GET /index.html HTTP/1.0\r\n\r\n"]],
      // answered before the body comes (the client waits for a 100 that never comes), so the body is never read
      ["Expect: 100-continue, the body later", [
        `${POST}Expect: 100-continue\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n`,
        SMUGGLED
      ]]
    ] as const
    for (const [name, pieces] of cases) {
      const got = await exchange(server.port, [...pieces.slice(0, -1), pieces.at(-1)! + SMUGGLED + SMUGGLED], {
        timeoutMs: 3000,
        gapMs: 100
      })
      const { responses, rest } = parseResponses(got.data)
      expect(responses, name).toHaveLength(1)
      expect(rest.length, name).toBe(0)
      expect(responses[0]!.headers.get("connection"), name).toBe("close")
      expect(got.data.toString("latin1"), name).not.toContain(fixture.smuggled)
      expect(got.closed, name).toBe(true)
    }
  })

  it(
    "a TLS ClientHello, random binary and an HTTP/2 preface with frames get an answer and a close, not a hang",
    async () => {
      // a ClientHello record header and handshake header, then bytes without a line feed
      const hello = Buffer.concat([
        Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
        Buffer.alloc(500, 0x42)
      ])
      const h2 = Buffer.concat([
        Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"),
        Buffer.from([0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00])
      ])
      const binary = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 73 + 11) & 0xff))
      for (const [name, input, status] of [["TLS", hello, 400], ["h2", h2, 505], ["binary", binary, 400]] as const) {
        const got = await exchange(server.port, input, { timeoutMs: 2500 })
        const { responses } = parseResponses(got.data)
        expect(responses.map((r) => r.status), name).toEqual([status])
        expect(got.closed, name).toBe(true)
        // well before the 3 s header timeout: the garbage is refused as soon as it is seen
        expect(got.ms, name).toBeLessThan(2000)
      }
    },
    30_000
  )

  it("the server still serves normally afterwards and logged no error", async () => {
    const got = await exchange(server.port, get("/small.txt", "Connection: close\r\n"))
    const { responses } = parseResponses(got.data)
    expect(responses.map((r) => r.status)).toEqual([200])
    expect(responses[0]!.body.toString()).toBe(fixture.small)
    expect(server.child.exitCode).toBe(null)
    expect(server.stderr()).toBe("")
  })
})

// ---------------------------------------------------------------------------------------------
// Path traversal

/** Every spelling of ".." we try. */
const dots = [
  "..",
  "%2e%2e",
  "%2E%2E",
  ".%2e",
  "%2e.",
  "%2E.",
  "%252e%252e",
  "%25%32%65%25%32%65",
  "%c0%ae%c0%ae",
  "%C0%AE.",
  "%e0%80%ae%e0%80%ae",
  "%c0%2e%c0%2e",
  "%u002e%u002e",
  "..%00",
  "...",
  ". .",
  "%2e%2e%00"
]

/** Every spelling of the separator we try (the first "/" of the target is always raw). */
const separators = [
  "/",
  "%2f",
  "%2F",
  "%5c",
  "%5C",
  "\\",
  "%252f",
  "%255c",
  "%c0%af",
  "%c1%9c",
  "%e0%80%af",
  "//",
  "/./",
  "%2f%2f",
  "/%2e/"
]

const depths = [1, 2, 3, 4, 5, 6, 7, 8]

describe("path traversal against the built server", () => {
  /** The targets: every dot, separator and depth, then down to the secret (or /etc/passwd). */
  const targets = (): Array<string> => {
    // from `depth` levels above the root, the names leading back down to the secret
    const above = (depth: number): Array<string> => {
      const parts = fixture.parent.split("/").filter((p) => p !== "")
      return depth <= 1 ? [] : parts.slice(-(depth - 1))
    }
    const out: Array<string> = []
    for (const dot of dots) {
      for (const sep of separators) {
        for (const depth of depths) {
          const climb = Array.from({ length: depth }, () => dot).join(sep)
          const down = [...above(depth), "secret.txt"].join(sep)
          out.push(`/${climb}${sep}${down}`)
          out.push(`/sub/${climb}${sep}${down}`)
          if (depth === 8) out.push(`/${climb}${sep}etc${sep}passwd`)
        }
      }
    }
    // the symlinks leading out, and ways round them
    out.push(
      "/link-out",
      "/dir-out/secret.txt",
      "/dir-out%2fsecret.txt",
      "/sub/../dir-out/secret.txt",
      "/./dir-out/./secret.txt",
      "/%64ir-out/secret.txt",
      "/link%2dout",
      "/LINK-OUT",
      "/link-out/",
      "/link-out%00",
      "/dir-out/",
      "http://a/link-out",
      "http://a/../secret.txt",
      "http://a/%2e%2e/secret.txt",
      "http://a/..%2fsecret.txt",
      "http://a/..",
      "http://a..%2f/secret.txt",
      "//..//secret.txt",
      "/../secret.txt",
      "/secret.txt/..%2f..%2fsecret.txt"
    )
    return out
  }

  it("no spelling of .., of the separator, at depths 1 to 8, nor a symlink, ever serves the secret", async () => {
    const all = targets()
    expect(all.length).toBeGreaterThan(4000)
    const markers = [fixture.secret.trim(), "root:x:0:0"]
    const leaks: Array<string> = []
    const statuses = new Map<number, number>()
    // keep-alive connections (a 400 closes one: the next takes over), 8 at once
    const queue = [...all]
    const worker = async () => {
      while (queue.length > 0) {
        const batch = queue.splice(0, 40)
        const got = await exchange(
          server.port,
          batch.map((t, i) =>
            `GET ${t} HTTP/1.1\r\nHost: a\r\n${i === batch.length - 1 ? "Connection: close\r\n" : ""}\r\n`
          ),
          { timeoutMs: 5000 }
        )
        const { responses } = parseResponses(got.data)
        const text = got.data.toString("latin1")
        for (const marker of markers) if (text.includes(marker)) leaks.push(`${batch.join(" ")}: ${marker}`)
        for (const r of responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
        // a 400 closes the connection: what was pipelined behind it goes round again
        if (responses.length === 0) leaks.push(`${batch[0]}: no answer`)
        queue.push(...batch.slice(Math.max(1, responses.length)))
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    expect(leaks).toEqual([])
    // only refusals: 400 (undecodable), 404 (outside the root, encoded separator, missing)
    expect([...statuses.keys()].filter((s) => s !== 400 && s !== 404)).toEqual([])
    const answered = [...statuses.values()].reduce((a, b) => a + b, 0)
    expect(answered).toBe(all.length)
    // the secret is there and readable by the server's user: only the server's rules kept it in
    expect(fs.readFileSync(path.join(fixture.parent, "secret.txt"), "utf8")).toBe(fixture.secret)
  }, 60_000)

  it("a directory redirect never leads off the site: the Location is one path on this server, whatever the slashes", async () => {
    const targets = [
      "//sub",
      "///sub?x",
      "//evil.example/../sub",
      "//evil.example/%2e%2e/sub",
      "http://a//sub",
      "http://a//evil.example/%2e%2e/sub",
      "/./sub",
      "/%2e/sub",
      "//sub/..//sub"
    ]
    const got = await exchange(
      server.port,
      targets.map((t, i) =>
        `GET ${t} HTTP/1.1\r\nHost: a\r\n${i === targets.length - 1 ? "Connection: close\r\n" : ""}\r\n`
      )
    )
    const { responses } = parseResponses(got.data)
    expect(responses.map((r) => r.status)).toEqual(targets.map(() => 301))
    for (const r of responses) expect(r.headers.get("location")).toMatch(/^\/sub\/(\?x)?$/)
  })

  it("paths that climb and come back inside the root are served as usual, even through the symlink leading out", async () => {
    const got = await exchange(server.port, [
      get("/sub/../small.txt"),
      get("/sub/%2e%2e/small.txt"),
      get("/./sub/page.html"),
      // out through the symlink to the parent and back into the root: the real path is inside
      get("/dir-out/root/small.txt", "Connection: close\r\n")
    ])
    const { responses } = parseResponses(got.data)
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200])
    expect(responses[0]!.body.toString()).toBe(fixture.small)
    expect(responses[3]!.body.toString()).toBe(fixture.small)
  })
})

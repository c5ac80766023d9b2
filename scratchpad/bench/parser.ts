/**
 * Request parser throughput against Node's built-in llhttp, in one process.
 *
 *   npm run bench:parser        (node --import tsx scratchpad/bench/parser.ts)
 *
 * Two workloads: one ~400-byte browser request head per buffer, and 16 such
 * requests pipelined in one buffer. Both parsers produce the method, target,
 * version and the header list as strings (llhttp through its JS binding, the
 * way node:http drives it). Each round runs each parser for a fixed time,
 * alternating; the median round of each is reported.
 */
import { RequestParser } from "../../src/http/RequestParser.ts"

const head = "GET /assets/app.js?v=3 HTTP/1.1\r\n" +
  "Host: localhost:8080\r\n" +
  "Connection: keep-alive\r\n" +
  "sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
  "sec-ch-ua-mobile: ?0\r\n" +
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
  "sec-ch-ua-platform: \"Linux\"\r\n" +
  "Accept: */*\r\n" +
  "Sec-Fetch-Site: same-origin\r\n" +
  "Sec-Fetch-Mode: no-cors\r\n" +
  "Sec-Fetch-Dest: script\r\n" +
  "Referer: http://localhost:8080/\r\n" +
  "Accept-Encoding: gzip, deflate, br\r\n" +
  "\r\n"

const PIPELINED = 16
const single = Buffer.from(head, "latin1")
const batch = Buffer.from(head.repeat(PIPELINED), "latin1")

// Sink that keeps results observable, so no work is optimized away.
let sink = 0

/** Our parser: one instance per connection, fed buffer after buffer. */
const ours = (): (input: Uint8Array) => number => {
  const parser = new RequestParser()
  return (input) => {
    let requests = 0
    let offset = 0
    while (offset < input.length) {
      const result = parser.execute(offset === 0 ? input : input.subarray(offset))
      if (result.error !== undefined) throw result.error
      for (const event of result.events) {
        if (event._tag === "Head") sink += event.head.headers.size + event.head.target.length
        else if (event._tag === "End") requests++
      }
      offset += result.consumed
    }
    return requests
  }
}

interface LlhttpParser {
  initialize(type: number, resource: object): void
  execute(input: Uint8Array): number | Error
  [callback: number]: (...args: Array<never>) => void
}

/**
 * llhttp through Node's binding, callbacks as node:http sets them. The
 * binding is internal and deprecated (Node prints DEP0111), hence the
 * silenced warning: it is the only way to drive llhttp without sockets.
 */
const llhttp = (): (input: Uint8Array) => number => {
  process.noDeprecation = true
  const binding = (process as unknown as { binding(name: string): unknown }).binding("http_parser") as {
    HTTPParser: (new() => LlhttpParser) & Record<string, number>
  }
  const { HTTPParser } = binding
  const parser = new HTTPParser()
  parser.initialize(HTTPParser.REQUEST!, {})
  let requests = 0
  parser[HTTPParser.kOnHeaders!] = () => {}
  parser[HTTPParser.kOnHeadersComplete!] = ((
    _major: number,
    _minor: number,
    headers: Array<string>,
    _method: number,
    url: string
  ) => {
    sink += headers.length / 2 + url.length
  }) as never
  parser[HTTPParser.kOnBody!] = () => {}
  parser[HTTPParser.kOnMessageComplete!] = () => {
    requests++
  }
  parser[HTTPParser.kOnExecute!] = () => {}
  return (input) => {
    requests = 0
    const result = parser.execute(input)
    if (typeof result !== "number") throw result
    return requests
  }
}

/** Requests per second parsing `input` repeatedly for about `ms`. */
const measure = (parse: (input: Uint8Array) => number, input: Uint8Array, ms: number): number => {
  let requests = 0
  const start = process.hrtime.bigint()
  const budget = BigInt(ms) * 1_000_000n
  let elapsed = 0n
  while (elapsed < budget) {
    for (let i = 0; i < 256; i++) requests += parse(input)
    elapsed = process.hrtime.bigint() - start
  }
  return (requests * 1e9) / Number(elapsed)
}

const median = (xs: Array<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const format = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(12)

const run = (name: string, input: Uint8Array, expected: number): void => {
  const mine = ours()
  const theirs = llhttp()
  if (mine(input) !== expected || theirs(input) !== expected) throw new Error(`${name}: wrong request count`)
  measure(mine, input, 500)
  measure(theirs, input, 500)
  const a: Array<number> = []
  const b: Array<number> = []
  // Many short alternating rounds: on a shared machine, load changes during
  // the run hit both parsers alike and the median shrugs off the outliers.
  for (let round = 0; round < 15; round++) {
    a.push(measure(mine, input, 150))
    b.push(measure(theirs, input, 150))
  }
  const x = median(a)
  const y = median(b)
  console.log(`${name} (${input.length} bytes per buffer)`)
  console.log(`  fiberhttp RequestParser ${format(x)} req/s`)
  console.log(`  node llhttp             ${format(y)} req/s`)
  console.log(`  ratio                   ${(x / y).toFixed(2)}x`)
}

console.log(
  `node ${process.version}, request head ${single.length} bytes, ${head.split("\r\n").length - 3} header fields`
)
run("single request head", single, 1)
run(`${PIPELINED} pipelined requests`, batch, PIPELINED)
console.log(`(checksum ${sink})`)
console.log("reproduce: npm run bench:parser   (node --import tsx scratchpad/bench/parser.ts)")

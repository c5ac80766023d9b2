// End-to-end: `fiberhttp server --tls-cert --tls-key`, checked with curl --cacert and the project's client.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import {
  curl,
  curlFetch,
  type DevServer,
  ensureBuilt,
  makeCertificate,
  runClient,
  runServerToEnd,
  startServer
} from "./devSupport.ts"

let dir = ""
let root = ""
let cert = ""
let key = ""
const page = "<!DOCTYPE html><title>tls</title><h1>secure</h1>\n"
const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0)

beforeAll(() => {
  ensureBuilt()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-e2e-tls-"))
  root = path.join(dir, "www")
  fs.mkdirSync(root)
  fs.writeFileSync(path.join(root, "index.html"), page)
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 10)) & 0xff
  fs.writeFileSync(path.join(root, "big.bin"), big)
  ;({ cert, key } = makeCertificate(dir))
}, 60_000)

afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

describe("fiberhttp server over TLS", () => {
  let server: DevServer

  beforeAll(async () => {
    server = await startServer(root, ["--tls-cert", cert, "--tls-key", key])
  }, 30_000)

  afterAll(async () => {
    await server.stop()
  })

  it("prints an https URL; curl --cacert verifies it and gets the file over HTTP/1.1 (ALPN)", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/)
    const response = await curlFetch(`https://localhost:${server.port}/`, [
      "--cacert",
      cert,
      "-w",
      "%{http_version} %{ssl_verify_result}"
    ])
    expect(response.code).toBe(0)
    expect(response.written).toBe("1.1 0")
    expect(response.status).toBe(200)
    expect(response.body.toString()).toBe(page)
  })

  it("streams a large file intact and keeps the TLS connection alive across requests", async () => {
    const url = `https://localhost:${server.port}/big.bin`
    const response = await curlFetch(url, ["--cacert", cert])
    expect(response.code).toBe(0)
    expect(response.body.equals(big)).toBe(true)
    // the second transfer reuses the first one's connection: no new connect
    const twice = await curl([
      "--cacert",
      cert,
      "-o",
      "/dev/null",
      "-o",
      "/dev/null",
      "-w",
      "%{num_connects}",
      url,
      url
    ])
    expect(twice.code).toBe(0)
    expect(twice.stdout.toString()).toBe("10")
  })

  it("the project's client verifies the certificate (--cacert, NODE_EXTRA_CA_CERTS) and gets the same bytes", async () => {
    const result = await runClient(["--cacert", cert, "-b", `https://localhost:${server.port}/`])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe(page)
    const byEnvironment = await runClient(["-b", `https://localhost:${server.port}/`], {
      ...process.env,
      NODE_EXTRA_CA_CERTS: cert
    })
    expect(byEnvironment.code).toBe(0)
    expect(byEnvironment.stdout.toString()).toBe(page)
    // and without the CA it refuses, as curl does (curl's 60)
    const refused = await runClient([`https://localhost:${server.port}/`])
    expect(refused.code).toBe(60)
  })

  it("curl without the CA refuses the certificate; plain HTTP on the TLS port gets no answer", async () => {
    const refused = await curlFetch(`https://localhost:${server.port}/`)
    expect(refused.code).toBe(60)
    const plain = await curlFetch(`http://127.0.0.1:${server.port}/`, ["--max-time", "5"])
    expect(plain.status).toBe(0)
    expect(plain.code).not.toBe(0)
    expect(plain.code).not.toBe(28)
  })

  it("Ctrl-C ends at once with a client mid-handshake and an idle TLS connection open", async () => {
    const own = await startServer(root, ["--tls-cert", cert, "--tls-key", key])
    // a TCP connection that never starts its handshake
    const silent = net.connect({ host: "127.0.0.1", port: own.port })
    silent.on("error", () => {})
    await new Promise<void>((resolve) => silent.once("connect", () => resolve()))
    // a TLS connection idle after one request
    const idle = tls.connect({ host: "127.0.0.1", port: own.port, servername: "localhost", ca: fs.readFileSync(cert) })
    idle.on("error", () => {})
    await new Promise<void>((resolve) => idle.once("secureConnect", () => resolve()))
    expect(idle.alpnProtocol).toBe(false)
    idle.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await new Promise<void>((resolve) => idle.once("data", () => resolve()))
    const stopping = Date.now()
    const exit = await own.stop()
    expect(exit.code).toBe(0)
    expect(exit.at - stopping).toBeLessThan(1500)
    silent.destroy()
    idle.destroy()
  })
})

describe("fiberhttp server: TLS start-up failures", () => {
  it("a key that does not match the certificate: exit 1, saying so", async () => {
    const other = makeCertificate(dir, "other-")
    const result = await runServerToEnd(["0", "--root", root, "--tls-cert", cert, "--tls-key", other.key])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      `fiberhttp server: cannot use --tls-cert ${cert} with --tls-key ${other.key}: the private key does not match the certificate\n`
    )
  })

  it("a missing file, or a file that is not PEM: exit 1 naming it", async () => {
    const missing = path.join(dir, "missing.pem")
    const absent = await runServerToEnd(["0", "--root", root, "--tls-cert", missing, "--tls-key", key])
    expect(absent.code).toBe(1)
    expect(absent.stderr).toBe(`fiberhttp server: cannot read --tls-cert ${missing}: no such file\n`)
    const notPem = path.join(root, "index.html")
    const garbage = await runServerToEnd(["0", "--root", root, "--tls-cert", cert, "--tls-key", notPem])
    expect(garbage.code).toBe(1)
    expect(garbage.stderr).toMatch(/^fiberhttp server: cannot use --tls-key .*index\.html: not a PEM private key/)
  })

  it("--tls-cert without --tls-key is a usage error (exit 2)", async () => {
    const result = await runServerToEnd(["0", "--root", root, "--tls-cert", cert])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("--tls-cert and --tls-key go together")
  })
})

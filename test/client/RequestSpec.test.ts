import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { requestHeaders, type RequestSpec } from "../../src/client/RequestSpec.ts"
import { parseUrl } from "../../src/client/Target.ts"

const target = Either.getOrThrow(parseUrl("http://[::1]:8080/x"))
const spec = (headers: ReadonlyArray<readonly [string, string]>): RequestSpec => ({
  method: "GET",
  headers,
  body: undefined
})
const names = (fields: ReadonlyArray<readonly [string, string]>) => fields.map(([name]) => name)

describe("requestHeaders", () => {
  it("Host first, bracketed IPv6 with its port, then User-Agent and Accept", () => {
    const fields = requestHeaders(target, spec([]), undefined)
    expect(fields[0]).toEqual(["Host", "[::1]:8080"])
    expect(names(fields)).toEqual(["Host", "User-Agent", "Accept"])
  })

  it("-H replaces a default in the default's place (Host stays first, RFC 9110 7.2), removes it when empty, and adds the rest after", () => {
    const fields = requestHeaders(
      target,
      spec([["X-Trace", "1"], ["host", "example.org"], ["Accept", ""], ["User-Agent", "curl/8"]]),
      undefined
    )
    expect(fields).toEqual([["host", "example.org"], ["User-Agent", "curl/8"], ["X-Trace", "1"]])
  })
})

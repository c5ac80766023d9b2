import { describe, expect, it } from "@effect/vitest"
import { escapeControls } from "../../src/http/chars.ts"

describe("escapeControls: peer text that can neither end a line of output nor drive a terminal", () => {
  it("writes C0 controls, DEL and C1 controls as \\xHH, two lowercase hex digits", () => {
    expect(escapeControls("a\r\nb")).toBe("a\\x0d\\x0ab")
    expect(escapeControls("\u0000\u001b[31m\u001f")).toBe("\\x00\\x1b[31m\\x1f")
    expect(escapeControls("\u007f\u0080\u009b\u009f")).toBe("\\x7f\\x80\\x9b\\x9f")
  })

  it("leaves every other character as it is", () => {
    expect(escapeControls(" ~\u00a0\u00ff caf\u00e9 \u2028")).toBe(" ~\u00a0\u00ff caf\u00e9 \u2028")
    expect(escapeControls("")).toBe("")
  })
})

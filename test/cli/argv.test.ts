import { describe, expect, it } from "@effect/vitest"
import { normalize } from "../../src/cli/argv.ts"
import { normalizeArgs } from "../../src/cli/Cli.ts"
import { clientOptionSpecs } from "../../src/cli/ClientCommand.ts"
import { serverOptionSpecs } from "../../src/cli/ServerCommand.ts"

const client = (...words: Array<string>) => normalize(words, clientOptionSpecs)
const args = (...words: Array<string>) => {
  const result = client(...words)
  if (result._tag === "Usage") throw new Error(`refused: ${result.message}`)
  return result.args
}
const refusal = (...words: Array<string>) => {
  const result = client(...words)
  if (result._tag === "Args") throw new Error(`accepted: ${result.args.join(" ")}`)
  return result.message
}

const booleanShorts = clientOptionSpecs.filter((s) => s.short !== undefined && !s.value)
const valueShorts = clientOptionSpecs.filter((s) => s.short !== undefined && s.value)

/** Every ordering of `items`. */
const permutations = <A>(items: ReadonlyArray<A>): Array<Array<A>> =>
  items.length <= 1
    ? [[...items]]
    : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [item, ...p]))

describe("client options: every short flag, alone and grouped", () => {
  it("knows the short flags curl users type", () => {
    expect(booleanShorts.map((s) => s.short).sort()).toEqual(["I", "L", "b", "f", "i", "k"])
    expect(valueShorts.map((s) => s.short).sort()).toEqual(["C", "H", "X", "d", "o", "r"])
  })

  it("applies every boolean short flag of a group, in every order (-kb, -bL, -Lb, -kbLfiI...)", () => {
    const letters = booleanShorts.map((s) => s.short!)
    for (const order of permutations(letters)) {
      for (let size = 2; size <= order.length; size++) {
        const group = order.slice(0, size)
        const expected = group.map((letter) => `--${booleanShorts.find((s) => s.short === letter)!.name}=true`)
        expect(args(`-${group.join("")}`, "http://a/")).toEqual([...expected, "http://a/"])
      }
    }
  })

  it("takes a value option's value from the rest of its group or the next word", () => {
    for (const spec of valueShorts) {
      expect(args(`-${spec.short}`, "v1", "http://a/")).toEqual([`--${spec.name}`, "v1", "http://a/"])
      expect(args(`-${spec.short}v2`, "http://a/")).toEqual([`--${spec.name}`, "v2", "http://a/"])
      expect(args(`-kb${spec.short}`, "v3")).toEqual(["--insecure=true", "--body=true", `--${spec.name}`, "v3"])
    }
    expect(args("-XPOST", "-o", "-", "-C", "-")).toEqual(["--method", "POST", "--output", "-", "--continue-at", "-"])
  })

  it("splits --name=value, keeps a boolean given twice once, refuses a value option given twice", () => {
    expect(args("--header=X: y", "--max-time=2")).toEqual(["--header", "X: y", "--max-time", "2"])
    expect(args("--ttl", "--ttl", "--rtt")).toEqual(["--ttl=true"])
    expect(args("-H", "A: 1", "-H", "B: 2")).toEqual(["--header", "A: 1", "--header", "B: 2"])
    expect(refusal("-o", "a", "--output", "b")).toBe("option --output given more than once")
    expect(refusal("-o")).toBe("option -o needs a value")
  })

  it("names an unknown option, the nearest known one, and an option whose integer is not one", () => {
    expect(refusal("--locaton")).toBe("unknown option --locaton (did you mean --location?)")
    expect(refusal("--bogus")).toBe("unknown option --bogus")
    expect(refusal("-kq")).toBe("unknown option -q in -kq")
    expect(refusal("--count", "x")).toBe("option --count: \"x\" is not an integer")
  })

  it("passes positionals, `-`, and everything after `--` through; @effect/cli's own options too", () => {
    expect(args("a", "-", "--", "-k")).toEqual(["a", "-", "--", "-k"])
    expect(args("--help")).toEqual(["--help"])
  })
})

describe("server options", () => {
  const server = (...words: Array<string>) => normalizeArgs(["node", "fiberhttp", "server", ...words])

  it("says a mistyped option is unknown, with the nearest known one, instead of 'not a integer'", () => {
    expect(server("8080", "--lisitng")).toEqual({
      _tag: "Usage",
      message: "unknown option --lisitng (did you mean --listing?)"
    })
  })

  it("keeps a number after an on/off option a port", () => {
    expect(server("--quiet", "0")).toEqual({
      _tag: "Args",
      args: ["node", "fiberhttp", "server", "--quiet=true", "0"]
    })
    expect(serverOptionSpecs.every((s) => s.short === undefined)).toBe(true)
  })
})

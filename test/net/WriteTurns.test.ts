import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as NodeSendQueues from "../../src/net/NodeSendQueues.ts"
import { fromSocket } from "../../src/net/NodeStreamConnection.ts"
import { makeWriteTurns } from "../../src/net/WriteTurns.ts"
import { socketPair } from "./helpers.ts"

/** Turns that pass only when the test says so. */
const manualTurns = (bytesPerTurn: number) => {
  const pending: Array<() => void> = []
  const turns = makeWriteTurns(bytesPerTurn, (run) => void pending.push(run))
  /** Runs the turn scheduled, if any; says whether there was one. */
  const next = () => {
    const run = pending.shift()
    run?.()
    return run !== undefined
  }
  return { turns, next, scheduled: () => pending.length }
}

describe("WriteTurns", () => {
  it("takes writes until the turn's budget is spent, then the next waits for the next turn", () => {
    const { next, turns } = manualTurns(100)
    expect(turns.tryTake(60)).toBe(true)
    expect(turns.tryTake(60)).toBe(true)
    expect(turns.tryTake(1)).toBe(false)
    const served: Array<string> = []
    turns.wait(1, () => served.push("late"))
    expect(served).toEqual([])
    next()
    expect(served).toEqual(["late"])
  })

  it("serves waiters in order, at least one per turn, and refuses newcomers while someone waits", () => {
    const { next, turns } = manualTurns(100)
    expect(turns.tryTake(100)).toBe(true)
    const served: Array<string> = []
    turns.wait(250, () => served.push("a"))
    turns.wait(50, () => served.push("b"))
    turns.wait(60, () => served.push("c"))
    turns.wait(10, () => served.push("d"))
    // the budget of a turn that is not spent yet does not let a newcomer pass those waiting
    expect(turns.tryTake(1)).toBe(false)
    next()
    // larger than a whole turn: served alone
    expect(served).toEqual(["a"])
    next()
    expect(served).toEqual(["a", "b", "c"])
    next()
    expect(served).toEqual(["a", "b", "c", "d"])
    // one more turn resets the budget, then the turns stop
    expect(next()).toBe(true)
    expect(turns.tryTake(100)).toBe(true)
  })

  it("skips a waiter that withdrew", () => {
    const { next, turns } = manualTurns(100)
    expect(turns.tryTake(100)).toBe(true)
    const served: Array<string> = []
    const withdraw = turns.wait(10, () => served.push("gone"))
    turns.wait(10, () => served.push("kept"))
    withdraw()
    withdraw()
    next()
    expect(served).toEqual(["kept"])
    // nobody waits any more: the next turn's budget is free
    next()
    expect(turns.tryTake(10)).toBe(true)
  })

  it.scopedLive("a connection writing a large body lets another connection's write through between its slices", () =>
    Effect.gen(function*() {
      const { next, turns } = manualTurns(64 * 1024)
      const sendQueues = NodeSendQueues.make()
      const [large, largeClient] = yield* socketPair
      const [small, smallClient] = yield* socketPair
      const received = { large: 0, small: 0 }
      largeClient.on("data", (chunk: Buffer) => void (received.large += chunk.length))
      smallClient.on("data", (chunk: Buffer) => void (received.small += chunk.length))
      const a = fromSocket(large, { sendQueues, turns })
      const b = fromSocket(small, { sendQueues, turns })

      const body = new Uint8Array(1024 * 1024).fill(7)
      const largeWrite = yield* Effect.fork(a.write(body))
      // its first 64 KiB slice spent the turn; the second waits for the next turn
      yield* Effect.sleep(5)
      const smallWrite = yield* Effect.fork(b.write(new Uint8Array(1000).fill(1)))
      yield* Effect.sleep(5)
      expect(largeWrite.unsafePoll()).toBeNull()
      expect(smallWrite.unsafePoll()).toBeNull()

      let turnsRun = 0
      const runTurn = Effect.gen(function*() {
        next()
        turnsRun++
        // let the slice callbacks and the resumed fibers run
        yield* Effect.sleep(5)
      })
      // turn 1: the large body's second slice; turn 2: the small write, asked for before its third
      yield* runTurn
      expect(smallWrite.unsafePoll()).toBeNull()
      yield* runTurn
      yield* Fiber.join(smallWrite)
      expect(largeWrite.unsafePoll()).toBeNull()

      while (largeWrite.unsafePoll() === null && turnsRun < 100) yield* runTurn
      yield* Fiber.join(largeWrite)
      // 1 MiB in 64 KiB slices, one a turn: fifteen turns after the first slice
      expect(turnsRun).toBe(15)
      while (received.large < body.length || received.small < 1000) yield* Effect.sleep(5)
      expect(received).toEqual({ large: body.length, small: 1000 })
    }))
})

/**
 * Study: a connection's life, in pure Effect.
 *
 * A "server scope" holds, in this order of acquisition: a last-word finalizer,
 * a FiberSet of connection fibers and a "listener". Four connection fibers
 * are forked into the set; each owns a "socket" through acquireRelease, and
 * each request owns an "open file" the same way. One connection finishes on
 * its own, one is mid-download, one idles on keep-alive and one has a
 * finalizer that takes 150 ms. Then the scope is closed, as Ctrl-C would.
 *
 * What to watch for:
 * - the finished connection's finalizer runs in its own fiber as soon as it
 *   ends, and the fiber leaves the set (the size drops to 3);
 * - closing the scope runs its finalizers in reverse order of acquisition:
 *   the listener (acquired last) closes first, then the FiberSet interrupts
 *   every connection fiber and waits for them, and the first finalizer
 *   registered runs last;
 * - inside a connection, the request's file closes before the socket (inner
 *   scope first), and `onExit` outside the scope sees the fiber end last;
 * - the FiberSet interrupts all fibers at once and then awaits each, so their
 *   finalizers interleave, and the scope's close waits for the slow 150 ms
 *   finalizer: finalizers are uninterruptible, which is why fiberhttp's real
 *   socket release destroys the socket instead of waiting for it to drain.
 *
 * Run: node --import tsx scratchpad/studies/connection-life.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Effect, Exit, FiberId, FiberSet, Scope } from "effect"

const program = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const finalizerOrder: Array<string> = []

  /** One timeline line: milliseconds since start, the fiber that speaks, the event. */
  const say = (event: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const fiber = FiberId.threadName(yield* Effect.fiberId)
      yield* Console.log(`${String(now - start).padStart(5)} ms  ${fiber.padEnd(4)}  ${event}`)
    })

  const finalizer = (what: string) =>
    Effect.suspend(() => {
      finalizerOrder.push(what)
      return say(`finalizer: ${what}`)
    })

  /** A request that owns an open file and writes `chunks` chunks 100 ms apart (forever if Infinity). */
  const request = (conn: string, path: string, chunks: number) =>
    Effect.scoped(
      Effect.gen(function*() {
        yield* Effect.acquireRelease(
          say(`${conn}: GET ${path}: file opened`),
          () => finalizer(`${conn}: ${path} closed`)
        )
        for (let chunk = 1; chunk <= chunks; chunk++) {
          yield* Effect.sleep("100 millis")
          yield* say(`${conn}: ${path}: wrote chunk ${chunk}`)
        }
      })
    )

  /** A connection fiber: owns its socket; `onExit` sits outside its scope, so it speaks last. */
  const connection = <E>(conn: string, work: Effect.Effect<void, E>, releaseTakes = 0) =>
    Effect.scoped(
      Effect.gen(function*() {
        yield* Effect.acquireRelease(say(`${conn}: socket accepted`), () =>
          releaseTakes === 0
            ? finalizer(`${conn}: socket destroyed`)
            : say(`${conn}: release started, takes ${releaseTakes} ms`).pipe(
              Effect.zipRight(Effect.sleep(releaseTakes)),
              Effect.zipRight(finalizer(`${conn}: socket ended gracefully`))
            ))
        yield* work
      })
    ).pipe(
      Effect.onExit((exit) =>
        say(
          `${conn}: fiber ended, ${
            Exit.isInterrupted(exit) ? "interrupted" : Exit.isSuccess(exit) ? "completed" : "failed"
          }`
        )
      )
    )

  const serverScope = yield* Scope.make()
  yield* say("server scope opened")
  yield* Scope.addFinalizer(serverScope, finalizer("server scope: the last finalizer, registered first"))
  const connections = yield* FiberSet.make<void, never>().pipe(Scope.extend(serverScope))
  yield* Effect.acquireRelease(say("listener bound"), () => finalizer("listener closed, port released")).pipe(
    Scope.extend(serverScope)
  )

  yield* FiberSet.run(
    connections,
    connection("c1", request("c1", "/index.html", 1).pipe(Effect.zipRight(say("c1: peer closed the connection"))))
  )
  yield* FiberSet.run(connections, connection("c2", request("c2", "/files/big.bin", Infinity)))
  yield* FiberSet.run(
    connections,
    connection("c3", say("c3: idle keep-alive, waiting for a request").pipe(Effect.zipRight(Effect.never)))
  )
  yield* FiberSet.run(
    connections,
    connection("c4", say("c4: half a request head received").pipe(Effect.zipRight(Effect.never)), 150)
  )

  yield* Effect.sleep("350 millis")
  yield* say(`${yield* FiberSet.size(connections)} connection fibers alive; closing the server scope (as Ctrl-C would)`)
  yield* Scope.close(serverScope, Exit.void)
  yield* say("server scope closed")

  yield* Console.log("\nfinalizers, in the order they ran:")
  yield* Console.log(finalizerOrder.map((what, i) => `  ${i + 1}. ${what}`).join("\n"))
})

NodeRuntime.runMain(program)

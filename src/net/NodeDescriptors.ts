import { Effect } from "effect"
import * as fs from "node:fs"

/**
 * Whether the process can open one more file descriptor: opens /dev/null and
 * closes it again. When it cannot (EMFILE for the process, ENFILE for the
 * system), neither can an accept: libuv then takes each pending connection
 * with a descriptor it keeps in reserve and closes it at once, without
 * telling Node, so this probe is how a listener learns that connections are
 * being refused.
 */
export const probeDescriptor: Effect.Effect<"ok" | "EMFILE" | "ENFILE"> = Effect.async((resume) => {
  fs.open("/dev/null", "r", (error, fd) => {
    if (error) {
      const code = (error as NodeJS.ErrnoException).code
      resume(Effect.succeed(code === "EMFILE" || code === "ENFILE" ? code : "ok"))
      return
    }
    fs.close(fd, () => resume(Effect.succeed("ok")))
  })
})

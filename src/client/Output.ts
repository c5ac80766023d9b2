import { Context, Effect, Layer } from "effect"

/**
 * The terminal the client prints to. Bytes go out as they are (bodies are
 * binary); writes complete when the stream has taken them, so a slow reader
 * of stdout slows the download instead of filling memory.
 */
export class Output extends Context.Tag("fiberhttp/client/Output")<
  Output,
  {
    readonly stdout: (chunk: Uint8Array | string) => Effect.Effect<void>
    readonly stderr: (chunk: Uint8Array | string) => Effect.Effect<void>
    /**
     * Why stdout can take no more (its reader has gone: `client URL | head`),
     * or undefined while it can. Writes after that are dropped; a body
     * stops being fetched (exit 23, as curl does) instead of being
     * downloaded to nowhere, which against an endless body would never end.
     */
    readonly stdoutClosed: () => string | undefined
    /** Whether stdout is a terminal: binary bodies are not printed to one unless asked (-o -). */
    readonly stdoutIsTTY: boolean
    /** Whether stderr is a terminal: the progress bar is drawn only then. */
    readonly stderrIsTTY: boolean
    readonly stderrColumns: number
  }
>() {}

/** Writes to a process stream (exported for tests): see `Output`. */
export const writeTo = (stream: NodeJS.WritableStream & { readonly writableLength: number }) => {
  let broken: string | undefined
  // A closed pipe (`fiberhttp client ... | head`) is not worth a crash: the
  // rest of the output is dropped, and `closed` says why.
  stream.on("error", (error: NodeJS.ErrnoException) => {
    broken ??= error.code === "EPIPE" ? "the reader has gone (EPIPE)" : error.message
  })
  // Done once the stream holds none of the chunk (a body chunk's memory is
  // reused by the next read): at once when it was written synchronously, as
  // files, pipes and terminals are on Linux, else at its callback.
  const write = (chunk: Uint8Array | string): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (broken !== undefined) return Effect.void
      let written = false
      let wake: (() => void) | undefined
      stream.write(chunk, () => {
        written = true
        wake?.()
      })
      if (stream.writableLength === 0 || written) return Effect.void
      return Effect.async<void>((resume) => {
        const done = () => {
          stream.off("error", done)
          resume(Effect.void)
        }
        wake = done
        stream.once("error", done)
        return Effect.sync(() => {
          wake = undefined
          stream.off("error", done)
        })
      })
    })
  return { write, closed: () => broken }
}

/** The process's stdout and stderr. */
export const layerProcess: Layer.Layer<Output> = Layer.sync(Output, () => {
  const stdout = writeTo(process.stdout)
  return Output.of({
    stdout: stdout.write,
    stderr: writeTo(process.stderr).write,
    stdoutClosed: stdout.closed,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    stderrColumns: process.stderr.columns ?? 80
  })
})

/** Captured output, for tests: both streams in bytes, plus the interleaving. */
export interface CapturedOutput {
  readonly stdout: () => string
  readonly stderr: () => string
  readonly stdoutBytes: () => Uint8Array
}

export const makeCapture = (
  options: {
    readonly stdoutIsTTY?: boolean
    readonly stderrIsTTY?: boolean
    readonly stderrColumns?: number
    /** stdout's reader goes away once this many bytes were written to it (`| head -c N`). */
    readonly stdoutClosesAfter?: number
  } = {}
) => {
  const out: Array<Uint8Array> = []
  const err: Array<Uint8Array> = []
  const encoder = new TextEncoder()
  let stdoutBytes = 0
  const closesAfter = options.stdoutClosesAfter ?? Number.POSITIVE_INFINITY
  const push = (into: Array<Uint8Array>) => (chunk: Uint8Array | string) =>
    Effect.sync(() => {
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : new Uint8Array(chunk)
      if (into !== out) return void into.push(bytes)
      const room = closesAfter - stdoutBytes
      if (room <= 0) return
      into.push(bytes.length <= room ? bytes : bytes.subarray(0, room))
      stdoutBytes += Math.min(bytes.length, room)
    })
  const concat = (chunks: ReadonlyArray<Uint8Array>) => {
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const c of chunks) {
      all.set(c, at)
      at += c.length
    }
    return all
  }
  const decoder = new TextDecoder()
  const captured: CapturedOutput = {
    stdout: () => decoder.decode(concat(out)),
    stderr: () => decoder.decode(concat(err)),
    stdoutBytes: () => concat(out)
  }
  const layer = Layer.succeed(
    Output,
    Output.of({
      stdout: push(out),
      stderr: push(err),
      stdoutClosed: () => (stdoutBytes >= closesAfter ? "the reader has gone (EPIPE)" : undefined),
      stdoutIsTTY: options.stdoutIsTTY ?? false,
      stderrIsTTY: options.stderrIsTTY ?? false,
      stderrColumns: options.stderrColumns ?? 80
    })
  )
  return { captured, layer }
}

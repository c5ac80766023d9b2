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

const writeTo = (stream: NodeJS.WriteStream) => {
  let broken: string | undefined
  // A closed pipe (`fiberhttp client ... | head`) is not worth a crash: the
  // rest of the output is dropped, and `closed` says why.
  stream.on("error", (error: NodeJS.ErrnoException) => {
    broken ??= error.code === "EPIPE" ? "the reader has gone (EPIPE)" : error.message
  })
  const write = (chunk: Uint8Array | string): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      if (broken !== undefined) return resume(Effect.void)
      if (stream.write(chunk)) return resume(Effect.void)
      const done = () => {
        stream.off("drain", done)
        stream.off("error", done)
        resume(Effect.void)
      }
      stream.once("drain", done)
      stream.once("error", done)
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
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice()
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

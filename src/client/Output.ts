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
    /** Whether stderr is a terminal: the progress bar is drawn only then. */
    readonly stderrIsTTY: boolean
    readonly stderrColumns: number
  }
>() {}

const writeTo = (stream: NodeJS.WriteStream) => {
  let broken = false
  // A closed pipe (`fiberhttp client ... | head`) is not worth a crash: the
  // rest of the output is dropped.
  stream.on("error", () => {
    broken = true
  })
  return (chunk: Uint8Array | string): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      if (broken) return resume(Effect.void)
      if (stream.write(chunk)) return resume(Effect.void)
      const done = () => {
        stream.off("drain", done)
        stream.off("error", done)
        resume(Effect.void)
      }
      stream.once("drain", done)
      stream.once("error", done)
    })
}

/** The process's stdout and stderr. */
export const layerProcess: Layer.Layer<Output> = Layer.sync(Output, () =>
  Output.of({
    stdout: writeTo(process.stdout),
    stderr: writeTo(process.stderr),
    stderrIsTTY: process.stderr.isTTY === true,
    stderrColumns: process.stderr.columns ?? 80
  })
)

/** Captured output, for tests: both streams in bytes, plus the interleaving. */
export interface CapturedOutput {
  readonly stdout: () => string
  readonly stderr: () => string
  readonly stdoutBytes: () => Uint8Array
}

export const makeCapture = (options: { readonly stderrIsTTY?: boolean; readonly stderrColumns?: number } = {}) => {
  const out: Array<Uint8Array> = []
  const err: Array<Uint8Array> = []
  const encoder = new TextEncoder()
  const push = (into: Array<Uint8Array>) => (chunk: Uint8Array | string) =>
    Effect.sync(() => {
      into.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice())
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
      stderrIsTTY: options.stderrIsTTY ?? false,
      stderrColumns: options.stderrColumns ?? 80
    })
  )
  return { captured, layer }
}

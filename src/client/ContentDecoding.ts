import { Effect } from "effect"
import * as zlib from "node:zlib"
import { DecodeError } from "./errors.ts"

/** What --compressed asks for: the codings node:zlib decodes (zstd only from Node 22.15 on). */
export const acceptEncoding = "br, gzip, deflate"

/** Turns an encoded body back into its bytes, chunk by chunk, as it arrives. */
export interface Decoder {
  /** The bytes decoded from this chunk (a view of node:zlib's output). */
  readonly push: (chunk: Uint8Array) => Effect.Effect<ReadonlyArray<Uint8Array>, DecodeError>
  /** The end of the body: what is left, or the error of a stream cut short. */
  readonly end: Effect.Effect<ReadonlyArray<Uint8Array>, DecodeError>
}

const makeStream = (coding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined => {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip()
    case "deflate":
      return zlib.createInflate()
    case "br":
      return zlib.createBrotliDecompress()
    default:
      return undefined
  }
}

/**
 * A decoder for a Content-Encoding value (one coding; `identity` or none
 * gives undefined, as does a coding node:zlib does not know). Each chunk is
 * written and flushed, so its bytes come out before the next chunk is read:
 * memory stays at one chunk's output, whatever the body's size.
 */
export const decoderFor = (contentEncoding: string | undefined): Decoder | undefined => {
  const coding = (contentEncoding ?? "").trim().toLowerCase()
  const stream = makeStream(coding)
  if (stream === undefined) return undefined
  let output: Array<Uint8Array> = []
  let failure: Error | undefined
  stream.on("data", (chunk: Buffer) => output.push(chunk))
  stream.on("error", (error: Error) => {
    failure ??= error
  })
  const take = () => {
    const taken = output
    output = []
    return taken
  }
  const fail = (error: Error) => new DecodeError({ encoding: coding, message: error.message })
  const push = (chunk: Uint8Array) =>
    Effect.async<ReadonlyArray<Uint8Array>, DecodeError>((resume) => {
      if (failure !== undefined) return resume(Effect.fail(fail(failure)))
      let done = false
      const finish = () => {
        if (done) return
        done = true
        stream.off("error", finish)
        resume(failure === undefined ? Effect.succeed(take()) : Effect.fail(fail(failure)))
      }
      stream.once("error", finish)
      stream.write(chunk)
      stream.flush(finish)
    })
  const end = Effect.async<ReadonlyArray<Uint8Array>, DecodeError>((resume) => {
    if (failure !== undefined) return resume(Effect.fail(fail(failure)))
    let done = false
    const finish = () => {
      if (done) return
      done = true
      resume(failure === undefined ? Effect.succeed(take()) : Effect.fail(fail(failure)))
    }
    stream.once("error", finish)
    stream.once("end", finish)
    stream.end()
    // 'end' comes only once the output is read: it is, through the 'data' listener
  })
  return { push, end }
}

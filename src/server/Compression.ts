import { Effect, Stream } from "effect"
import * as Mime from "mime-types"
import * as zlib from "node:zlib"
import { flatMapNow, isDoneNow, mapNow } from "../effectNow.ts"
import { SETTLE_MS } from "../files/CachedLookup.ts"
import { type FileEntry, type LookupOptions, StaticFiles } from "../files/StaticFiles.ts"
import { acceptedCodings, type Coding } from "../http/acceptEncoding.ts"
import type { Headers } from "../http/Headers.ts"
import type { RequestHead } from "../http/message.ts"
import type * as Response from "./ServerResponse.ts"
import { pathOfTarget } from "./StaticHandler.ts"

export interface CompressionOptions {
  /** Compress text responses on the fly (precompressed siblings are served either way). */
  readonly onTheFly: boolean
  readonly dotfiles: boolean
  /** Bytes of compressed small files kept, so that a hot file is compressed once; 0 keeps none. */
  readonly cacheBytes: number
  /** Whether HTML pages may be served from precompressed siblings (not when pages are rewritten as they go out). */
  readonly htmlSiblings: boolean
}

/** Files up to this size are sent as they are: compressing them saves less than it costs. */
export const MIN_COMPRESSED_SIZE = 1024

/** Brotli quality for bodies compressed on the fly (0-11): near gzip's speed, below its size. */
export const BROTLI_QUALITY = 5
export const GZIP_LEVEL = 6

const CODINGS: ReadonlyArray<Coding> = ["br", "gzip"]
/** A file's precompressed siblings are looked for again after this long (a new .br is seen within it). */
const SIBLINGS_AGAIN_MS = 1000
const SUFFIX: Record<Coding, string> = { br: ".br", gzip: ".gz" }

/**
 * Types worth compressing: text, and the structured and font formats that
 * are not compressed already. Images other than SVG, video, audio,
 * archives and woff/woff2 are.
 */
export const compressibleType = (type: string): boolean => {
  const mime = type.split(";")[0]!.trim().toLowerCase()
  if (mime.startsWith("text/")) return true
  if (mime === "image/svg+xml" || mime === "image/x-icon" || mime === "image/vnd.microsoft.icon") return true
  if (mime === "font/ttf" || mime === "font/otf" || mime === "application/vnd.ms-fontobject") return true
  if (!mime.startsWith("application/")) return false
  const sub = mime.slice("application/".length)
  return /^(javascript|ecmascript|x-javascript|json|xml|wasm|manifest\+json|x-web-app-manifest\+json|graphql|x-sh|x-httpd-php|rtf|yaml|x-yaml|toml|x-tar|sql)$/
    .test(sub) || sub.endsWith("+json") || sub.endsWith("+xml")
}

/** The type of each file entry handed out lately (the file cache hands out one entry per unchanged file). */
const typesOf = new WeakMap<FileEntry, string>()
const typeOf = (file: FileEntry): string => {
  let type = typesOf.get(file)
  if (type === undefined) {
    type = Mime.contentType(file.path.slice(file.path.lastIndexOf("/") + 1)) || "application/octet-stream"
    typesOf.set(file, type)
  }
  return type
}

/** The ETag of a coded representation: the identity tag with the coding appended inside the quotes. */
export const codedEtag = (etag: string, coding: Coding): string =>
  etag.endsWith("\"") ? `${etag.slice(0, -1)}-${coding}"` : etag

/**
 * If-None-Match as the identity handler must read it when the coded form
 * is what would be sent: the client's tags for that coding are turned back
 * into the identity tag, and identity tags it holds stand for a different
 * representation, so they must not match.
 */
const forCoding = (head: RequestHead, coding: Coding): RequestHead => {
  const inm = head.headers.get("If-None-Match")
  if (inm === undefined || inm.trim() === "*") return head
  const suffix = `-${coding}"`
  const tags = inm.split(",").map((tag) => tag.trim()).map((tag) =>
    tag.endsWith(suffix) ? `${tag.slice(0, -suffix.length)}"` : "\"-\""
  )
  return { ...head, headers: head.headers.set("If-None-Match", tags.join(", ")) }
}

const options = (coding: Coding, size: number | undefined) =>
  coding === "br"
    ? {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        ...(size === undefined ? {} : { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size })
      }
    }
    : { level: GZIP_LEVEL }

/** The whole of `bytes` compressed, on the thread pool. */
export const compressBytes = (bytes: Uint8Array, coding: Coding): Effect.Effect<Uint8Array> =>
  Effect.async<Uint8Array>((resume) => {
    const done = (error: Error | null, result: Buffer) =>
      error === null ? resume(Effect.succeed(result)) : resume(Effect.die(error))
    if (coding === "br") zlib.brotliCompress(bytes, options("br", bytes.length), done)
    else zlib.gzip(bytes, options("gzip", bytes.length), done)
  })

/**
 * `input` compressed as it is pulled: each chunk is handed to zlib and
 * what zlib gave back so far is emitted, so memory stays at zlib's window
 * plus one chunk. The next chunk is pulled only once zlib has taken the
 * last (an input buffer may be reused by its producer after that).
 */
export const compressStream = <E>(input: Stream.Stream<Uint8Array, E>, coding: Coding): Stream.Stream<Uint8Array, E> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const z = yield* Effect.acquireRelease(
      Effect.sync(() =>
        coding === "br"
          ? zlib.createBrotliCompress(options("br", undefined))
          : zlib.createGzip(options("gzip", undefined))
      ),
      (z) => Effect.sync(() => z.destroy())
    )
    const out: Array<Uint8Array> = []
    let failure: Error | undefined
    z.on("data", (chunk: Buffer) => out.push(chunk))
    z.on("error", (error) => (failure = error))
    const taken = () => (failure === undefined ? Effect.succeed(out.splice(0)) : Effect.die(failure))
    const feed = (chunk: Uint8Array) =>
      Effect.async<ReadonlyArray<Uint8Array>>((resume) => {
        z.write(chunk, () => resume(taken()))
      })
    const finish = Effect.async<ReadonlyArray<Uint8Array>>((resume) => {
      z.once("end", () => resume(taken()))
      z.end()
    })
    return Stream.concat(Stream.mapConcatEffect(input, feed), Stream.flattenIterables(Stream.fromEffect(finish)))
  }))

/** Compressed whole files, by identity ETag and coding; oldest out first when over budget. */
class CompressedCache {
  private readonly entries = new Map<string, Uint8Array>()
  private held = 0
  constructor(private readonly maxBytes: number) {}

  get(key: string): Uint8Array | undefined {
    return this.entries.get(key)
  }

  keep(key: string, bytes: Uint8Array): void {
    if (bytes.length > this.maxBytes || this.entries.has(key)) return
    this.entries.set(key, bytes)
    this.held += bytes.length
    while (this.held > this.maxBytes) {
      const oldest = this.entries.entries().next()
      if (oldest.done) break
      this.entries.delete(oldest.value[0])
      this.held -= oldest.value[1].length
    }
  }
}

const withHeaders = (
  response: Response.ServerResponse,
  change: (headers: Headers) => Headers
): Response.ServerResponse => ({
  ...response,
  headers: change(response.headers)
})

const addVary = (headers: Headers): Headers =>
  headers.getAll("Vary").some((v) => /accept-encoding/i.test(v)) ? headers : headers.append("Vary", "Accept-Encoding")

/**
 * Content coding around the static handler. For a file the client would
 * take coded (Accept-Encoding, q-values honoured): a sibling `NAME.br` or
 * `NAME.gz` that is not older than the file is served in its place (its own
 * ETag, ranges over its bytes) with the file's type; otherwise a text file
 * over MIN_COMPRESSED_SIZE is compressed on the fly, unless a range is
 * asked for (ranges are served from the identity bytes). Small files are
 * compressed once and kept; large ones are compressed as they stream, sent
 * chunked. Coded responses, and identity ones that could have been coded,
 * carry `Vary: Accept-Encoding`.
 */
export const wrap = (
  inner: Response.Handler,
  options: CompressionOptions
): Effect.Effect<Response.Handler, never, StaticFiles> =>
  Effect.gen(function*() {
    const files = yield* StaticFiles
    const clock = yield* Effect.clock
    const cache = new CompressedCache(options.cacheBytes)
    const lookupOptions: LookupOptions = { dotfiles: options.dotfiles }

    /** The file a path names, if any; at once (an Exit) when the lookup answers at once. */
    const fileAt = (rawPath: string): Effect.Effect<FileEntry | undefined> => {
      const found = files.lookup(rawPath, lookupOptions)
      if (isDoneNow(found)) return Effect.succeed(found.value._tag === "File" ? found.value.file : undefined)
      return found.pipe(
        Effect.map((found) => (found._tag === "File" ? found.file : undefined)),
        Effect.orElseSucceed(() => undefined)
      )
    }

    /**
     * Which codings have a usable sibling, per file entry, checked again at
     * most once per SIBLINGS_AGAIN_MS: a missing sibling is a full (uncached)
     * lookup, which would otherwise cost every request twice.
     */
    const siblingsSeen = new WeakMap<FileEntry, { readonly at: number; readonly codings: ReadonlySet<Coding> }>()
    const siblingsOf = (rawPath: string, file: FileEntry): Effect.Effect<ReadonlySet<Coding>> => {
      const now = clock.unsafeCurrentTimeMillis()
      const seen = siblingsSeen.get(file)
      if (seen !== undefined && now - seen.at < SIBLINGS_AGAIN_MS) return Effect.succeed(seen.codings)
      return Effect.map(
        Effect.forEach(CODINGS, (coding) =>
          Effect.map(fileAt(rawPath + SUFFIX[coding]), (coded) =>
            // a sibling older than the file was left behind by an edit: not the same content
            coded !== undefined && coded.mtime.getTime() >= file.mtime.getTime() ? [coding] : [])),
        (found) => {
          const codings = new Set(found.flat())
          siblingsSeen.set(file, { at: now, codings })
          return codings
        }
      )
    }

    const sibling = (rawPath: string, file: FileEntry, codings: ReadonlyArray<Coding>) =>
      rawPath.endsWith("/")
        ? Effect.succeed(undefined)
        : mapNow(siblingsOf(rawPath, file), (present) => codings.find((coding) => present.has(coding)))

    const serveSibling = (head: RequestHead, rawPath: string, coding: Coding, type: string) =>
      Effect.map(inner({ ...head, target: rawPath + SUFFIX[coding] }), (response) =>
        withHeaders(response, (headers) => {
          const ok = response.status === 200 || response.status === 206
          const typed = headers.has("Content-Type") ? headers.set("Content-Type", type) : headers
          return addVary(ok ? typed.append("Content-Encoding", coding) : typed)
        }))

    const compressedBody = (file: FileEntry, etag: string, bytes: Uint8Array, coding: Coding) => {
      const key = `${etag}|${coding}`
      const kept = cache.get(key)
      if (kept !== undefined) return Effect.succeed(kept)
      return Effect.tap(compressBytes(bytes, coding), (compressed) => {
        // a file changed within the last moment may change again under the same stamp
        if (Math.abs(clock.unsafeCurrentTimeMillis() - file.mtime.getTime()) >= SETTLE_MS) cache.keep(key, compressed)
      })
    }

    /**
     * The coded answers made from one identity response (a kept file's 200
     * or 304, handed out again while the file is unchanged), per coding: the
     * same answer object for the same response and the same compressed
     * bytes, so that the connection keeps it serialized.
     */
    const coded = new WeakMap<
      Response.ServerResponse,
      Partial<Record<Coding, { readonly bytes: Uint8Array | undefined; readonly answer: Response.ServerResponse }>>
    >()
    const codedAnswer = (
      response: Response.ServerResponse,
      coding: Coding,
      bytes: Uint8Array | undefined,
      make: () => Response.ServerResponse
    ): Response.ServerResponse => {
      let byCoding = coded.get(response)
      if (byCoding === undefined) {
        byCoding = {}
        coded.set(response, byCoding)
      }
      const known = byCoding[coding]
      if (known !== undefined && known.bytes === bytes) return known.answer
      const answer = make()
      byCoding[coding] = { bytes, answer }
      return answer
    }

    const compressOnTheFly = (head: RequestHead, file: FileEntry, coding: Coding) =>
      flatMapNow(
        // HEAD too reads the body: its Content-Length is the compressed length
        inner({ ...forCoding(head, coding), method: "GET" }),
        (response): Effect.Effect<Response.ServerResponse> => {
          const etag = response.headers.get("ETag")
          const recode = (headers: Headers) =>
            addVary(etag === undefined ? headers : headers.set("ETag", codedEtag(etag, coding)))
          if (response.status === 304) {
            return Effect.succeed(codedAnswer(response, coding, undefined, () => withHeaders(response, recode)))
          }
          if (response.status !== 200 || etag === undefined) return Effect.succeed(withHeaders(response, addVary))
          const body = response.body
          if (body._tag === "Bytes") {
            return mapNow(compressedBody(file, etag, body.bytes, coding), (bytes) =>
              codedAnswer(response, coding, bytes, () => ({
                status: 200,
                headers: recode(response.headers).append("Content-Encoding", coding),
                body: { _tag: "Bytes", bytes }
              })))
          }
          const headers = recode(response.headers).append("Content-Encoding", coding)
          if (body._tag === "Stream") {
            return Effect.succeed({
              status: 200,
              headers,
              body: {
                _tag: "Stream",
                length: undefined,
                stream: compressStream(body.stream, coding),
                ...(body.unavailable === undefined ? {} : { unavailable: body.unavailable })
              }
            })
          }
          return Effect.succeed(withHeaders(response, addVary))
        }
      )

    /** The same answer object for the same response (see DevHandler's `finish`). */
    const varied = new WeakMap<Response.ServerResponse, Response.ServerResponse>()
    /** `type`: the file's, for a 304, which names none (RFC 9110 15.4.5: it carries its 200's Vary). */
    const varyIfCompressible = (response: Response.ServerResponse, type?: string): Response.ServerResponse => {
      const known = varied.get(response)
      if (known !== undefined) return known
      const typed = response.status === 304 ? type : response.headers.get("Content-Type")
      const answer =
        typed !== undefined && (response.status < 300 || response.status === 304) && compressibleType(typed)
          ? withHeaders(response, addVary)
          : response
      varied.set(response, answer)
      return answer
    }

    /** A response to a request that takes no coding: a 304's type is its file's, looked up only when not yet known. */
    const varyUncoded = (
      rawPath: string,
      response: Response.ServerResponse
    ): Effect.Effect<Response.ServerResponse> => {
      if (response.status !== 304 || varied.has(response)) return Effect.succeed(varyIfCompressible(response))
      return mapNow(
        fileAt(rawPath),
        (file) => varyIfCompressible(response, file === undefined ? undefined : typeOf(file))
      )
    }

    return (head) => {
      if (head.method !== "GET" && head.method !== "HEAD") return inner(head)
      const accept = head.headers.get("Accept-Encoding")
      const codings = acceptedCodings(accept, CODINGS)
      const rawPath = pathOfTarget(head.target)
      if (codings.length === 0 || rawPath === undefined) {
        if (!options.onTheFly) return inner(head)
        return rawPath === undefined
          ? mapNow(inner(head), (response) => varyIfCompressible(response))
          : flatMapNow(inner(head), (response) => varyUncoded(rawPath, response))
      }
      // a kept file's answer, its siblings known, is given at once (see effectNow.ts)
      return flatMapNow(fileAt(rawPath), (file) => {
        if (file === undefined) return inner(head)
        const type = typeOf(file)
        const siblingCoding = options.htmlSiblings || !/^text\/html\b/.test(type)
          ? sibling(rawPath, file, codings)
          : Effect.succeed(undefined)
        return flatMapNow(siblingCoding, (coding) => {
          if (coding !== undefined) return serveSibling(head, rawPath, coding, type)
          if (!options.onTheFly || !compressibleType(type)) return inner(head)
          if (file.size <= MIN_COMPRESSED_SIZE || head.headers.has("Range")) {
            return mapNow(inner(head), (response) => varyIfCompressible(response, type))
          }
          return compressOnTheFly(head, file, codings[0]!)
        })
      })
    }
  })

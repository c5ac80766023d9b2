import { Cause, Clock, Effect, Exit } from "effect"
import * as Mime from "mime-types"
import { flatMapNow, isDoneNow, mapNow } from "../effectNow.ts"
import {
  type ByteRange,
  chunkSize,
  type FileEntry,
  type FileError,
  type LookupOptions,
  StaticFiles
} from "../files/StaticFiles.ts"
import { decodeUrlPath } from "../files/urlPath.ts"
import { formatHttpDate } from "../http/date.ts"
import { Headers } from "../http/Headers.ts"
import type { RequestHead } from "../http/message.ts"
import { AccessLog } from "./AccessLog.ts"
import { notModified, rangeStillValid } from "./conditional.ts"
import { renderListing } from "./Listing.ts"
import { LogThrottle } from "./LogThrottle.ts"
import { parseRange } from "./Range.ts"
import * as ServerResponse from "./ServerResponse.ts"

export interface StaticOptions {
  readonly listing: boolean
  readonly dotfiles: boolean
}

const KNOWN_METHODS = new Set(["POST", "PUT", "DELETE", "CONNECT", "TRACE", "PATCH"])
/** What a 405 and an OPTIONS answer both list (RFC 9110 section 10.2.1). */
const ALLOW = new Headers([["Allow", "GET, HEAD, OPTIONS"]])
const RETRY_SOON = new Headers([["Retry-After", "1"]])
/** An unreadable file is logged once per this period, however often it is asked for. */
export const DENIED_LOG_PERIOD_MS = 60_000
/** Files logged as unreadable per period at most; more is said once, then not logged. */
export const DENIED_LOG_MAX_FILES = 100

/**
 * The path part of a request target, still percent-encoded and without the
 * query: origin-form as is, absolute-form without scheme and authority.
 * undefined for the asterisk and authority forms, which name no file.
 */
export const pathOfTarget = (target: string): string | undefined => {
  let path: string
  if (target.startsWith("/")) {
    path = target
  } else {
    const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target)
    if (authority === null) return undefined
    path = target.slice(authority[0].length)
    if (!path.startsWith("/")) path = "/" + path
  }
  const query = path.indexOf("?")
  return query === -1 ? path : path.slice(0, query)
}

/**
 * ETag from size and mtime (in milliseconds): changes whenever the file is
 * rewritten or replaced by another version, and is the same on every
 * machine serving the same files (no inode), so revalidation works behind a
 * load balancer. Strong: If-Range compares it byte for byte.
 */
export const etagOf = (file: FileEntry): string => `"${file.size.toString(16)}-${file.mtime.getTime().toString(16)}"`

const contentTypeOf = (path: string): string => {
  const name = path.slice(path.lastIndexOf("/") + 1)
  return Mime.contentType(name) || "application/octet-stream"
}

/** What a file entry's responses share, worked out once per entry. */
interface Description {
  readonly etag: string
  readonly lastModified: string
  readonly type: string
  /** The last 200 of the whole file (see `wholeFile`). */
  whole: (ServerResponse.ServerResponse & { readonly body: { readonly bytes: Uint8Array } }) | undefined
  /** The file's 304, one object for every request that revalidates it (kept serialized by the connection). */
  notModified: ServerResponse.ServerResponse | undefined
}

const fileHeaders = (description: Description): Array<[string, string]> => [
  ["Content-Type", description.type],
  ["Last-Modified", description.lastModified],
  ["ETag", description.etag],
  ["Accept-Ranges", "bytes"]
]

const decodeForDisplay = (rawPath: string): string => {
  try {
    return decodeURIComponent(rawPath)
  } catch {
    return rawPath
  }
}

export const make = (options: StaticOptions): Effect.Effect<ServerResponse.Handler, never, StaticFiles | AccessLog> =>
  Effect.gen(function*() {
    const files = yield* StaticFiles
    const log = yield* AccessLog
    const lookupOptions: LookupOptions = { dotfiles: options.dotfiles }

    /**
     * A body of `length` bytes at `range`: read at once when it fits one
     * chunk, so that head and body leave in one write; streamed otherwise.
     * HEAD reads nothing.
     */
    const bodyOf = (
      head: RequestHead,
      file: FileEntry,
      length: number,
      range?: ByteRange
    ): Effect.Effect<ServerResponse.Body, FileError> => {
      if (head.method === "HEAD" || length > chunkSize) {
        // the connection writes each chunk before it pulls the next (see ServerResponse.Body)
        return Effect.succeed({
          _tag: "Stream",
          length,
          stream: files.stream(file, range, { reuseBuffer: true }),
          unavailable: answerFileError(head)
        })
      }
      return mapNow(files.read(file, range), (bytes): ServerResponse.Body => ({ _tag: "Bytes", bytes }))
    }

    /**
     * The validators and type of an entry, worked out once per entry: the
     * file cache hands out the same entry for as long as the file is unchanged.
     */
    const described = new WeakMap<FileEntry, Description>()
    const describe = (file: FileEntry): Description => {
      let found = described.get(file)
      if (found === undefined) {
        found = {
          etag: etagOf(file),
          lastModified: formatHttpDate(file.mtime.getTime()),
          type: contentTypeOf(file.path),
          whole: undefined,
          notModified: undefined
        }
        described.set(file, found)
      }
      return found
    }

    /**
     * The 200 of a whole small file. The same bytes (the file cache hands out
     * the same buffer while the file is unchanged) get the same response
     * object, which the connection keeps serialized (see HttpConnection).
     */
    const wholeFile = (description: Description, bytes: Uint8Array): ServerResponse.ServerResponse => {
      const known = description.whole
      if (known !== undefined && known.body.bytes === bytes) return known
      const response = {
        status: 200,
        headers: new Headers(fileHeaders(description)),
        body: { _tag: "Bytes", bytes } as const
      }
      description.whole = response
      return response
    }

    /** When an overload was last logged (epoch ms): once a second is enough to say so. */
    let overloadLoggedAt = -Infinity

    const clock = yield* Effect.clock
    const deniedLogged = new LogThrottle(DENIED_LOG_PERIOD_MS, DENIED_LOG_MAX_FILES)
    /**
     * A file the server's user may not read is the operator's to fix: say
     * so on stderr, once per file per period (clients may ask in a loop).
     */
    const logDenied = (key: string, what: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        switch (deniedLogged.admit(key, Number(clock.unsafeCurrentTimeNanos()) / 1e6)) {
          case "yes":
            return log.error(`permission denied, answering 403: ${what}`)
          case "overflow":
            return log.error(
              `permission denied on more than ${DENIED_LOG_MAX_FILES} files within a minute: ` +
                "answering 403 without logging more of them for now"
            )
          case "no":
            return Effect.void
        }
      })
    /** The file a lookup found unreadable, as its path under the root (decoded, normalized). */
    const deniedLookup = (rawPath: string) => {
      const decoded = decodeUrlPath(rawPath, lookupOptions)
      const urlPath = decoded._tag === "Path" ? "/" + decoded.segments.join("/") : rawPath
      return Effect.as(logDenied(urlPath, `${urlPath} (under ${files.root})`), ServerResponse.errorPage(403))
    }

    /**
     * The answer to a file that could not be looked up or read: 403 when
     * refused, 503 when the process is out of descriptors (logged at most
     * once a second: an overload, not a bug), else 500, logged with its cause.
     */
    const answerFileError = (head: RequestHead) => (error: FileError): Effect.Effect<ServerResponse.ServerResponse> => {
      if (error.reason === "Denied") return Effect.as(logDenied(error.path, error.path), ServerResponse.errorPage(403))
      if (error.reason === "Overloaded") {
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const page = ServerResponse.errorPage(503, RETRY_SOON)
          if (now - overloadLoggedAt < 1000) return Effect.succeed(page)
          overloadLoggedAt = now
          return Effect.as(log.error(`out of file descriptors, answering 503: ${error.message}`), page)
        })
      }
      return Effect.as(
        log.error(`${head.method} ${head.target}: ${error.message}`, Cause.fail(error)),
        ServerResponse.errorPage(500)
      )
    }

    const serveFile = (head: RequestHead, file: FileEntry): Effect.Effect<ServerResponse.ServerResponse, FileError> => {
      const description = describe(file)
      const { etag, lastModified } = description
      if (notModified(head, file, etag)) {
        return Effect.succeed(
          description.notModified ??= {
            status: 304,
            headers: new Headers([["Last-Modified", lastModified], ["ETag", etag]]),
            body: ServerResponse.empty
          }
        )
      }
      const rangeHeader = head.headers.get("Range")
      if (rangeHeader === undefined && file.size <= chunkSize) {
        const whole = files.read(file)
        if (head.method !== "HEAD") return mapNow(whole, (bytes) => wholeFile(description, bytes))
        // HEAD reads nothing, but a file kept in memory answers it with its GET's response (no body is sent)
        if (isDoneNow(whole)) return Effect.succeed(wholeFile(description, whole.value))
      }
      const headers = fileHeaders(description)
      const range = rangeHeader !== undefined && rangeStillValid(head, file, etag)
        ? parseRange(rangeHeader, file.size)
        : { _tag: "None" as const }
      switch (range._tag) {
        case "Unsatisfiable":
          return Effect.succeed(ServerResponse.errorPage(416, new Headers([["Content-Range", `bytes */${file.size}`]])))
        case "Single": {
          const { end, start } = range
          headers.push(["Content-Range", `bytes ${start}-${end}/${file.size}`])
          return Effect.map(
            bodyOf(head, file, end - start + 1, { start, end }),
            (body) => ({ status: 206, headers: new Headers(headers), body })
          )
        }
        case "None":
          return Effect.map(
            bodyOf(head, file, file.size),
            (body) => ({ status: 200, headers: new Headers(headers), body })
          )
      }
    }

    /** A lookup's answer; a cached file's, with its lookup done at once, is an Exit (see effectNow.ts). */
    const serveGet = (head: RequestHead, rawPath: string): Effect.Effect<ServerResponse.ServerResponse> => {
      const answered = flatMapNow(
        files.lookup(rawPath, lookupOptions),
        (found): Effect.Effect<ServerResponse.ServerResponse, FileError> => {
          switch (found._tag) {
            case "File":
              return serveFile(head, found.file)
            case "Redirect": {
              const query = head.target.indexOf("?")
              const location = query === -1 ? found.location : found.location + head.target.slice(query)
              return Effect.succeed(ServerResponse.errorPage(301, new Headers([["Location", location]])))
            }
            case "Directory":
              return options.listing
                ? Effect.map(
                  files.list(found.path, lookupOptions),
                  (entries) => ServerResponse.html(200, renderListing(decodeForDisplay(rawPath), entries))
                )
                : Effect.succeed(ServerResponse.errorPage(404))
            case "NotFound":
              return Effect.succeed(ServerResponse.errorPage(404))
            case "Forbidden":
              return deniedLookup(rawPath)
          }
        }
      )
      return isDoneNow(answered) ? Exit.succeed(answered.value) : Effect.catchTags(answered, {
        InvalidPath: () => Effect.succeed(ServerResponse.errorPage(400)),
        FileError: answerFileError(head)
      })
    }

    return (head) => {
      const method = head.method
      if (method === "GET" || method === "HEAD") {
        const rawPath = pathOfTarget(head.target)
        return rawPath === undefined ? Effect.succeed(ServerResponse.errorPage(400)) : serveGet(head, rawPath)
      }
      if (method === "OPTIONS") {
        return Effect.succeed({ status: 204, headers: ALLOW, body: ServerResponse.empty })
      }
      return Effect.succeed(
        KNOWN_METHODS.has(method) ? ServerResponse.errorPage(405, ALLOW) : ServerResponse.errorPage(501)
      )
    }
  })

import type { FileSystem, Path } from "@effect/platform"
import { Deferred, Duration, Effect, PubSub, type Scope, Stream } from "effect"
import { watchTree } from "../files/TreeWatcher.ts"
import { Headers } from "../http/Headers.ts"
import type { RequestHead } from "../http/message.ts"
import { AccessLog } from "./AccessLog.ts"
import type * as Response from "./ServerResponse.ts"
import { pathOfTarget } from "./StaticHandler.ts"

/** The reserved path of the event stream; an ordinary path (404) without --watch. */
export const EVENTS_PATH = "/__fiberhttp/events"

export interface LiveReloadOptions {
  /** A burst of changes (a checkout, a build) is one reload once the tree has been quiet this long. */
  readonly debounceMs: number
  /** A comment line this often keeps proxies and the write watchdog from taking an idle stream for dead. */
  readonly heartbeatMs: number
}

export const defaults: LiveReloadOptions = { debounceMs: 150, heartbeatMs: 15_000 }

/** One debounced burst of changes: URL paths, and whether they are all stylesheets (swapped in place). */
export interface Change {
  readonly paths: ReadonlyArray<string>
  readonly cssOnly: boolean
}

export interface LiveReload {
  readonly changes: PubSub.PubSub<Change>
  /** Ends every event stream at once (the server is stopping). */
  readonly close: Effect.Effect<void>
  readonly streams: Stream.Stream<Uint8Array>
}

const encoder = new TextEncoder()

/** What the page runs: a stylesheet change swaps the matching <link>s, anything else reloads. */
const clientScript = `<script>/* fiberhttp --watch */(()=>{` +
  `const s=new EventSource(${JSON.stringify(EVENTS_PATH)});` +
  `s.addEventListener("reload",()=>location.reload());` +
  `s.addEventListener("css",(e)=>{const paths=JSON.parse(e.data);let n=0;` +
  `for(const l of document.querySelectorAll('link[rel~="stylesheet"]')){const u=new URL(l.href);` +
  `if(u.origin!==location.origin||!paths.includes(u.pathname))continue;n++;` +
  `const c=l.cloneNode();u.searchParams.set("fiberhttp-reload",String(Date.now()));c.href=u.href;` +
  `c.onload=c.onerror=()=>l.remove();l.after(c)}` +
  `if(n===0)location.reload()})})()</script>`
export const CLIENT_SCRIPT = encoder.encode(clientScript)

/** Where the script goes: before the last </body>, else the last </html>, else at the end. */
export const injectionPoint = (html: Uint8Array): number => {
  // markup is ASCII: latin1 keeps byte offsets equal to string offsets
  const text = Buffer.from(html.buffer, html.byteOffset, html.length).toString("latin1").toLowerCase()
  const body = text.lastIndexOf("</body")
  if (body !== -1) return body
  const end = text.lastIndexOf("</html")
  return end !== -1 ? end : html.length
}

export const inject = (html: Uint8Array): Uint8Array => {
  const at = injectionPoint(html)
  const out = new Uint8Array(html.length + CLIENT_SCRIPT.length)
  out.set(html.subarray(0, at))
  out.set(CLIENT_SCRIPT, at)
  out.set(html.subarray(at), at + CLIENT_SCRIPT.length)
  return out
}

const SUFFIX = "-lr"
/** The ETag of an injected page: the file's with a suffix, so that a cache never mixes the two. */
export const injectedEtag = (etag: string): string => (etag.endsWith("\"") ? `${etag.slice(0, -1)}${SUFFIX}"` : etag)

/** Paths that name a page: a directory (its index) or an .html/.htm file. */
const looksHtml = (rawPath: string): boolean => rawPath.endsWith("/") || /\.html?$/i.test(rawPath)

/**
 * The conditions as the file handler must read them: tags of the injected
 * form back to the file's. A page revalidated without such a tag was cached
 * without the script (before --watch): its conditions are dropped, so that
 * it is sent again, with the script.
 */
const forFile = (head: RequestHead, rawPath: string): RequestHead => {
  const inm = head.headers.get("If-None-Match")
  if (inm === undefined || !inm.includes(`${SUFFIX}"`)) {
    if (!looksHtml(rawPath) || (inm === undefined && !head.headers.has("If-Modified-Since"))) return head
    return { ...head, headers: head.headers.remove("If-None-Match").remove("If-Modified-Since") }
  }
  const tags = inm.split(",").map((tag) => tag.trim()).map((tag) =>
    tag.endsWith(`${SUFFIX}"`) ? `${tag.slice(0, -SUFFIX.length - 1)}"` : "\"-\""
  )
  return { ...head, headers: head.headers.set("If-None-Match", tags.join(", ")) }
}

const frame = (text: string) => encoder.encode(text)
const HELLO = frame("retry: 1000\n: fiberhttp live reload\n\n")
const PING = frame(": ping\n\n")
const eventOf = (change: Change) =>
  frame(`event: ${change.cssOnly ? "css" : "reload"}\ndata: ${JSON.stringify(change.paths)}\n\n`)

/** "/a b/c.css" for "a b/c.css": the URL path a page's <link href> resolves to. */
const urlPathOf = (relative: string) => "/" + relative.split("/").map(encodeURIComponent).join("/")

/**
 * Watches `root` for as long as the scope is open and publishes each
 * debounced burst of changes to every event stream. A watch that fails
 * (too many watches, a vanished root) is logged and live reload stops; the
 * server goes on.
 */
export const make = (
  root: string,
  options: LiveReloadOptions = defaults
): Effect.Effect<LiveReload, never, FileSystem.FileSystem | Path.Path | AccessLog | Scope.Scope> =>
  Effect.gen(function*() {
    const log = yield* AccessLog
    const changes = yield* Effect.acquireRelease(PubSub.unbounded<Change>(), PubSub.shutdown)
    const closed = yield* Deferred.make<void>()
    const pending = new Set<string>()
    const publish = Effect.suspend(() => {
      const paths = [...pending].map(urlPathOf)
      pending.clear()
      return paths.length === 0
        ? Effect.void
        : PubSub.publish(changes, { paths, cssOnly: paths.every((p) => p.toLowerCase().endsWith(".css")) })
    })
    yield* watchTree(root).pipe(
      Stream.tap((path) => Effect.sync(() => pending.add(path))),
      Stream.debounce(Duration.millis(options.debounceMs)),
      Stream.runForEach(() => publish),
      Effect.catchAllCause((cause) => log.error(`--watch: watching ${root} failed; live reload is off`, cause)),
      Effect.forkScoped
    )
    // every stream ends when the scope closes, whoever closes it first
    yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))

    const streams = Stream.unwrapScoped(Effect.map(PubSub.subscribe(changes), (subscription) =>
      Stream.concat(
        Stream.make(HELLO),
        Stream.merge(
          Stream.fromQueue(subscription).pipe(Stream.map(eventOf)),
          Stream.tick(Duration.millis(options.heartbeatMs)).pipe(Stream.drop(1), Stream.as(PING))
        )
      ).pipe(Stream.interruptWhen(Deferred.await(closed)))))

    return { changes, close: Deferred.succeed(closed, undefined).pipe(Effect.asVoid), streams }
  })

const isHtml = (response: Response.ServerResponse): boolean =>
  /^text\/html\b/i.test(response.headers.get("Content-Type") ?? "")

/**
 * The static handler with live reload: the event stream on EVENTS_PATH, and
 * the client script injected into HTML pages (200 answers to requests
 * without Range; their ETag marked, their length counting the script).
 */
export const wrap = (inner: Response.Handler, live: LiveReload): Response.Handler => {
  const events: Response.ServerResponse = {
    status: 200,
    headers: new Headers([
      ["Content-Type", "text/event-stream; charset=utf-8"],
      ["Cache-Control", "no-store"]
    ]),
    body: { _tag: "Stream", length: undefined, stream: live.streams }
  }
  return (head) => {
    if (head.method !== "GET" && head.method !== "HEAD") return inner(head)
    const rawPath = pathOfTarget(head.target)
    if (rawPath === EVENTS_PATH) return Effect.succeed(events)
    if (rawPath === undefined || head.headers.has("Range")) return inner(head)
    return Effect.map(inner(forFile(head, rawPath)), (response): Response.ServerResponse => {
      const etag = response.headers.get("ETag")
      const marked = etag === undefined ? response.headers : response.headers.set("ETag", injectedEtag(etag))
      if (response.status === 304) return etag === undefined ? response : { ...response, headers: marked }
      if (response.status !== 200 || !isHtml(response)) return response
      const body = response.body
      if (body._tag === "Bytes") {
        return { ...response, headers: marked, body: { _tag: "Bytes", bytes: inject(body.bytes) } }
      }
      if (body._tag === "Stream" && body.length !== undefined) {
        // a page too large to hold: the script goes at the end
        return {
          ...response,
          headers: marked,
          body: {
            ...body,
            length: body.length + CLIENT_SCRIPT.length,
            stream: Stream.concat(body.stream, Stream.make(CLIENT_SCRIPT))
          }
        }
      }
      return response
    })
  }
}

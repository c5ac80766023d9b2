import { Effect } from "effect"
import { flatMapNow } from "../effectNow.ts"
import { Headers } from "../http/Headers.ts"
import type { RequestHead } from "../http/message.ts"
import type * as Response from "./ServerResponse.ts"
import { pathOfTarget } from "./StaticHandler.ts"

/** What the development options add around the static handler. */
export interface DevHandlerOptions {
  /**
   * URL path served (status 200) for a GET/HEAD of a missing, extensionless
   * path whose Accept includes text/html (a single-page app's route).
   */
  readonly fallback?: string
  /** Access-Control-Allow-Origin: * on responses, and answers to CORS preflights. */
  readonly cors: boolean
  /** Cache-Control of files: max-age in seconds; undefined is no-cache, 0 is no-store. */
  readonly cacheSeconds?: number
  /** URL path whose file, when there is one, is the body of 404 responses. */
  readonly notFoundPage?: string
}

const PREFLIGHT_METHODS = "GET, HEAD"
/** Browsers keep a preflight's answer at most this long (Chromium caps it at two hours). */
const PREFLIGHT_MAX_AGE = "7200"

export const cacheControlOf = (cacheSeconds: number | undefined): string =>
  cacheSeconds === undefined ? "no-cache" : cacheSeconds === 0 ? "no-store" : `max-age=${cacheSeconds}`

/** Whether the last segment of a (still encoded) URL path has an extension: "app.js", not "users/42". */
const hasExtension = (rawPath: string): boolean => rawPath.slice(rawPath.lastIndexOf("/") + 1).includes(".")

const acceptsHtml = (head: RequestHead): boolean => {
  const accept = head.headers.get("Accept")
  return accept !== undefined && /(^|[\s,])text\/html(?=$|[\s;,])/i.test(accept)
}

/** The request for another path, keeping method, version and headers (minus those that would not fit). */
const retarget = (head: RequestHead, target: string, drop: ReadonlyArray<string>): RequestHead => {
  let headers = head.headers
  for (const name of drop) if (headers.has(name)) headers = headers.remove(name)
  return { ...head, target, headers }
}

const withHeaders = (response: Response.ServerResponse, extra: ReadonlyArray<readonly [string, string]>) =>
  extra.length === 0 ? response : { ...response, headers: new Headers([...response.headers.entries, ...extra]) }

/**
 * Wraps the static handler with the development options: SPA fallback,
 * the root's 404 page, Cache-Control and CORS. Each works on the inner
 * handler's answers, so every rule of the static handler (safe paths,
 * validators, ranges) applies to the fallback and the 404 page too.
 */
export const wrap = (inner: Response.Handler, options: DevHandlerOptions): Response.Handler => {
  const cacheControl = cacheControlOf(options.cacheSeconds)
  const corsHeaders: ReadonlyArray<readonly [string, string]> = options.cors
    ? [["Access-Control-Allow-Origin", "*"]]
    : []

  const preflight = (head: RequestHead): Response.ServerResponse => {
    const requested = head.headers.get("Access-Control-Request-Headers")
    const entries: Array<readonly [string, string]> = [
      ["Access-Control-Allow-Origin", "*"],
      ["Access-Control-Allow-Methods", PREFLIGHT_METHODS],
      ["Access-Control-Max-Age", PREFLIGHT_MAX_AGE],
      ["Vary", "Access-Control-Request-Headers"]
    ]
    if (requested !== undefined && requested.trim() !== "") {
      entries.push(["Access-Control-Allow-Headers", requested.trim()])
    }
    return { status: 204, headers: new Headers(entries), body: { _tag: "Empty" } }
  }

  /** The 404 page's file as the body of a 404, when there is one (its validators do not apply). */
  const notFound = (head: RequestHead, response: Response.ServerResponse): Effect.Effect<Response.ServerResponse> => {
    const page = options.notFoundPage
    if (page === undefined) return Effect.succeed(response)
    const plain: RequestHead = { ...head, method: "GET", target: page, headers: new Headers([["Host", "-"]]) }
    return Effect.map(inner(plain), (found) =>
      found.status === 200 && found.body._tag !== "Empty"
        ? {
          status: 404,
          headers: new Headers(found.headers.entries.filter(([name]) => /^content-type$/i.test(name))),
          body: found.body
        }
        : response)
  }

  /**
   * What `finish` made of each response the inner handler gave: one it
   * hands out again (a cached file's) gets the same answer object again,
   * which the connection keeps serialized.
   */
  const finished = new WeakMap<Response.ServerResponse, Response.ServerResponse>()
  /** Adds what every answer of the file server gets: caching on successes, CORS on all. */
  const finish = (response: Response.ServerResponse): Response.ServerResponse => {
    const known = finished.get(response)
    if (known !== undefined) return known
    const status = response.status
    const cacheable = (status >= 200 && status < 300) || status === 304
    const caching = cacheable && !response.headers.has("Cache-Control")
    const answer = withHeaders(response, caching ? [["Cache-Control", cacheControl], ...corsHeaders] : corsHeaders)
    finished.set(response, answer)
    return answer
  }

  return (head) => {
    const method = head.method
    if (method === "OPTIONS" && options.cors && head.headers.has("Access-Control-Request-Method")) {
      return Effect.succeed(preflight(head))
    }
    if (method !== "GET" && method !== "HEAD") return Effect.map(inner(head), finish)
    // a response given at once is finished at once (see effectNow.ts)
    return flatMapNow(inner(head), (response) => {
      if (response.status !== 404) return Effect.succeed(finish(response))
      const rawPath = pathOfTarget(head.target)
      if (
        options.fallback !== undefined && rawPath !== undefined && !hasExtension(rawPath) && acceptsHtml(head)
      ) {
        return Effect.flatMap(
          inner(retarget(head, options.fallback, ["Range", "If-Range"])),
          (fallback) => fallback.status === 404 ? notFound(head, response) : Effect.succeed(fallback)
        ).pipe(Effect.map(finish))
      }
      return Effect.map(notFound(head, response), finish)
    })
  }
}

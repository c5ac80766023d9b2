import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { FileSystem, type Path } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Console, Effect, Layer, Option, type Scope } from "effect"
import * as NodeParcelWatch from "../files/NodeParcelWatch.ts"
import { StaticFiles } from "../files/StaticFiles.ts"
import * as NodeTlsSocketServer from "../net/NodeTlsSocketServer.ts"
import { SocketServer } from "../net/SocketServer.ts"
import type { AccessLog } from "../server/AccessLog.ts"
import * as Compression from "../server/Compression.ts"
import * as DevHandler from "../server/DevHandler.ts"
import * as LiveReload from "../server/LiveReload.ts"
import type * as Server from "../server/Server.ts"
import type * as Response from "../server/ServerResponse.ts"
import type { OptionSpec } from "./argv.ts"
import { ExitCode } from "./ExitCode.ts"

export { openBrowser } from "./openBrowser.ts"

/** The server's development options: HTTPS, single-page apps, CORS, caching, compression, live reload. */
export const options = {
  tlsCert: Options.text("tls-cert").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("Serve HTTPS with this PEM certificate (chain); needs --tls-key."),
    Options.optional
  ),
  tlsKey: Options.text("tls-key").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("The PEM private key of --tls-cert (unencrypted)."),
    Options.optional
  ),
  spa: Options.boolean("spa").pipe(
    Options.withDescription(
      "Single-page app: a GET for a missing path without an extension, from a browser (Accept: text/html), gets /index.html."
    )
  ),
  fallback: Options.text("fallback").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription("As --spa, with this file (a path under the root) instead of index.html."),
    Options.optional
  ),
  cors: Options.boolean("cors").pipe(
    Options.withDescription("Access-Control-Allow-Origin: * on responses; answer CORS preflights (GET, HEAD).")
  ),
  cache: Options.integer("cache").pipe(
    Options.withPseudoName("SECONDS"),
    Options.withDescription(
      "Cache-Control: max-age=SECONDS on files (default no-cache: always revalidate; 0: no-store)."
    ),
    Options.optional,
    Options.mapEffect((value) =>
      Option.isNone(value) || (value.value >= 0 && value.value <= 31536000)
        ? Effect.succeed(value)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p("--cache must be 0 to 31536000 (seconds)")))
    )
  ),
  open: Options.boolean("open").pipe(
    Options.withDescription("Open the first URL in the default browser (ignored without a display).")
  ),
  compress: Options.boolean("compress").pipe(
    Options.withDescription(
      "Compress text files over 1 KiB on the fly (brotli or gzip, as the client accepts); on by default."
    )
  ),
  noCompress: Options.boolean("no-compress").pipe(
    Options.withDescription("No on-the-fly compression (precompressed .br/.gz files are still served).")
  ),
  watch: Options.boolean("watch").pipe(
    Options.withDescription(
      "Live reload: watch the root; pages reload when a file changes, stylesheets are swapped in place."
    )
  )
}

/** How these options may be spelled on the command line (see argv.ts). */
export const optionSpecs: ReadonlyArray<OptionSpec> = [
  { name: "tls-cert", value: true },
  { name: "tls-key", value: true },
  { name: "spa", value: false },
  { name: "fallback", value: true },
  { name: "cors", value: false },
  { name: "cache", value: true, integer: true },
  { name: "open", value: false },
  { name: "compress", value: false },
  { name: "no-compress", value: false },
  { name: "watch", value: false }
]

export interface DevConfig {
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly spa: boolean
  readonly fallback: Option.Option<string>
  readonly cors: boolean
  readonly cache: Option.Option<number>
  readonly open: boolean
  readonly noCompress: boolean
  readonly watch: boolean
}

/** The URL path of a file named on the command line relative to the root ("app shell.html" -> "/app%20shell.html"). */
export const urlPathOf = (file: string): string =>
  "/" + file.split(/[\\/]+/).filter((segment) => segment !== "" && segment !== ".").map(encodeURIComponent).join("/")

export interface WrappedHandler {
  readonly handler: Response.Handler
  /**
   * Ends the live-reload event streams: run before the server drains, so
   * that they do not wait out the grace period like responses in flight.
   */
  readonly endStreams: Effect.Effect<void>
}

/** The static handler wrapped with the development options; live reload watches for as long as the scope is open. */
export const wrapHandler = (
  handler: Response.Handler,
  config: DevConfig,
  settings: { readonly dotfiles: boolean; readonly fileCacheBytes: number; readonly writeTimeoutMs: number }
): Effect.Effect<WrappedHandler, never, StaticFiles | FileSystem.FileSystem | Path.Path | AccessLog | Scope.Scope> =>
  Effect.gen(function*() {
    let inner = handler
    let endStreams: Effect.Effect<void> = Effect.void
    if (config.watch) {
      const files = yield* StaticFiles
      const live = yield* LiveReload.make(files.root, {
        ...LiveReload.defaults,
        // a heartbeat well within the write timeout, which an idle stream must not trip
        heartbeatMs: Math.min(LiveReload.defaults.heartbeatMs, Math.max(100, Math.floor(settings.writeTimeoutMs / 3)))
      }).pipe(
        // the watch through @parcel/watcher: see scratchpad/studies/watcher.ts for why
        Effect.provide(
          NodeParcelWatch.available()
            ? NodeFileSystem.layer.pipe(Layer.provide(NodeParcelWatch.layer))
            : NodeFileSystem.layer
        )
      )
      inner = LiveReload.wrap(inner, live)
      endStreams = live.close
    }
    const compressed = yield* Compression.wrap(inner, {
      onTheFly: !config.noCompress,
      dotfiles: settings.dotfiles,
      // compressed copies take a quarter of the file cache's budget
      cacheBytes: Math.floor(settings.fileCacheBytes / 4),
      // a precompressed page would go out without the live-reload script
      htmlSiblings: !config.watch
    })
    const fallback = Option.isSome(config.fallback)
      ? urlPathOf(config.fallback.value)
      : config.spa
      ? "/index.html"
      : undefined
    return {
      handler: DevHandler.wrap(compressed, {
        cors: config.cors,
        notFoundPage: "/404.html",
        ...(fallback === undefined ? {} : { fallback }),
        ...(Option.isSome(config.cache) ? { cacheSeconds: config.cache.value } : {})
      }),
      endStreams
    }
  })

/** http or https, by whether a certificate was given. */
export const schemeOf = (config: DevConfig): "http" | "https" => (Option.isSome(config.tlsCert) ? "https" : "http")

export const urlOf = (scheme: string, { host, port }: Server.BoundAddress): string =>
  host.includes(":") ? `${scheme}://[${host}]:${port}/` : `${scheme}://${host}:${port}/`

const fail = (message: string) =>
  Effect.zipRight(Console.error(`fiberhttp server: ${message}`), new ExitCode({ code: 1 }))

const usage = (message: string) =>
  Effect.zipRight(Console.error(`fiberhttp server: ${message}`), new ExitCode({ code: 2 }))

/** Checks that the options fit together (usage errors, exit 2). */
export const validate = (config: DevConfig): Effect.Effect<void, ExitCode> => {
  if (Option.isSome(config.tlsCert) !== Option.isSome(config.tlsKey)) {
    return usage("--tls-cert and --tls-key go together: give both or neither")
  }
  return Effect.void
}

/**
 * The listeners: plain TCP, or TLS with the certificate and key read now;
 * an unreadable file or a key that does not fit the certificate is exit 1
 * with a message naming the file or the mismatch.
 */
export const socketServerLayer = (
  config: DevConfig
): Effect.Effect<Layer.Layer<SocketServer, never, SocketServer>, ExitCode, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    // plain TCP: the environment's listeners, as they are
    if (Option.isNone(config.tlsCert) || Option.isNone(config.tlsKey)) return Layer.effect(SocketServer, SocketServer)
    const fs = yield* FileSystem.FileSystem
    const readPem = (option: string, file: string) =>
      fs.readFile(file).pipe(
        Effect.catchAll((error) =>
          fail(
            `cannot read ${option} ${file}: ${
              error._tag === "SystemError" ? error.reason === "NotFound" ? "no such file" : error.reason : error.message
            }`
          )
        )
      )
    const certFile = config.tlsCert.value
    const keyFile = config.tlsKey.value
    const cert = yield* readPem("--tls-cert", certFile)
    const key = yield* readPem("--tls-key", keyFile)
    const server = yield* NodeTlsSocketServer.make({ cert, key }).pipe(
      Effect.catchTag("TlsConfigError", (error) =>
        fail(
          error.part === "cert"
            ? `cannot use --tls-cert ${certFile}: ${error.message}`
            : error.part === "key"
            ? `cannot use --tls-key ${keyFile}: ${error.message}`
            : `cannot use --tls-cert ${certFile} with --tls-key ${keyFile}: ${error.message}`
        ))
    )
    return Layer.succeed(SocketServer, server)
  })

declare const __FIBERHTTP_VERSION__: string | undefined

/** The package version, injected by the bundler; tests run from source see "dev". */
export const VERSION: string = typeof __FIBERHTTP_VERSION__ === "string" ? __FIBERHTTP_VERSION__ : "dev"

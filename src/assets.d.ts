/** A file's text, bundled (esbuild's text loader; Vite's `?raw`). */
declare module "*?raw" {
  const text: string
  export default text
}

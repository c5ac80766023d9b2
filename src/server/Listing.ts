import type { DirectoryEntry } from "../files/StaticFiles.ts"

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\"": "&quot;",
  "'": "&#39;"
}

const SPECIAL = /[&<>"']/
const SPECIALS = /[&<>"']/g

/** Most names have nothing to escape: those are tested, not rewritten. */
export const escapeHtml = (text: string): string =>
  SPECIAL.test(text) ? text.replace(SPECIALS, (c) => ESCAPES[c]!) : text

const formatSize = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

const twoDigits = (n: number): string => (n < 10 ? "0" + n : String(n))

/** "2026-11-26 00:49" (UTC); from the fields rather than toISOString, several times cheaper per row. */
const formatDate = (date: Date): string =>
  `${date.getUTCFullYear()}-${twoDigits(date.getUTCMonth() + 1)}-${twoDigits(date.getUTCDate())} ${
    twoDigits(date.getUTCHours())
  }:${twoDigits(date.getUTCMinutes())}`

/** What an href needs beyond encodeURIComponent: nothing, for names of letters, digits and "-._~". */
const PLAIN_NAME = /^[A-Za-z0-9._~-]*$/
const hrefOf = (name: string): string => (PLAIN_NAME.test(name) ? name : escapeHtml(encodeURIComponent(name)))

const byDirectoryThenName = (a: DirectoryEntry, b: DirectoryEntry): number =>
  a.isDirectory !== b.isDirectory ? (a.isDirectory ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** An HTML index of a directory: directories first, then files, each sorted by name; every name escaped. */
export const renderListing = (urlPath: string, entries: ReadonlyArray<DirectoryEntry>): string => {
  const title = `Index of ${escapeHtml(urlPath)}`
  const rows = [...entries].sort(byDirectoryThenName).map((entry) => {
    const suffix = entry.isDirectory ? "/" : ""
    const size = entry.isDirectory ? "-" : formatSize(entry.size)
    return `<tr><td><a href="${hrefOf(entry.name)}${suffix}">${escapeHtml(entry.name)}${suffix}</a></td>` +
      `<td title="${entry.isDirectory ? "" : `${entry.size} bytes`}">${size}</td><td>${
        formatDate(entry.mtime)
      }</td></tr>`
  })
  const parent = urlPath === "/" ? "" : `<tr><td><a href="../">../</a></td><td></td><td></td></tr>\n`
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1.5em .2em 0}td:nth-child(2){text-align:right}</style>
</head><body><h1>${title}</h1>
<table><thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead><tbody>
${parent}${rows.join("\n")}
</tbody></table></body></html>
`
}

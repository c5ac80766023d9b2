import { describe, expect, it } from "@effect/vitest"
import { renderListing } from "../../src/server/Listing.ts"

describe("renderListing", () => {
  const entry = (name: string, isDirectory = false, mtime = Date.UTC(2026, 10, 26, 0, 49, 59)) => ({
    name,
    isDirectory,
    size: 1536,
    mtime: new Date(mtime)
  })

  it("rows: the href percent-encoded (plain names as they are), the text escaped, size and UTC minute", () => {
    const page = renderListing("/d/", [
      entry("plain-name_1.txt"),
      entry("a b&<\"'>.txt"),
      entry("back\\slash", true, Date.UTC(2001, 0, 2, 3, 4)),
      entry("été.txt")
    ])
    expect(page).toContain(
      `<tr><td><a href="back%5Cslash/">back\\slash/</a></td><td title="">-</td><td>2001-01-02 03:04</td></tr>`
    )
    expect(page).toContain(
      `<a href="plain-name_1.txt">plain-name_1.txt</a></td><td title="1536 bytes">1.5 KiB</td><td>2026-11-26 00:49</td>`
    )
    expect(page).toContain(`<a href="a%20b%26%3C%22&#39;%3E.txt">a b&amp;&lt;&quot;&#39;&gt;.txt</a>`)
    expect(page).toContain(`<a href="%C3%A9t%C3%A9.txt">été.txt</a>`)
    // directories first, then files by code unit
    const order = [...page.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1])
    expect(order).toEqual([
      "../",
      "back%5Cslash/",
      "a%20b%26%3C%22&#39;%3E.txt",
      "plain-name_1.txt",
      "%C3%A9t%C3%A9.txt"
    ])
  })
})

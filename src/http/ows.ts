/** OWS: SP or HTAB (RFC 9110 5.6.3), and nothing else. */
export const isOws = (c: number): boolean => c === 0x20 || c === 0x09

/**
 * `text` without leading and trailing OWS (SP and HTAB, RFC 9110 5.6.3).
 * String.prototype.trim would also strip NBSP, line breaks and other
 * Unicode spaces, letting through values a strict reader refuses.
 */
export const trimOws = (text: string): string => {
  // charCodeAt past either end is NaN, which is not OWS: both scans stop there.
  let start = 0
  while (isOws(text.charCodeAt(start))) start++
  let end = text.length
  while (isOws(text.charCodeAt(end - 1))) end--
  // All OWS: end (0) is below start, and slice gives "".
  return text.slice(start, end)
}

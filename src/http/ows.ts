/** OWS: SP or HTAB (RFC 9110 5.6.3), and nothing else. */
export const isOws = (c: number): boolean => c === 0x20 || c === 0x09

/**
 * `text` without leading and trailing OWS (SP and HTAB, RFC 9110 5.6.3).
 * String.prototype.trim would also strip NBSP, line breaks and other
 * Unicode spaces, letting through values a strict reader refuses.
 */
export const trimOws = (text: string): string => {
  let start = 0
  let end = text.length
  while (start < end && isOws(text.charCodeAt(start))) start++
  while (end > start && isOws(text.charCodeAt(end - 1))) end--
  return start === 0 && end === text.length ? text : text.slice(start, end)
}

/**
 * HTTP-date (RFC 9110 section 5.6.7): written as IMF-fixdate, read as
 * IMF-fixdate or either obsolete form (RFC 850, asctime). Times are
 * milliseconds since the epoch; HTTP-dates carry whole seconds.
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const
const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] as const
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const

const two = (n: number): string => (n < 10 ? "0" + n : String(n))
const four = (n: number): string => String(n).padStart(4, "0")

/** `Sun, 06 Nov 1994 08:49:37 GMT` for `time` (a Date or epoch milliseconds). */
export const formatHttpDate = (time: Date | number): string => {
  const d = new Date(time)
  return (
    `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${four(d.getUTCFullYear())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`
  )
}

const day = DAYS.join("|")
const month = MONTHS.join("|")
const time = "(\\d{2}):(\\d{2}):(\\d{2})"
const IMF_FIXDATE = new RegExp(`^(?:${day}), (\\d{2}) (${month}) (\\d{4}) ${time} GMT$`)
const RFC_850 = new RegExp(`^(?:${LONG_DAYS.join("|")}), (\\d{2})-(${month})-(\\d{2}) ${time} GMT$`)
const ASCTIME = new RegExp(`^(?:${day}) (${month}) ( \\d|\\d{2}) ${time} (\\d{4})$`)

/**
 * Epoch milliseconds of an HTTP-date in any of its three forms, or undefined
 * for anything else (including impossible dates such as 31 Feb). A two-digit
 * RFC 850 year is taken as the latest year with those digits that is at most
 * 50 years after `now` (RFC 9110); without `now`, 70-99 are 19xx and 00-69 20xx.
 */
export const parseHttpDate = (text: string, now?: number): number | undefined => {
  let m = IMF_FIXDATE.exec(text)
  if (m !== null) return build(+m[3]!, m[2]!, +m[1]!, +m[4]!, +m[5]!, +m[6]!)
  m = RFC_850.exec(text)
  if (m !== null) return build(fullYear(+m[3]!, now), m[2]!, +m[1]!, +m[4]!, +m[5]!, +m[6]!)
  m = ASCTIME.exec(text)
  if (m !== null) return build(+m[6]!, m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!)
  return undefined
}

const fullYear = (yy: number, now: number | undefined): number => {
  if (now === undefined) return yy >= 70 ? 1900 + yy : 2000 + yy
  const current = new Date(now).getUTCFullYear()
  let year = current - (current % 100) + yy
  if (year > current + 50) year -= 100
  return year
}

const build = (
  year: number,
  monthName: string,
  date: number,
  hours: number,
  minutes: number,
  seconds: number
): number | undefined => {
  const month = MONTHS.indexOf(monthName as (typeof MONTHS)[number])
  if (hours > 23 || minutes > 59 || seconds > 60) return undefined
  const d = new Date(0)
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  d.setUTCFullYear(year, month, date)
  // a day the month does not have (00, 31 Feb) rolls over into another month
  if (d.getUTCDate() !== date) return undefined
  d.setUTCHours(hours, minutes, seconds, 0)
  return d.getTime()
}

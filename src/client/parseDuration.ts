import { Either } from "effect"

const units: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 }

/**
 * A duration on the command line, in milliseconds: "250ms", "1.5s", "2m", or a
 * bare number of seconds as curl takes for --max-time and --connect-timeout.
 */
export const parseDuration = (text: string): Either.Either<number, string> => {
  const match = /^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(ms|s|m)?$/.exec(text.trim())
  if (match === null) return Either.left(`"${text}" is not a duration (like 500ms, 2s, 1.5, 1m)`)
  return Either.right(Number(match[1]) * units[match[2] ?? "s"]!)
}

/**
 * A command's options as the command line may spell them, checked before
 * @effect/cli sees them. @effect/cli takes an unknown `--flag` as a
 * positional (the server's repeated port then says `'--lisitng' is not a
 * integer`), loses all but one of some grouped short flags, and does not split
 * `--header=X: y`; here every spelling curl users write is turned into the
 * one form @effect/cli reads without surprise, or refused with the reason.
 */
export interface OptionSpec {
  /** Long name without the dashes: "header". */
  readonly name: string
  readonly aliases?: ReadonlyArray<string>
  /** One letter: "H". */
  readonly short?: string
  /** Takes a value (the next word, `--name=value`, or `-Xvalue`). */
  readonly value: boolean
  /** May be given more than once (each value kept); a boolean given twice is accepted as once. */
  readonly repeatable?: boolean
  /** The value must be a whole number (checked here, so that the message names the option). */
  readonly integer?: boolean
  /**
   * The value may be left out, and is then this; given, it is written
   * `--name=value` (a word after the option stays a positional).
   */
  readonly optionalValue?: string
}

/** @effect/cli's own options, passed on as they are (and whether they take a value). */
const builtIns = new Map<string, boolean>([
  ["--help", false],
  ["-h", false],
  ["--version", false],
  ["--wizard", false],
  ["--completions", true],
  ["--log-level", true]
])

const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

/** "did you mean --listing?" for a long option within two edits of a known one (or a prefix of one). */
export const suggestion = (given: string, specs: ReadonlyArray<OptionSpec>): string => {
  const bare = given.replace(/^-+/, "").split("=")[0]!.toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const spec of specs) {
    for (const name of [spec.name, ...(spec.aliases ?? [])]) {
      const d = name.startsWith(bare) && bare.length >= 3 ? 1 : distance(bare, name)
      if (d < bestDistance) {
        bestDistance = d
        best = name
      }
    }
  }
  return best === undefined ? "" : ` (did you mean --${best}?)`
}

export type Normalized =
  | { readonly _tag: "Args"; readonly args: Array<string> }
  | { readonly _tag: "Usage"; readonly message: string }

/**
 * The words after the subcommand, normalized: grouped short flags split
 * (`-kbL` → `-k -b -L`, `-XPOST` → `-X POST`), `--name=value` split for
 * options that take a value, a boolean given twice kept once, a value
 * option given twice refused (unless repeatable), an unknown option refused
 * with the nearest known one. Positionals (and everything after `--`) pass
 * through; `-` alone is a positional.
 */
export const normalize = (words: ReadonlyArray<string>, specs: ReadonlyArray<OptionSpec>): Normalized => {
  const byLong = new Map<string, OptionSpec>()
  const byShort = new Map<string, OptionSpec>()
  for (const spec of specs) {
    byLong.set(spec.name, spec)
    for (const alias of spec.aliases ?? []) byLong.set(alias, spec)
    if (spec.short !== undefined) byShort.set(spec.short, spec)
  }
  const out: Array<string> = []
  const seen = new Set<OptionSpec>()
  const usage = (message: string): Normalized => ({ _tag: "Usage", message })
  /** Records one use of `spec`, given as `spelled`, with its value if it takes one. */
  const use = (spec: OptionSpec, spelled: string, value: string | undefined): Normalized | undefined => {
    if (seen.has(spec) && !spec.repeatable) {
      if (!spec.value) return undefined
      return usage(`option ${spelled} given more than once`)
    }
    seen.add(spec)
    if (!spec.value) {
      // the explicit form: a number after an on/off option stays a positional (`server --quiet 0`)
      out.push(`--${spec.name}=true`)
      return undefined
    }
    if (spec.integer === true && !/^-?[0-9]+$/.test(value!)) {
      return usage(`option ${spelled}: ${JSON.stringify(value)} is not an integer`)
    }
    out.push(`--${spec.name}`, value!)
    return undefined
  }
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (word === "--") {
      out.push(...words.slice(i))
      break
    }
    if (!word.startsWith("-") || word === "-") {
      out.push(word)
      continue
    }
    if (builtIns.has(word)) {
      out.push(word)
      if (builtIns.get(word) === true && i + 1 < words.length) out.push(words[++i]!)
      continue
    }
    if (word.startsWith("--")) {
      const eq = word.indexOf("=")
      const name = (eq < 0 ? word : word.slice(0, eq)).slice(2)
      const spec = byLong.get(name)
      if (spec === undefined) {
        if (builtIns.has(`--${name}`)) {
          out.push(word)
          continue
        }
        return usage(`unknown option --${name}${suggestion(word, specs)}`)
      }
      if (!spec.value) {
        if (eq >= 0) {
          const flag = word.slice(eq + 1).toLowerCase()
          if (!["true", "false", "yes", "no", "on", "off", "1", "0"].includes(flag)) {
            return usage(`option --${name} is on/off: give it alone, or as --${name}=true / --${name}=false`)
          }
          if (seen.has(spec)) continue
          seen.add(spec)
          out.push(`--${spec.name}=${flag}`)
          continue
        }
        const failed = use(spec, word, undefined)
        if (failed) return failed
        continue
      }
      let value: string
      if (eq >= 0) value = word.slice(eq + 1)
      else if (spec.optionalValue !== undefined) value = spec.optionalValue
      else if (i + 1 < words.length) value = words[++i]!
      else return usage(`option --${name} needs a value`)
      const failed = use(spec, `--${name}`, value)
      if (failed) return failed
      continue
    }
    // one or more short options: -k, -kbL, -XPOST, -kX POST, -o-
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!
      const spec = byShort.get(letter)
      if (spec === undefined) {
        if (/^-\d/.test(word)) return usage(`unknown option ${word} (a negative number is not a port or a value here)`)
        return usage(
          word.length === 2 ? `unknown option ${word}` : `unknown option -${letter} in ${word}`
        )
      }
      if (!spec.value) {
        const failed = use(spec, `-${letter}`, undefined)
        if (failed) return failed
        continue
      }
      let value: string
      if (j + 1 < word.length) value = word.slice(j + 1)
      else if (i + 1 < words.length) value = words[++i]!
      else return usage(`option -${letter} needs a value`)
      const failed = use(spec, `-${letter}`, value)
      if (failed) return failed
      break
    }
  }
  return { _tag: "Args", args: out }
}

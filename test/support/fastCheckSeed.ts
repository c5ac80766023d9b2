import * as fc from "fast-check"

/**
 * One seed for every fast-check property in a run. FC_SEED repeats a run (the
 * mutation run sets it, so each mutant meets the same inputs); without it the
 * seed is fresh each run and fast-check prints it with any counterexample.
 */
const fixed = process.env.FC_SEED
if (fixed !== undefined && fixed !== "") {
  const seed = Number(fixed)
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(fixed)}`)
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed })
}

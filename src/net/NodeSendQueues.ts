import { Clock, Deferred, Duration, Effect, FiberId, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"

/**
 * The kernel's send queue of TCP sockets, read on Linux from /proc/net/tcp
 * and /proc/net/tcp6 (`tx_queue`: bytes written and not yet acknowledged by
 * the peer). Node offers no per-socket call for it (SIOCOUTQ, TCP_INFO), and
 * reading those files walks every TCP socket of the network namespace
 * (milliseconds to tens of milliseconds with thousands of sockets), so:
 * reads are asynchronous, one read serves every socket asked about while it
 * was pending, and a read starts at most once per READ_SPACING_MS. A sample
 * always comes from a read begun after it was asked for, so two samples
 * asked for at different times never come from the same read.
 *
 * Elsewhere (no /proc) every sample is None.
 */
export interface SendQueues {
  /** Bytes in the send queue of the socket with this local and remote address; None when it cannot be told. */
  readonly sample: (socket: SocketAddresses) => Effect.Effect<Option.Option<number>>
}

export interface SocketAddresses {
  readonly localAddress?: string | undefined
  readonly localPort?: number | undefined
  readonly remoteAddress?: string | undefined
  readonly remotePort?: number | undefined
}

/** Reads of /proc/net/tcp start at most this often. */
export const READ_SPACING_MS = 250

const littleEndian = os.endianness() === "LE"

const hex2 = (byte: number) => byte.toString(16).toUpperCase().padStart(2, "0")

/** Four bytes as /proc prints a 32-bit word of an address: the word in host byte order. */
const word = (bytes: ReadonlyArray<number>, at: number): string => {
  const four = bytes.slice(at, at + 4)
  return (littleEndian ? four.reverse() : four).map(hex2).join("")
}

const ipv4Bytes = (address: string): Array<number> | undefined => {
  const parts = address.split(".")
  if (parts.length !== 4) return undefined
  const bytes = parts.map(Number)
  return bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255) ? bytes : undefined
}

const ipv6Bytes = (address: string): Array<number> | undefined => {
  const bare = address.split("%")[0]!
  const [head, tail, ...rest] = bare.split("::")
  if (rest.length > 0 || head === undefined) return undefined
  const groups = (text: string | undefined): Array<number> | undefined => {
    if (text === undefined || text === "") return []
    const out: Array<number> = []
    const pieces = text.split(":")
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = ipv4Bytes(piece)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        const value = Number.parseInt(piece, 16)
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined
        out.push(value)
      }
    }
    return out
  }
  const front = groups(head)
  const back = groups(tail)
  if (front === undefined || back === undefined) return undefined
  const missing = 8 - front.length - back.length
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined
  const all = [...front, ...Array<number>(Math.max(0, missing)).fill(0), ...back]
  return all.flatMap((g) => [g >> 8, g & 0xff])
}

/** An endpoint as /proc/net/tcp{,6} writes it ("0100007F:1F90"), and which of the two files has it. */
const endpointKey = (address: string, port: number): { readonly key: string; readonly v6: boolean } | undefined => {
  const p = port.toString(16).toUpperCase().padStart(4, "0")
  const v4 = ipv4Bytes(address)
  if (v4 !== undefined) return { key: `${word(v4, 0)}:${p}`, v6: false }
  const v6 = ipv6Bytes(address)
  if (v6 === undefined) return undefined
  return { key: `${word(v6, 0)}${word(v6, 4)}${word(v6, 8)}${word(v6, 12)}:${p}`, v6: true }
}

/** "LOCAL REMOTE" as on a line of /proc/net/tcp{,6}, or undefined when the socket has no addresses (closed). */
export const socketKey = (socket: SocketAddresses): { readonly key: string; readonly v6: boolean } | undefined => {
  const { localAddress, localPort, remoteAddress, remotePort } = socket
  if (localAddress === undefined || remoteAddress === undefined) return undefined
  if (localPort === undefined || remotePort === undefined) return undefined
  const local = endpointKey(localAddress, localPort)
  const remote = endpointKey(remoteAddress, remotePort)
  if (local === undefined || remote === undefined || local.v6 !== remote.v6) return undefined
  return { key: `${local.key} ${remote.key}`, v6: local.v6 }
}

/**
 * The tx_queue of the lines whose "LOCAL REMOTE" is in `wanted`. A line:
 * `  sl  local_address rem_address   st tx_queue:rx_queue ...`.
 */
export const parseSendQueues = (text: string, wanted: ReadonlySet<string>, into: Map<string, number>): void => {
  let at = text.indexOf("\n") + 1
  while (at > 0 && at < text.length) {
    const end = text.indexOf("\n", at)
    const line = text.slice(at, end < 0 ? text.length : end)
    at = end < 0 ? text.length : end + 1
    const colon = line.indexOf(": ")
    if (colon < 0) continue
    const fields = line.slice(colon + 2).trim().split(/\s+/)
    if (fields.length < 4) continue
    const key = `${fields[0]} ${fields[1]}`
    if (!wanted.has(key)) continue
    const queue = Number.parseInt(fields[3]!.split(":")[0]!, 16)
    // a tuple in TIME_WAIT (06) beside a live one: the live one's queue is wanted
    if (Number.isFinite(queue) && (!into.has(key) || fields[2] !== "06")) into.set(key, queue)
  }
}

const readText = (path: string) =>
  Effect.async<string | undefined>((resume) => {
    fs.readFile(path, "latin1", (error, text) => resume(Effect.succeed(error ? undefined : text)))
  })

export const make = (): SendQueues => {
  interface Round {
    readonly v4: Set<string>
    readonly v6: Set<string>
    readonly done: Deferred.Deferred<Map<string, number> | undefined>
  }
  /** The round that the next read will serve: requests gather here until it starts. */
  let next: Round | undefined
  /** When the last read started (monotonic ms). */
  let lastStart = -Infinity
  /** Once /proc turned out not to be there: no more reads. */
  let unavailable = process.platform !== "linux"

  const readInto = (path: string, wanted: ReadonlySet<string>, result: Map<string, number>) =>
    Effect.map(readText(path), (text) => {
      if (text === undefined) return false
      parseSendQueues(text, wanted, result)
      return true
    })

  /** Waits out the spacing, closes the round to newcomers, reads, and hands every requester the result. */
  const lead = (round: Round) =>
    Effect.gen(function*() {
      const now = Number(yield* Clock.currentTimeNanos) / 1e6
      yield* Clock.sleep(Duration.millis(Math.max(0, lastStart + READ_SPACING_MS - now)))
      if (next === round) next = undefined
      lastStart = Number(yield* Clock.currentTimeNanos) / 1e6
      const result = new Map<string, number>()
      const files: Array<Effect.Effect<boolean>> = []
      if (round.v4.size > 0) files.push(readInto("/proc/net/tcp", round.v4, result))
      if (round.v6.size > 0) files.push(readInto("/proc/net/tcp6", round.v6, result))
      const read = yield* Effect.all(files, { concurrency: "unbounded" })
      if (read.some((ok) => !ok)) unavailable = true
      yield* Deferred.succeed(round.done, read.every((ok) => ok) ? result : undefined)
    }).pipe(
      // a leader interrupted while it waits: the others get no sample rather than wait forever
      Effect.onInterrupt(() =>
        Effect.suspend(() => {
          if (next === round) next = undefined
          return Deferred.succeed(round.done, undefined)
        })
      )
    )

  const sample = (socket: SocketAddresses): Effect.Effect<Option.Option<number>> =>
    Effect.suspend(() => {
      if (unavailable) return Effect.succeed(Option.none())
      const found = socketKey(socket)
      if (found === undefined) return Effect.succeed(Option.none())
      const leader = next === undefined
      const round = next ??= { v4: new Set(), v6: new Set(), done: Deferred.unsafeMake(FiberId.none) }
      ;(found.v6 ? round.v6 : round.v4).add(found.key)
      const result = Effect.map(Deferred.await(round.done), (queues) => Option.fromNullable(queues?.get(found.key)))
      return leader ? Effect.zipRight(lead(round), result) : result
    })

  return { sample }
}

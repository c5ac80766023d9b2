import type { Effect, Option } from "effect"
import type { SocketError } from "./errors.ts"

/**
 * One established byte stream, server or client side, TCP, TLS or in-memory.
 *
 * Backpressure both ways: the underlying socket is paused until `read` is
 * called (bytes are pulled, never pushed into an unbounded queue), and `write`
 * completes only once the transport took the whole chunk (on node:net, once
 * the kernel has it; in memory, as a copy).
 */
export interface Connection {
  /** A short unique id for logs ("c17"). */
  readonly id: string
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  /**
   * The next chunk, or None once the peer has finished sending (FIN). The
   * chunk is the caller's until its next `read`: a transport may then reuse
   * its memory (the client's TCP reads all land in one buffer), so whoever
   * keeps bytes longer copies them.
   */
  readonly read: Effect.Effect<Option.Option<Uint8Array>, SocketError>
  /**
   * Reads as `read` does, chunk after chunk (None once the peer has
   * finished), handing each to `consume` synchronously until it returns a
   * value (not undefined), which the effect succeeds with. Chunks that
   * arrive while it waits are handed over in the transport's own callback,
   * with no Effect step per chunk; a chunk is the caller's until `consume`
   * is called again. `consume` must not read from this connection itself.
   */
  readonly readWith: <A>(
    consume: (chunk: Option.Option<Uint8Array>) => A | undefined
  ) => Effect.Effect<A, SocketError>
  /**
   * Sends a chunk; completes when the transport has taken it, after which
   * the caller may reuse the chunk's buffer. Interrupting a pending write may
   * leave part of the chunk unsent: destroy the connection then.
   */
  readonly write: (chunk: Uint8Array) => Effect.Effect<void, SocketError>
  /**
   * As `write`, but issued at the call rather than when the effect runs:
   * when the transport takes the whole chunk at once (or refuses it at
   * once) the effect returned is already an `Exit`, so a caller that checks
   * `Exit.isExit` goes on without an Effect step; otherwise running it
   * waits for the transport, as `write` does.
   */
  readonly writeNow: (chunk: Uint8Array) => Effect.Effect<void, SocketError>
  /**
   * How many written bytes the transport has taken so far: monotonic, cheap,
   * synchronous. It grows while a large write is pending, as the peer reads,
   * so a caller can tell a slow reader (it grows) from a stalled one (it does
   * not). What a write took the moment it was issued, before it had to wait,
   * is counted when that write completes: while it waits, any growth is the
   * peer's doing.
   */
  readonly bytesFlushed: () => number
  /**
   * The clock of this connection's instants, in nanoseconds: the one its
   * layer was given (the Node layers' high-resolution clock, the in-memory
   * layers' `Clock`, so `TestClock` in tests).
   */
  readonly now: () => bigint
  /**
   * When the bytes of the chunk `read` last returned arrived, taken in the
   * transport's own data callback (or, after None, when the FIN arrived):
   * not when a fiber got round to reading them.
   */
  readonly receivedAt: () => bigint
  /** When the transport took the last byte of the last completed `write` (handed to the kernel). */
  readonly sentAt: () => bigint
  /**
   * Bytes written that the peer has not yet acknowledged, as the transport
   * sees them: it changes whenever the peer takes bytes, also while
   * `bytesFlushed` stands still because the transport's own buffer is large
   * (on loopback the kernel frees send space only in steps of megabytes).
   * On node:net on Linux, the kernel's send queue (costly: consult it only for
   * a write that looks stalled); in memory, the bytes the peer has not read.
   * None where the system does not tell, or once the connection is gone.
   */
  readonly unacknowledged: Effect.Effect<Option.Option<number>>
  /** Flushes what is queued and half-closes (sends FIN). */
  readonly end: Effect.Effect<void, SocketError>
  /**
   * Ends the connection for good: the bytes the transport holds go out, then
   * FIN (on TLS, close_notify first), and the connection is destroyed.
   * Issued at the call: when the transport holds no byte of its own (every
   * write taken whole), closing the socket sends the FIN itself, with no
   * shutdown to wait for, and the effect returned is already an `Exit`;
   * otherwise running it waits as `end` does, then destroys. Never fails:
   * a connection that cannot end cleanly is destroyed all the same. As with
   * a kernel's close, bytes the peer sends that were never read turn the
   * FIN into a reset: for a request whose body was left unread, `end` and
   * drain instead.
   */
  readonly closeNow: () => Effect.Effect<void>
  /** Tears the connection down at once, dropping queued bytes. Idempotent, never blocks. */
  readonly destroy: Effect.Effect<void>
}

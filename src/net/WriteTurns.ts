/**
 * Shares the bytes handed to the kernel in one turn of the event loop
 * between the connections that write, in the order they asked.
 *
 * On loopback the kernel takes a write of megabytes at once, so a server
 * that answers every ready connection in full within one turn makes that
 * turn long, and the listener, which accepts one connection per turn (libuv
 * 1.45 and later), waits behind it: under load the connections accepted
 * first are served again and again while the rest wait in the kernel's
 * accept queue for seconds. With a budget per turn, a write that would pass
 * it waits for a later turn (each turn first serves those waiting, at least
 * one of them), so turns stay short, new connections are accepted within
 * milliseconds and a large body is interleaved with the others.
 */
export interface WriteTurns {
  /**
   * Charges `bytes` to this turn and says true when the turn has room and
   * no one is waiting; otherwise charges nothing and says false.
   */
  readonly tryTake: (bytes: number) => boolean
  /**
   * Calls `go` in a later turn, when this caller's turn comes (`bytes` are
   * charged to that turn then). The function returned withdraws the request.
   */
  readonly wait: (bytes: number, go: () => void) => () => void
}

interface Waiter {
  readonly bytes: number
  readonly go: () => void
  /** Still in the queue: neither served nor withdrawn. */
  waiting: boolean
}

/**
 * `nextTurn` runs its callback in the next turn of the loop, after I/O has
 * been polled (`setImmediate` in Node); a test passes its own.
 */
export const makeWriteTurns = (bytesPerTurn: number, nextTurn: (run: () => void) => void): WriteTurns => {
  let spent = 0
  let scheduled = false
  let queue: Array<Waiter | undefined> = []
  let head = 0
  /** Waiters neither served nor withdrawn. */
  let waiting = 0

  const schedule = () => {
    if (scheduled) return
    scheduled = true
    nextTurn(turn)
  }

  function turn() {
    scheduled = false
    spent = 0
    while (head < queue.length && (spent < bytesPerTurn || spent === 0)) {
      const waiter = queue[head]!
      // served or withdrawn: the queue lets go of it (and of what its callback holds)
      queue[head++] = undefined
      if (!waiter.waiting) continue
      waiter.waiting = false
      waiting--
      spent += waiter.bytes
      waiter.go()
    }
    if (head === queue.length) {
      queue = []
      head = 0
    } else if (head > 1024 && head * 2 > queue.length) {
      // under a load that never lets the queue empty, its served front is cut off now and then
      queue = queue.slice(head)
      head = 0
    }
    // the next turn resets the budget, and serves whoever still waits
    if (spent > 0 || waiting > 0) schedule()
  }

  return {
    tryTake: (bytes) => {
      if (waiting > 0 || spent >= bytesPerTurn) return false
      spent += bytes
      schedule()
      return true
    },
    wait: (bytes, go) => {
      const waiter: Waiter = { bytes, go, waiting: true }
      queue.push(waiter)
      waiting++
      schedule()
      return () => {
        if (!waiter.waiting) return
        waiter.waiting = false
        waiting--
      }
    }
  }
}

/** Bytes handed to the kernel per turn of the loop before the next writer waits for the next turn. */
export const BYTES_PER_TURN = 1024 * 1024

/** The process's event loop is one: so is its budget. */
export const nodeWriteTurns: WriteTurns = makeWriteTurns(BYTES_PER_TURN, (run) => void setImmediate(run))

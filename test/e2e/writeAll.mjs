// Shared by the hostile-server tests of the client and its soak (scratchpad/soak/client.mjs): plain
// JavaScript so that the soak runs under node without a TypeScript loader.

/**
 * Writes `data` (a string is sent as latin1 bytes), counting its bytes with
 * `count`, and waits for 'drain' when the socket's buffer is full. Resolves
 * to false once the socket is gone.
 * @param {import("node:net").Socket} socket
 * @param {string | Buffer} data
 * @param {(n: number) => void} count
 * @returns {Promise<boolean>}
 */
export const writeAll = (socket, data, count) => {
  if (socket.destroyed) return Promise.resolve(false)
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data
  count(bytes.length)
  if (socket.write(bytes)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done)
      socket.off("close", done)
      resolve(!socket.destroyed)
    }
    socket.on("drain", done)
    socket.on("close", done)
  })
}

// The constant-buffer node:http peer of `npm run bench` sections 1-2: no file
// at all. It reads ROOT/index.html once at start-up and answers every request
// with those bytes and the same headers a file server sends (type, length,
// Last-Modified, ETag, Accept-Ranges), so its figure is node:http's own cost
// per request, the ceiling of any file server built on it.
//
//   node scratchpad/bench/baseline-constant.mjs ROOT [PORT]   prints "port N" when listening on 127.0.0.1
import { readFileSync, statSync } from "node:fs"
import * as http from "node:http"
import { join } from "node:path"

const file = join(process.argv[2], "index.html")
const body = readFileSync(file)
const info = statSync(file)
const headers = {
  "Content-Type": "text/html; charset=utf-8",
  "Content-Length": body.length,
  "Last-Modified": info.mtime.toUTCString(),
  ETag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
  "Accept-Ranges": "bytes"
}

const server = http.createServer((req, res) => {
  res.writeHead(200, headers)
  res.end(req.method === "HEAD" ? undefined : body)
})
server.listen(Number(process.argv[3] ?? 0), "127.0.0.1", () => console.log(`port ${server.address().port}`))
const stop = () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)

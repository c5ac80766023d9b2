// The node:http baseline of `npm run bench`: the small static-file server a
// Node user would write by hand. Per request: resolve the path under the
// root, stat it, write the headers (type, length, Last-Modified, ETag), then
// stream the file with createReadStream().pipe(res). No cache, no tricks,
// nothing held back either: keep-alive on (Node's defaults).
//
//   node scratchpad/bench/baseline.mjs ROOT [PORT]     prints "port N" when listening on 127.0.0.1
import { createReadStream, stat, statSync } from "node:fs"
import * as http from "node:http"
import { extname, join, normalize, sep } from "node:path"

const root = normalize(process.argv[2])
const types = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".bin": "application/octet-stream"
}
// statSync by default (a cached stat is microseconds: faster here than a
// thread-pool round trip); BASELINE_STAT=async for the callback stat
const statFile = process.env.BASELINE_STAT !== "async"
  ? (path, callback) => {
    let info
    try {
      info = statSync(path)
    } catch (error) {
      callback(error)
      return
    }
    callback(null, info)
  }
  : stat
const notFound = "<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1></body></html>\n"

const server = http.createServer((req, res) => {
  let pathname
  try {
    pathname = decodeURIComponent(req.url.split("?")[0])
  } catch {
    res.writeHead(400, { "Content-Length": 0 }).end()
    return
  }
  let path = normalize(join(root, pathname))
  if (path !== root && !path.startsWith(root + sep)) {
    res.writeHead(400, { "Content-Length": 0 }).end()
    return
  }
  const send = (path, info) => {
    res.writeHead(200, {
      "Content-Type": types[extname(path)] ?? "application/octet-stream",
      "Content-Length": info.size,
      "Last-Modified": info.mtime.toUTCString(),
      ETag: `"${info.ino.toString(16)}-${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
      "Accept-Ranges": "bytes"
    })
    if (req.method === "HEAD") {
      res.end()
      return
    }
    const stream = createReadStream(path)
    stream.on("error", () => res.destroy())
    stream.pipe(res)
  }
  statFile(path, (error, info) => {
    if (error === null && info.isDirectory()) {
      path = join(path, "index.html")
      statFile(path, (error2, info2) => (error2 === null && info2.isFile() ? send(path, info2) : missing()))
    } else if (error === null && info.isFile()) send(path, info)
    else missing()
  })
  const missing = () => {
    res.writeHead(404, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(notFound) })
      .end(notFound)
  }
})
server.listen(Number(process.argv[3] ?? 0), "127.0.0.1", () => console.log(`port ${server.address().port}`))
const stop = () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)

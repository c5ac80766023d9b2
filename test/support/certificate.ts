import { execFileSync } from "node:child_process"
import * as path from "node:path"

/**
 * A self-signed certificate for localhost and 127.0.0.1, made by openssl in
 * `dir` as `${name}cert.pem` and `${name}key.pem` (a P-256 key: quick to make).
 */
export const makeCertificate = (dir: string, name = ""): { readonly cert: string; readonly key: string } => {
  const cert = path.join(dir, `${name}cert.pem`)
  const key = path.join(dir, `${name}key.pem`)
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1"
  ], { stdio: "ignore" })
  return { cert, key }
}

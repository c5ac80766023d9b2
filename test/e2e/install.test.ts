// The published package: packed, installed from its tarball into a fresh
// prefix the way a user installs it, and run from there.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureBuilt, root } from "./support.ts"

/** The installed package (bundle, loader, code cache and source map) stays under this. */
const MAX_INSTALLED_BYTES = 16 * 1024 * 1024

const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version as string
let work: string
let prefix: string
let installedBin: string
let installOutput: string

const sizeOf = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((total, entry) => {
    const at = path.join(dir, entry.name)
    return total + (entry.isDirectory() ? sizeOf(at) : fs.lstatSync(at).size)
  }, 0)

beforeAll(() => {
  ensureBuilt()
  work = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-install-"))
  prefix = path.join(work, "prefix")
  // the dist/ of this tree as it is (already built): no scripts
  const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", work], {
    cwd: root,
    encoding: "utf8"
  }).trim().split("\n").pop()!
  // no dependencies to fetch: the install must work offline
  const installed = spawnSync(
    "npm",
    ["install", "--global", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", path.join(work, tarball)],
    { cwd: work, encoding: "utf8" }
  )
  if (installed.status !== 0) throw new Error(`npm install failed: ${installed.stderr}`)
  // npm writes its warnings (install scripts to approve, deprecations) to stderr
  installOutput = installed.stdout + installed.stderr
  installedBin = path.join(prefix, "bin", "fiberhttp")
}, 120_000)

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

describe("the installed package", () => {
  it("installs with no dependencies, no script to approve and no warning, and stays small", () => {
    const installed = path.join(prefix, "lib", "node_modules", "fiberhttp")
    expect(fs.existsSync(path.join(installed, "node_modules"))).toBe(false)
    expect(fs.readdirSync(path.join(prefix, "lib", "node_modules"))).toEqual(["fiberhttp"])
    expect(sizeOf(installed)).toBeLessThan(MAX_INSTALLED_BYTES)
    expect(installOutput).not.toMatch(/warn/i)
  })

  it("runs: --version", () => {
    expect(execFileSync(installedBin, ["--version"], { encoding: "utf8" }).trim()).toBe(version)
  })

  it("serves a GET (checked with curl)", async () => {
    const site = path.join(work, "site")
    fs.mkdirSync(site)
    fs.writeFileSync(path.join(site, "hello.txt"), "hello from the installed package\n")
    const server = spawn(installedBin, ["server", "--root", site, "--quiet", "0"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = ""
        const timer = setTimeout(() => reject(new Error(`no URL announced: ${out}`)), 15_000)
        server.stdout.on("data", (d: Buffer) => {
          out += d.toString()
          const found = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)
          if (found !== null) {
            clearTimeout(timer)
            resolve(found[0])
          }
        })
        server.on("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)))
      })
      const body = execFileSync("curl", ["-sS", "--max-time", "10", "-w", "%{http_code}", `${url}hello.txt`], {
        encoding: "utf8"
      })
      expect(body).toBe("hello from the installed package\n200")
    } finally {
      server.kill("SIGTERM")
    }
  }, 30_000)
})

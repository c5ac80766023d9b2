import { build } from "esbuild"
const stub = { name: "x", setup(b) { b.onResolve({ filter: /^(yaml|toml|ini)$/ }, a => ({ path: a.path, namespace: "u" })); b.onLoad({ filter: /.*/, namespace: "u" }, () => ({ contents: "export const parse=()=>{}", loader: "js" })) } }
const noServer = { name: "ns", setup(b) { b.onResolve({ filter: /ServerCommand\.ts$/ }, a => ({ path: a.path, namespace: "ns" })); b.onLoad({ filter: /.*/, namespace: "ns" }, () => ({ contents: "import {Command} from '@effect/cli'; export const serverCommand = Command.make('server')", loader: "ts", resolveDir: "/work/main/src/cli" })) } }
const common = { entryPoints: ["/work/main/src/cli/bin.ts"], bundle: true, minify: true, platform: "node", target: "node20", define: { __FIBERHTTP_VERSION__: '"0.1.0"' }, absWorkingDir: "/work/main" }
await build({ ...common, format: "esm", outfile: "/tmp/v/esm.mjs", plugins: [stub] })
await build({ ...common, format: "esm", outfile: "/tmp/v/esm-noserver.mjs", plugins: [stub, noServer] })
await build({ ...common, format: "cjs", outfile: "/tmp/v/cjs.cjs", plugins: [stub] })
await build({ ...common, format: "cjs", outfile: "/tmp/v/cjs-noserver.cjs", plugins: [stub, noServer] })

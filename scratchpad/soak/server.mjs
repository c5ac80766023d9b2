// The server soak and flood runs against the built server, in one command:
//
//   npm run build && node scratchpad/soak/server.mjs
//
// It loads serverSoak.ts through tsx (the checks share their helpers with test/e2e/hostileSupport.ts).
// Knobs, all environment variables (defaults in brackets):
//   SOAK_REQUESTS [100000]   mixed requests in the leak check
//   SOAK_CONCURRENCY [16]    connections at once in the mixed loads
//   SOAK_SLOW [200]          slowloris connections;  SOAK_SLOW_SECONDS [10] their header timeout
//   SOAK_STALLED [64]        readers of a 64 MiB file that never read
//   SOAK_FLOOD [2000]        connections opened at once against --max-connections 100
//   SOAK_PIPELINE [100000]   requests pipelined in one write on one connection
//   SOAK_SHUTDOWNS [5]       SIGINTs in the middle of a load
//   SOAK_ONLY                comma-separated check names to run (leaks,slowloris,stalled,flood,pipeline,shutdown)
//   SOAK_TIME_LIMIT [900]    seconds: past this the run stops, kills its servers and fails
import { register } from "tsx/esm/api"

register()
await import("./serverSoak.ts")

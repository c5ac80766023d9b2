// Deep imports on purpose: the package index pulls in undici and the HTTP
// platform, which a one-request CLI would pay for at every start.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Layer } from "effect"
import * as Output from "../client/Output.ts"
import * as NodeFileAccess from "../files/NodeFileAccess.ts"
import * as NodeConnector from "../net/NodeConnector.ts"
import * as NodeSocketServer from "../net/NodeSocketServer.ts"
import * as NodeWorkers from "../net/NodeWorkers.ts"
import * as LogSink from "../server/LogSink.ts"

/**
 * Every service the commands need, over Node: the one place where the
 * program meets the operating system. Tests run the same commands over
 * MemoryNetwork, MemoryConnector and MemoryFileAccess instead.
 */
export const NodeEnvironment = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  NodeFileAccess.layer,
  NodeSocketServer.layer,
  NodeConnector.layer,
  NodeWorkers.layer,
  Output.layerProcess,
  LogSink.layerProcess
)

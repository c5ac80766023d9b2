import type * as net from "node:net"

/** See writeAll.mjs. */
export declare const writeAll: (socket: net.Socket, data: string | Buffer, count: (n: number) => void) => Promise<boolean>

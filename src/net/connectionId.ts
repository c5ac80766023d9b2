let counter = 0

/** A short id, unique in this process, for logs: "c1", "c2", ... */
export const nextConnectionId = (): string => `c${++counter}`

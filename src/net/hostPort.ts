/** "host:port", with an IPv6 address in brackets ("[::1]:8080"). */
export const formatHostPort = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

/** A connection target for messages: "example.com (93.184.215.14:80)", or "127.0.0.1:80" when the host is the address. */
export const formatTarget = (host: string, address: string, port: number): string =>
  host === address ? formatHostPort(address, port) : `${host} (${formatHostPort(address, port)})`

import type { ClientError } from "./errors.ts"

/**
 * The one place where failures become exit statuses and messages. curl's
 * numbers where curl has one, so scripts written for curl read them alike.
 */
export const exitCodeOf = (error: ClientError): number => {
  switch (error._tag) {
    case "UsageError":
      return 2
    case "InvalidTarget":
      return 3
    case "ResolveError":
      return 6
    case "ConnectError":
      return 7
    case "MalformedResponse":
      return 8
    case "TruncatedResponse":
      return 18
    case "LocalIoError":
      return error.direction === "write" ? 23 : 26
    case "TimeoutError":
      return 28
    case "TlsError":
      return 35
    case "TooManyRedirects":
      return 47
    case "EmptyReply":
      return 52
    case "SendError":
      return 55
    case "ReceiveError":
      return 56
  }
}

const formatSeconds = (millis: number): string => `${Number((millis / 1000).toFixed(3))} s`

/**
 * What went wrong, in one line, without the target (the caller prefixes it).
 * The connector's errors already carry a complete sentence.
 */
export const describe = (error: ClientError): string => {
  switch (error._tag) {
    case "UsageError":
      return error.message
    case "InvalidTarget":
      return `bad URL "${error.input}": ${error.message}`
    case "ResolveError":
      return error.message
    case "ConnectError":
      return error.message
    case "MalformedResponse":
      return `malformed response (${error.cause.code}): ${error.cause.message}`
    case "TruncatedResponse":
      return `connection closed before the response ended (${error.received} body bytes received)`
    case "LocalIoError":
      return `could not ${error.direction} ${error.path}: ${error.message}`
    case "TimeoutError":
      return error.phase === "connect"
        ? `connection not established within ${formatSeconds(error.millis)} (--connect-timeout)`
        : `no complete response within ${formatSeconds(error.millis)} (--max-time)`
    case "TlsError":
      return error.message
    case "TooManyRedirects":
      return `more than ${error.max} redirects (--max-redirects)`
    case "EmptyReply":
      return "empty reply from server (connection closed without a response)"
    case "SendError":
      return `send failure: ${error.cause.message}`
    case "ReceiveError":
      return `receive failure: ${error.cause.message}`
  }
}

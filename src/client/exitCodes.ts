import { escapeControls } from "../http/chars.ts"
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
      return error.part === "protocol" ? 1 : error.part === "head" ? 8 : 56
    case "HttpStatusError":
      return 22
    case "ResumeError":
      return 33
    case "DecodeError":
      return 61
    case "CaCertError":
      return 77
    case "BinaryToTerminal":
      return 23
    case "TruncatedResponse":
      return 18
    case "LocalIoError":
      return error.direction === "write" ? 23 : 26
    case "TimeoutError":
      return 28
    case "TlsError":
      return error.reason === "Certificate" ? 60 : 35
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

/** Longest piece of a server's text (a Location) quoted in an error line. */
const MAX_QUOTED = 200

/**
 * Text from elsewhere (a server's Location, a command-line argument) made
 * safe for the one error line: control characters (C0, DEL, C1) written as
 * `\xHH` so none can end the line or drive the terminal, and overlong text
 * cut with its length given.
 */
export const printable = (text: string): string => {
  const cut = text.length > MAX_QUOTED ? text.slice(0, MAX_QUOTED) : text
  const safe = escapeControls(cut)
  return cut === text ? safe : `${safe}... (${text.length} characters)`
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
      return `${error.fromLocation === true ? "redirect to a bad URL" : "bad URL"} "${printable(error.input)}": ${
        printable(error.message)
      }`
    case "ResolveError":
      return error.message
    case "ConnectError":
      return error.message
    case "MalformedResponse":
      return error.part === "protocol"
        ? `not an HTTP response: ${error.cause.message}`
        : `malformed response (${error.cause.code}): ${error.cause.message}`
    case "HttpStatusError":
      return `the server answered ${error.status}${error.reason === "" ? "" : ` ${printable(error.reason)}`} (--fail)`
    case "ResumeError":
      return `cannot resume: the server answered ${error.status} instead of 206 Partial Content to the range (-C)`
    case "DecodeError":
      return `cannot decode the ${error.encoding} body (--compressed): ${error.message}`
    case "CaCertError":
      return `cannot use CA certificates from ${error.path}: ${error.message}`
    case "BinaryToTerminal":
      return "binary output can mess up your terminal: use -o FILE to save it, or -o - to print it anyway"
    case "TruncatedResponse":
      return error.inHead
        ? "connection closed in the middle of the response head"
        : `connection closed before the response ended (${error.received} body bytes received)`
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

/**
 * Which browsers and names may reach the daemon's HTTP server (health, metrics, the WebSocket
 * upgrade). Two checks, both before anything else looks at a request:
 *
 * - Host: a page on evil.example whose DNS name is re-pointed at the board (DNS rebinding) makes
 *   the browser send `Host: evil.example`; only the daemon's own names and addresses, plus
 *   http.allowedHosts, are accepted, else 421 Misdirected Request.
 * - Origin: a browser names the page that makes a request; only the daemon's own origin (an Origin
 *   whose host:port is the request's own Host), plus http.allowedOrigins, are accepted, else 403.
 *   Clients that are not browsers send no Origin and are not affected.
 */
import type { IncomingMessage } from "node:http";
import os from "node:os";
import type { ErrorCode } from "../../protocol/errorCodes.js";

export interface RequestOriginPolicyOptions {
  /** The address the server is bound to (http.host). */
  bindHost: string;
  /** http.allowedHosts: further names/addresses; "*" accepts any Host. */
  allowedHosts: readonly string[];
  /** http.allowedOrigins: further origins; "*" accepts any Origin. */
  allowedOrigins: readonly string[];
  /** The machine's interface addresses (os.networkInterfaces by default; tests pass their own). */
  interfaceAddresses?: () => string[];
}

export type RequestRefusal = { status: 403 | 421; code: ErrorCode; message: string };

const wildcardBindings = new Set(["0.0.0.0", "::", "[::]", ""]);

export class RequestOriginPolicy {
  private readonly hosts: Set<string>;
  private readonly anyHost: boolean;
  private readonly origins: Set<string>;
  private readonly anyOrigin: boolean;

  constructor(options: RequestOriginPolicyOptions) {
    this.anyHost = options.allowedHosts.includes("*");
    this.anyOrigin = options.allowedOrigins.includes("*");
    this.hosts = new Set([...ownNames(options), ...options.allowedHosts].map(normaliseHostName));
    this.origins = new Set(options.allowedOrigins.filter((origin) => origin !== "*").map(normaliseOrigin));
  }

  /** The names accepted in Host (for the start-up log). */
  get allowedHostNames(): string[] {
    return this.anyHost ? ["*"] : [...this.hosts];
  }

  /** undefined when the request may go on; else how to refuse it. */
  check(request: IncomingMessage): RequestRefusal | undefined {
    const host = request.headers.host;
    // No Host at all is HTTP/1.0 from a program, never a browser; a browser always sends one.
    if (host !== undefined && !this.anyHost && !this.hosts.has(normaliseHostName(hostNameOf(host)))) {
      return {
        status: 421,
        code: "E_FORBIDDEN",
        message: `Host '${host.slice(0, 100)}' is not one of this daemon's names; add it to http.allowedHosts`,
      };
    }
    const origin = request.headers.origin;
    if (origin === undefined || this.anyOrigin) return undefined;
    if (host !== undefined && sameHostAndPort(origin, host)) return undefined;
    if (this.origins.has(normaliseOrigin(origin))) return undefined;
    return {
      status: 403,
      code: "E_FORBIDDEN",
      message: `Origin '${origin.slice(0, 100)}' is not allowed; add it to http.allowedOrigins`,
    };
  }
}

function ownNames(options: RequestOriginPolicyOptions): string[] {
  const hostname = os.hostname();
  const names = ["localhost", "127.0.0.1", "::1", hostname, `${hostname}.local`];
  if (wildcardBindings.has(options.bindHost)) {
    names.push(...(options.interfaceAddresses ?? interfaceAddresses)());
  } else {
    names.push(options.bindHost);
  }
  return names.filter((name) => name.length > 0);
}

function interfaceAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => entry.address));
}

/** "Board.local." → "board.local", "[::1]" → "::1": names compare case-free, without brackets or a final dot. */
function normaliseHostName(name: string): string {
  let result = name.trim().toLowerCase();
  if (result.startsWith("[") && result.endsWith("]")) result = result.slice(1, -1);
  if (result.endsWith(".")) result = result.slice(0, -1);
  return result;
}

/** The name part of a Host header: "board:8765" → "board", "[::1]:8765" → "[::1]". */
function hostNameOf(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

/** An origin in the form browsers send it ("http://board.local:8765"), or the text itself if it is none. */
function normaliseOrigin(origin: string): string {
  if (!URL.canParse(origin)) return origin.trim().toLowerCase();
  const url = new URL(origin);
  return url.origin === "null" ? origin.trim().toLowerCase() : url.origin;
}

/** The daemon's own page: an Origin whose host:port is the Host the request was sent to. */
function sameHostAndPort(origin: string, host: string): boolean {
  if (!URL.canParse(origin) || !URL.canParse(`http://${host}`)) return false;
  const page = new URL(origin);
  if (page.protocol !== "http:" && page.protocol !== "https:") return false;
  const target = new URL(`${page.protocol}//${host}`);
  return page.host === target.host;
}

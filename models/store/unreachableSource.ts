/**
 * Tells "this source cannot be reached at all" apart from "the transfer broke": a host that does not
 * resolve (ENOTFOUND, EAI_AGAIN: offline, no DNS, a typo) or that refuses the connection (ECONNREFUSED:
 * nothing listens) will not come back within a retry's backoff, so retrying six times only makes an
 * offline board wait half a minute before saying what to do. Those fail at once, with E_SOURCE_UNREACHABLE.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ModelStoreError } from "./ModelStoreError.js";

/** Error codes of a source that cannot be reached (as opposed to a transfer that broke off). */
export const unreachableErrorCodes: ReadonlySet<string> = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NONAME",
  "ECONNREFUSED",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

/**
 * How long a DNS lookup may take before the host counts as unresolvable. A resolver that is not there
 * (an offline board) makes getaddrinfo wait 5 s per try before EAI_AGAIN; a working one answers in
 * milliseconds, so 2.5 s keeps the whole failure under 3 s without refusing slow-but-working DNS.
 */
export const dnsLookupTimeoutMs = 2_500;

/** The unreachable code in a fetch error's cause chain (undici wraps it, Happy Eyeballs aggregates it). */
export function unreachableCode(error: unknown): string | null {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && unreachableErrorCodes.has(code)) return code;
    queue.push((current as { cause?: unknown }).cause);
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return null;
}

export function unreachableError(url: string, code: string, detail: string): ModelStoreError {
  const what =
    code === "ECONNREFUSED"
      ? "refused the connection (nothing listens there)"
      : code === "ENETUNREACH" || code === "EHOSTUNREACH"
        ? "is not reachable from this network"
        : "does not resolve (no DNS answer: offline, or a wrong host name)";
  return new ModelStoreError("E_SOURCE_UNREACHABLE", `${new URL(url).host} ${what}: ${detail}`, {
    url,
    cause: code,
  });
}

/** Resolves the URL's host first, so an offline board fails in ≤ 2.5 s instead of a resolver's timeouts. */
export async function assertHostResolves(url: string, timeoutMs = dnsLookupTimeoutMs): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0 || host === "localhost") return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([lookup(host).then(() => "ok" as const), timeout]);
    if (outcome === "timeout")
      throw unreachableError(url, "EAI_AGAIN", `no DNS answer for ${host} within ${timeoutMs / 1000} s`);
  } catch (error) {
    if (error instanceof ModelStoreError) throw error;
    const code = unreachableCode(error);
    if (code) throw unreachableError(url, code, `${(error as Error).message}`);
    // Any other lookup error: let fetch report it the usual way.
  } finally {
    clearTimeout(timer);
  }
}

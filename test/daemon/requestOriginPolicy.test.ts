/**
 * The Host and Origin rules, case by case (the e2e test shows them on a real daemon).
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import { RequestOriginPolicy } from "../../daemon/transports/http/RequestOriginPolicy.js";

function requestWith(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

function verdict(policy: RequestOriginPolicy, headers: Record<string, string>): number {
  return policy.check(requestWith(headers))?.status ?? 200;
}

describe("RequestOriginPolicy", () => {
  const loopback = new RequestOriginPolicy({ bindHost: "127.0.0.1", allowedHosts: [], allowedOrigins: [] });
  const everywhere = new RequestOriginPolicy({
    bindHost: "0.0.0.0",
    allowedHosts: ["llm.example.org"],
    allowedOrigins: ["https://dash.example:8443"],
    interfaceAddresses: () => ["127.0.0.1", "192.168.7.20", "fe80::1"],
  });

  const cases: Array<[name: string, policy: RequestOriginPolicy, headers: Record<string, string>, status: number]> = [
    ["a program: loopback Host, no Origin", loopback, { host: "127.0.0.1:8765" }, 200],
    ["no Host at all (HTTP/1.0 program)", loopback, {}, 200],
    ["localhost in any case, with a final dot", loopback, { host: "LocalHost.:8765" }, 200],
    ["[::1] with a port", loopback, { host: "[::1]:8765" }, 200],
    ["the hostname and hostname.local", loopback, { host: `${hostname()}.local:8765` }, 200],
    ["a rebinding name", loopback, { host: "evil.example:8765" }, 421],
    ["an interface address of a loopback-bound daemon", loopback, { host: "192.168.7.20:8765" }, 421],
    ["an interface address when bound to 0.0.0.0", everywhere, { host: "192.168.7.20:8765" }, 200],
    ["an IPv6 interface address when bound to 0.0.0.0", everywhere, { host: "[fe80::1]:8765" }, 200],
    ["a name from http.allowedHosts", everywhere, { host: "LLM.example.org" }, 200],
    ["the daemon's own page", loopback, { host: "127.0.0.1:8765", origin: "http://127.0.0.1:8765" }, 200],
    [
      "its own page over https on the default port",
      everywhere,
      { host: "llm.example.org", origin: "https://llm.example.org" },
      200,
    ],
    [
      "a page on another port of the same host",
      loopback,
      { host: "127.0.0.1:8765", origin: "http://127.0.0.1:3000" },
      403,
    ],
    ["a foreign page", loopback, { host: "127.0.0.1:8765", origin: "https://evil.example" }, 403],
    ["a sandboxed page (Origin null)", loopback, { host: "127.0.0.1:8765", origin: "null" }, 403],
    [
      "a page from http.allowedOrigins",
      everywhere,
      { host: "192.168.7.20:8765", origin: "https://DASH.example:8443" },
      200,
    ],
    ["that page on another port", everywhere, { host: "192.168.7.20:8765", origin: "https://dash.example:9443" }, 403],
    ["garbage in Origin", loopback, { host: "127.0.0.1:8765", origin: "%%%" }, 403],
  ];
  for (const [name, policy, headers, status] of cases) {
    it(`${name} → ${status}`, () => assert.equal(verdict(policy, headers), status));
  }

  it('"*" accepts any Host or Origin', () => {
    const open = new RequestOriginPolicy({ bindHost: "127.0.0.1", allowedHosts: ["*"], allowedOrigins: ["*"] });
    assert.equal(verdict(open, { host: "evil.example", origin: "https://evil.example" }), 200);
  });

  it("a refusal names the header, the setting that would allow it, and E_FORBIDDEN", () => {
    const host = loopback.check(requestWith({ host: "evil.example" }));
    assert.equal(host?.code, "E_FORBIDDEN");
    assert.match(host?.message ?? "", /evil\.example.*http\.allowedHosts/);
    const origin = loopback.check(requestWith({ host: "localhost", origin: "https://evil.example" }));
    assert.match(origin?.message ?? "", /evil\.example.*http\.allowedOrigins/);
  });
});

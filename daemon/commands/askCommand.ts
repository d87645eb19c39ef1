/**
 * `tinyllamad ask PROMPT…`: one chat message to a running daemon over WebSocket, the answer streamed to
 * stdout. It exists so that the first answer is one command from any directory, on a board that has only
 * the bundle's (or the .deb's) Node runtime, and on Node 20, which has no global WebSocket.
 */
import { accessSync, constants } from "node:fs";
import WebSocket from "ws";
import { defaultConfigFilePath, loadConfig } from "../config/loadConfig.js";
import { parseConfigArgs } from "../config/parseConfigArgs.js";

export interface AskIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** ws://host:port/ for the configured listener; a wildcard address is reached on loopback. */
function daemonUrl(host: string, port: number): string {
  const reachable = host === "" || host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `ws://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}/`;
}

const valueFlags = new Set(["--url", "--max-tokens", "--system"]);

interface AskOptions {
  url?: string;
  maxTokens: string;
  system?: string;
  json: boolean;
}

/** Takes ask's own flags out; the rest (settings and the prompt's words) is for the config parser. */
function splitArguments(args: readonly string[]): { own: AskOptions; rest: string[] } {
  const own: AskOptions = { maxTokens: "256", json: false };
  const rest: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    if (arg === "--") {
      rest.push(...args.slice(index));
      break;
    }
    const equalsAt = arg.indexOf("=");
    const flag = equalsAt === -1 ? arg : arg.slice(0, equalsAt);
    if (flag === "--json") own.json = true;
    else if (valueFlags.has(flag)) {
      const value = equalsAt === -1 ? args[++index] : arg.slice(equalsAt + 1);
      if (value === undefined) throw new AskUsageError(`option ${flag} needs a value`);
      if (flag === "--url") own.url = value;
      else if (flag === "--max-tokens") own.maxTokens = value;
      else own.system = value;
    } else rest.push(arg);
  }
  return { own, rest };
}

class AskUsageError extends Error {}

const askUsageLine = "usage: tinyllamad ask [--url URL] [--max-tokens N] [--system TEXT] [--json] PROMPT… (see --help)";

export async function runAskCommand(args: string[], io: AskIo): Promise<number> {
  let own: AskOptions;
  let rest: string[];
  try {
    ({ own, rest } = splitArguments(args));
  } catch (error) {
    io.stderr.write(`tinyllamad ask: ${(error as Error).message}\n${askUsageLine}\n`);
    return 2;
  }
  // The service's /etc/tinyllamad/config.json is readable by root and the service group only (it may hold
  // tokens): a user who cannot read it gets the defaults.
  const loaded = loadConfig({
    argv: rest,
    defaultConfigFile: readable(defaultConfigFilePath) ? defaultConfigFilePath : "/nonexistent/tinyllamad.json",
  });
  const prompt = parseConfigArgs(rest).positionals.join(" ").trim();
  const maxTokens = Number(own.maxTokens);
  if (prompt === "" || !Number.isInteger(maxTokens) || maxTokens <= 0) {
    io.stderr.write(`${askUsageLine}\n`);
    return 2;
  }
  const { config } = loaded;
  const url = own.url ?? daemonUrl(config.ws.host, config.ws.port);
  const messages = [
    ...(own.system !== undefined ? [{ role: "system", content: own.system }] : []),
    { role: "user", content: prompt },
  ];
  return await converse(
    url,
    config.ws.token,
    { type: "generate", id: "ask", messages, max_tokens: maxTokens },
    {
      io,
      json: own.json,
    },
  );
}

function converse(
  url: string,
  token: string,
  request: Record<string, unknown>,
  options: { io: AskIo; json: boolean },
): Promise<number> {
  const { io, json } = options;
  return new Promise((resolve) => {
    const socket = new WebSocket(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    let settled = false;
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      socket.close();
      resolve(code);
    };
    socket.on("open", () => socket.send(JSON.stringify(request)));
    socket.on("unexpected-response", (_request, response) => {
      io.stderr.write(`tinyllamad ask: ${url} answered HTTP ${response.statusCode} (a wrong or missing ws.token?)\n`);
      finish(1);
    });
    socket.on("error", (error) => {
      io.stderr.write(
        `tinyllamad ask: cannot reach the daemon at ${url}: ${error.message} ` +
          "(is it running? `tinyllamad serve`, or `systemctl start tinyllamad`)\n",
      );
      finish(1);
    });
    socket.on("close", () => {
      if (!settled) io.stderr.write("tinyllamad ask: the daemon closed the connection before answering\n");
      finish(1);
    });
    socket.on("message", (data) => {
      const text = String(data);
      if (json) io.stdout.write(`${text}\n`);
      let message: { type?: string; text?: string; error?: { code?: string; message?: string } };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        return;
      }
      if (message.type === "token" && !json) io.stdout.write(message.text ?? "");
      else if (message.type === "done") {
        if (!json) io.stdout.write("\n");
        finish(0);
      } else if (message.type === "error") {
        io.stderr.write(`error ${message.error?.code ?? "?"}: ${message.error?.message ?? text}\n`);
        finish(1);
      }
    });
  });
}

/**
 * `tinyllamad ask PROMPT…`: one chat message to a running daemon over WebSocket, the answer streamed to
 * stdout. It exists so that the first answer is one command from any directory, on a board that has only
 * the bundle's (or the .deb's) Node runtime, and on Node 20, which has no global WebSocket.
 */
import { accessSync, constants } from "node:fs";
import WebSocket from "ws";
import { defaultConfigFilePath, loadConfig } from "../config/loadConfig.js";
import { parseCommandLine } from "../config/parseConfigArgs.js";
import { commandSpecs } from "./commandSpecs.js";

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

const askUsageLine = "usage: tinyllamad ask [--url URL] [--max-tokens N] [--system TEXT] [--json] PROMPT… (see --help)";

export async function runAskCommand(args: string[], io: AskIo): Promise<number> {
  const commandLine = parseCommandLine(args, commandSpecs.ask?.options);
  const own = commandLine.options;
  if (commandLine.problems.length > 0) {
    io.stderr.write(`tinyllamad ask: ${commandLine.problems.join("; ")}\n${askUsageLine}\n`);
    return 2;
  }
  // The service's /etc/tinyllamad/config.json is readable by root and the service group only (it may hold
  // tokens): a user who cannot read it gets the defaults.
  const loaded = loadConfig({
    commandLine,
    defaultConfigFile: readable(defaultConfigFilePath) ? defaultConfigFilePath : "/nonexistent/tinyllamad.json",
  });
  const prompt = commandLine.positionals.join(" ").trim();
  const maxTokens = Number(own["max-tokens"] ?? "256");
  if (prompt === "" || !Number.isInteger(maxTokens) || maxTokens <= 0) {
    io.stderr.write(`${askUsageLine}\n`);
    return 2;
  }
  const { config } = loaded;
  const url = typeof own.url === "string" ? own.url : daemonUrl(config.http.host, config.http.port);
  const messages = [
    ...(typeof own.system === "string" ? [{ role: "system", content: own.system }] : []),
    { role: "user", content: prompt },
  ];
  return await converse(
    url,
    config.http.token,
    { type: "generate", id: "ask", messages, max_tokens: maxTokens },
    {
      io,
      json: own.json === true,
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
      io.stderr.write(`tinyllamad ask: ${url} answered HTTP ${response.statusCode} (a wrong or missing http.token?)\n`);
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

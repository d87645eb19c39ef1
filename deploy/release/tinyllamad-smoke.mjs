#!/usr/bin/env node
/**
 * tinyllamad-smoke: one short generation over the daemon's WebSocket API, for health gates (the Ansible
 * role runs it on the board with the bundle's own Node) and release tests. Ships in every bundle as
 * bin/tinyllamad-smoke.mjs; it needs only `ws`, which the bundle's node_modules holds.
 *
 *   node tinyllamad-smoke.mjs --url ws://127.0.0.1:8765/ [--prompt TEXT] [--max-tokens N] [--timeout-ms N]
 *
 * The bearer token, if the daemon wants one, comes from TINYLLAMAD_HTTP_TOKEN (never a flag: flags show in ps).
 * Prints the final `done` message as one JSON line and exits 0; exits 1 on an `error` answer, no answer
 * in time, or an empty text; 2 on bad usage.
 */
import { WebSocket } from "ws";

function parseArgs(argv) {
  const options = { url: "", prompt: "The robot in the garden said", maxTokens: 8, timeoutMs: 60_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--url") options.url = value;
    else if (flag === "--prompt") options.prompt = value;
    else if (flag === "--max-tokens") options.maxTokens = Number(value);
    else if (flag === "--timeout-ms") options.timeoutMs = Number(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!options.url) throw new Error("--url is required");
  return options;
}

function generateOnce({ url, prompt, maxTokens, timeoutMs }) {
  // TINYLLAMAD_WS_TOKEN: the former name of http.token, still set by older playbooks.
  const token = process.env.TINYLLAMAD_HTTP_TOKEN ?? process.env.TINYLLAMAD_WS_TOKEN ?? "";
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no final answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("open", () => {
      socket.send(JSON.stringify({ type: "generate", id: "smoke", prompt, max_tokens: maxTokens, temperature: 0 }));
    });
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (message.id !== "smoke" || (message.type !== "done" && message.type !== "error")) return;
      clearTimeout(timer);
      socket.close();
      resolve(message);
    });
  });
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`tinyllamad-smoke: ${error.message}`);
  process.exit(2);
}
try {
  const final = await generateOnce(options);
  console.log(JSON.stringify(final));
  if (final.type !== "done") throw new Error(`the daemon answered ${final.type}: ${JSON.stringify(final.error ?? final)}`);
  if (typeof final.text !== "string" || final.text.length === 0) throw new Error("the daemon generated no text");
  process.exit(0);
} catch (error) {
  console.error(`tinyllamad-smoke: ${error.message}`);
  process.exit(1);
}

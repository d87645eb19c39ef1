/**
 * `tinyllamad run PROMPT…` (and its older name `ask`): one chat message to a running daemon, the answer
 * streamed to stdout, failures on stderr with an exit code a script can act on (exitCodes.ts). The
 * prompt is read from stdin when piped: alone, or after the prompt's words (`git diff | tinyllamad run
 * "Summarise:"`). Ctrl-C cancels the answer at the daemon (exit 130).
 */
import { fstatSync } from "node:fs";
import { TinyllamadClient } from "../../client/index.js";
import { describeClientFailure } from "./describeClientFailure.js";
import { EXIT_INTERRUPTED, EXIT_USAGE } from "./exitCodes.js";
import { resolveDaemonEndpoint } from "./resolveDaemonEndpoint.js";
import { CommandUsageError, splitCommandArguments } from "./splitCommandArguments.js";

export interface RunIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; fd?: number };
}

export const runValueFlags = ["--url", "--token", "--max-tokens", "--system", "--temperature"] as const;
export const runSwitchFlags = ["--json"] as const;

/** How long a one-shot command waits for the daemon (it retries meanwhile): a restarting daemon is back by then. */
const connectTimeoutMs = 3_000;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  stream.setEncoding("utf8");
  for await (const chunk of stream) text += chunk as string;
  return text;
}

/** Piped or redirected stdin (a FIFO or a file), as opposed to a terminal or an inherited socket nobody writes to. */
function stdinIsPipedData(stdin: RunIo["stdin"]): boolean {
  try {
    const stat = fstatSync(stdin.fd ?? 0);
    return stat.isFIFO() || stat.isFile();
  } catch {
    return false;
  }
}

async function readPrompt(words: string[], stdin: RunIo["stdin"]): Promise<string> {
  const typed = words.join(" ").trim();
  if (typed === "") return stdin.isTTY ? "" : (await readAll(stdin)).trim();
  if (!stdinIsPipedData(stdin)) return typed;
  const piped = (await readAll(stdin)).trim();
  return piped === "" ? typed : `${typed}\n\n${piped}`;
}

function positiveInteger(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new CommandUsageError(`--max-tokens must be a positive integer`);
  return value;
}

function optionalNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) throw new CommandUsageError(`${flag} must be a number`);
  return value;
}

export async function runRunCommand(name: string, args: string[], io: RunIo): Promise<number> {
  const usageLine = `usage: tinyllamad ${name} [--url URL] [--token TOKEN] [--max-tokens N] [--system TEXT] [--temperature T] [--json] PROMPT… (see --help)`;
  let request: Parameters<TinyllamadClient["generate"]>[0];
  let endpoint: ReturnType<typeof resolveDaemonEndpoint>;
  let json: boolean;
  try {
    const { values, switches, commandLine } = splitCommandArguments(args, runValueFlags, runSwitchFlags);
    json = switches.has("--json");
    endpoint = resolveDaemonEndpoint({ url: values.get("--url"), token: values.get("--token") }, commandLine);
    const prompt = await readPrompt(endpoint.positionals, io.stdin);
    if (prompt === "") throw new CommandUsageError("no prompt: give it as arguments or on stdin");
    const system = values.get("--system");
    request = {
      messages: [
        ...(system !== undefined ? [{ role: "system" as const, content: system }] : []),
        { role: "user", content: prompt },
      ],
      max_tokens: positiveInteger(values.get("--max-tokens"), 256),
      temperature: optionalNumber(values.get("--temperature"), "--temperature"),
    };
  } catch (error) {
    if (!(error instanceof CommandUsageError)) throw error;
    io.stderr.write(`tinyllamad ${name}: ${error.message}\n${usageLine}\n`);
    return EXIT_USAGE;
  }

  const client = new TinyllamadClient({ url: endpoint.url, token: endpoint.token, connectTimeoutMs });
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  process.on("SIGINT", onInterrupt);
  try {
    const generation = client.generate(request, {
      signal: interrupt.signal,
      onMessage: json ? (message) => io.stdout.write(`${JSON.stringify(message)}\n`) : undefined,
    });
    for await (const piece of generation) if (!json) io.stdout.write(piece);
    if (!json) io.stdout.write("\n");
    return 0;
  } catch (error) {
    if (interrupt.signal.aborted) {
      io.stderr.write(`\ntinyllamad ${name}: cancelled\n`);
      return EXIT_INTERRUPTED;
    }
    const failure = describeClientFailure(error);
    io.stderr.write(`tinyllamad ${name}: ${failure.message}\n`);
    return failure.exitCode;
  } finally {
    process.off("SIGINT", onInterrupt);
    client.close();
  }
}

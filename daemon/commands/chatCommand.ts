/**
 * `tinyllamad chat`: an interactive conversation with a running daemon in the terminal, as `ollama run`
 * has it: the answer streams as it comes, the conversation is kept (ChatSession), Ctrl-C stops the
 * answer being written (at the daemon too) and, at an empty prompt, leaves, as Ctrl-D and /bye do.
 */
import { createInterface } from "node:readline";
import { TinyllamadClient } from "../../client/index.js";
import { ChatSession } from "./ChatSession.js";
import { describeClientFailure } from "./describeClientFailure.js";
import { EXIT_USAGE } from "./exitCodes.js";
import { resolveDaemonEndpoint } from "./resolveDaemonEndpoint.js";
import type { RunIo } from "./runCommand.js";
import { CommandUsageError, splitCommandArguments } from "./splitCommandArguments.js";

export const chatValueFlags = ["--url", "--token", "--system", "--max-tokens", "--temperature"] as const;

const usageLine =
  "usage: tinyllamad chat [--url URL] [--token TOKEN] [--system TEXT] [--max-tokens N] [--temperature T] (see --help)";

function numberFlag(text: string | undefined, flag: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || (integer && (!Number.isInteger(value) || value <= 0)))
    throw new CommandUsageError(`${flag} must be a ${integer ? "positive integer" : "number"}`);
  return value;
}

export async function runChatCommand(args: string[], io: RunIo & { stdout: NodeJS.WritableStream }): Promise<number> {
  let session: ChatSession;
  let endpoint: ReturnType<typeof resolveDaemonEndpoint>;
  try {
    const { values, commandLine } = splitCommandArguments(args, chatValueFlags, []);
    endpoint = resolveDaemonEndpoint({ url: values.get("--url"), token: values.get("--token") }, commandLine);
    if (endpoint.positionals.length > 0)
      throw new CommandUsageError("chat takes no prompt (for one question: tinyllamad run PROMPT…)");
    session = new ChatSession({
      system: values.get("--system"),
      maxTokens: numberFlag(values.get("--max-tokens"), "--max-tokens", true),
      temperature: numberFlag(values.get("--temperature"), "--temperature", false),
    });
  } catch (error) {
    if (!(error instanceof CommandUsageError)) throw error;
    io.stderr.write(`tinyllamad chat: ${error.message}\n${usageLine}\n`);
    return EXIT_USAGE;
  }

  const client = new TinyllamadClient({ url: endpoint.url, token: endpoint.token, connectTimeoutMs: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    const failure = describeClientFailure(error);
    io.stderr.write(`tinyllamad chat: ${failure.message}\n`);
    client.close();
    return failure.exitCode;
  }
  io.stdout.write(`Connected to ${endpoint.url}. /? for help, /bye to leave.\n`);

  const terminal = io.stdin.isTTY === true;
  const lines = createInterface({ input: io.stdin, output: io.stdout, terminal, prompt: ">>> " });
  let answering: AbortController | undefined;
  lines.on("SIGINT", () => {
    if (answering !== undefined) answering.abort();
    else if (session.inBlock) {
      session.cancelBlock();
      io.stdout.write("\n");
      lines.setPrompt(">>> ");
      lines.prompt();
    } else if (lines.line.length > 0) {
      lines.write(null, { ctrl: true, name: "e" });
      lines.write(null, { ctrl: true, name: "u" });
    } else lines.close();
  });
  // Ctrl-D while an answer streams leaves too, without waiting for the answer's end.
  lines.on("close", () => answering?.abort());

  lines.prompt();
  for await (const line of lines) {
    const action = session.input(line);
    if (action.kind === "exit") break;
    if (action.kind === "say") io.stdout.write(`${action.text}\n`);
    if (action.kind === "send") {
      answering = new AbortController();
      let answer = "";
      try {
        for await (const piece of client.generate(session.request(action.text), { signal: answering.signal })) {
          answer += piece;
          io.stdout.write(piece);
        }
        session.remember(action.text, answer);
        io.stdout.write("\n\n");
      } catch (error) {
        if (answering.signal.aborted) {
          if (answer !== "") session.remember(action.text, answer);
          io.stdout.write("\n\n");
        } else io.stderr.write(`${answer === "" ? "" : "\n"}error ${describeClientFailure(error).message}\n`);
      } finally {
        answering = undefined;
      }
    }
    lines.setPrompt(session.inBlock ? "... " : ">>> ");
    lines.prompt();
  }
  lines.close();
  if (terminal) io.stdout.write("\n");
  client.close();
  return 0;
}

/**
 * What `tinyllamad chat` remembers and how it reads a line: the conversation (system message, turns),
 * the sampling settings (`/set`), multi-line messages between `"""` (as `ollama run` reads them) and the
 * slash commands. No I/O: chatCommand.ts reads the terminal and talks to the daemon.
 */
import type { GenerateOptions } from "../../client/generateOptions.js";
import type { ChatMessage } from "../protocol/messages.js";

export type ChatAction =
  /** Send this message (with the conversation so far). */
  | { kind: "send"; text: string }
  /** Inside a `"""` block: read the next line. */
  | { kind: "more" }
  | { kind: "say"; text: string }
  | { kind: "exit" }
  | { kind: "nothing" };

/** `/set` keys: the generate request's field and whether it takes only integers. */
const settable = {
  temperature: { integer: false },
  top_p: { integer: false },
  top_k: { integer: true },
  min_p: { integer: false },
  repeat_penalty: { integer: false },
  seed: { integer: true },
  max_tokens: { integer: true },
} as const;
type SettingName = keyof typeof settable;

export const chatHelp = `Commands:
  /system TEXT          set the system message (/system alone shows it)
  /set KEY VALUE        set a sampling setting: ${Object.keys(settable).join(", ")}
  /set                  show the settings
  /reset                forget the conversation (the system message and settings stay)
  /bye                  leave (or Ctrl-D, or Ctrl-C at an empty prompt)
  /?, /help             this help
Multi-line message: start it with """ and end it with """.
Ctrl-C while an answer streams stops that answer; what was said stays in the conversation.`;

const blockQuote = '"""';

export class ChatSession {
  private system: string | undefined;
  private turns: ChatMessage[] = [];
  private readonly settings = new Map<SettingName, number>();
  private block: string[] | undefined;

  constructor(options: {
    system?: string | undefined;
    maxTokens?: number | undefined;
    temperature?: number | undefined;
  }) {
    this.system = options.system;
    if (options.maxTokens !== undefined) this.settings.set("max_tokens", options.maxTokens);
    if (options.temperature !== undefined) this.settings.set("temperature", options.temperature);
  }

  /** Whether a `"""` block is open (the prompt shows `... `). */
  get inBlock(): boolean {
    return this.block !== undefined;
  }

  /** Drops a `"""` block being typed (Ctrl-C inside it). */
  cancelBlock(): void {
    this.block = undefined;
  }

  /** The conversation as it would be sent (system message first). */
  get messages(): ChatMessage[] {
    return [...(this.system !== undefined ? [{ role: "system" as const, content: this.system }] : []), ...this.turns];
  }

  input(line: string): ChatAction {
    if (this.block !== undefined) {
      if (!line.trimEnd().endsWith(blockQuote)) {
        this.block.push(line);
        return { kind: "more" };
      }
      const text = [...this.block, line.trimEnd().slice(0, -blockQuote.length)].join("\n").trim();
      this.block = undefined;
      return text === "" ? { kind: "nothing" } : { kind: "send", text };
    }
    const trimmed = line.trim();
    if (trimmed.startsWith(blockQuote)) {
      const rest = trimmed.slice(blockQuote.length);
      if (rest.endsWith(blockQuote)) {
        const text = rest.slice(0, -blockQuote.length).trim();
        return text === "" ? { kind: "nothing" } : { kind: "send", text };
      }
      this.block = rest.trim() === "" ? [] : [rest];
      return { kind: "more" };
    }
    if (trimmed.startsWith("/")) return this.command(trimmed);
    return trimmed === "" ? { kind: "nothing" } : { kind: "send", text: trimmed };
  }

  /** The request for a new user message, after the conversation so far. */
  request(text: string): GenerateOptions {
    const request: GenerateOptions = { messages: [...this.messages, { role: "user", content: text }] };
    for (const [name, value] of this.settings) (request as Record<string, unknown>)[name] = value;
    return request;
  }

  /** Keeps a finished (or cancelled: what was shown) exchange in the conversation. */
  remember(text: string, answer: string): void {
    this.turns.push({ role: "user", content: text }, { role: "assistant", content: answer });
  }

  private command(line: string): ChatAction {
    const [command = "", ...words] = line.split(/\s+/);
    const argument = line.slice(command.length).trim();
    switch (command) {
      case "/bye":
        return { kind: "exit" };
      case "/?":
      case "/help":
        return { kind: "say", text: chatHelp };
      case "/reset":
        this.turns = [];
        return { kind: "say", text: "Started a new conversation." };
      case "/system":
        if (argument === "")
          return { kind: "say", text: this.system === undefined ? "No system message." : `System: ${this.system}` };
        this.system = argument;
        return { kind: "say", text: "Set the system message." };
      case "/set":
        return this.set(words);
      default:
        return { kind: "say", text: `Unknown command '${command}'. Type /? for help.` };
    }
  }

  private set(words: string[]): ChatAction {
    if (words.length === 0) {
      const shown = [...this.settings].map(([name, value]) => `${name} ${value}`);
      return { kind: "say", text: shown.length === 0 ? "Default settings (the daemon's)." : shown.join("\n") };
    }
    const [name = "", value] = words;
    if (!(name in settable))
      return { kind: "say", text: `Unknown setting '${name}'. One of: ${Object.keys(settable).join(", ")}.` };
    const setting = name as SettingName;
    const number = Number(value);
    if (
      value === undefined ||
      words.length !== 2 ||
      !Number.isFinite(number) ||
      (settable[setting].integer && !Number.isInteger(number))
    )
      return { kind: "say", text: `Usage: /set ${setting} ${settable[setting].integer ? "INTEGER" : "NUMBER"}` };
    this.settings.set(setting, number);
    return { kind: "say", text: `Set ${setting} to ${number}.` };
  }
}

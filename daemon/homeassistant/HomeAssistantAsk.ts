/**
 * The Home Assistant "Ask" text entity: its value, published on `<base>/<node>/homeassistant/ask`,
 * is sent to the model as one user message, and the answer is published (not retained) on
 * `<base>/<node>/homeassistant/answer` for the "Answer" sensor. Off unless homeassistant.ask is on:
 * anyone who may publish on that topic spends the board's CPU (docs/home-assistant.md).
 *
 * One question at a time: a prompt that arrives while one is answered is refused on the answer
 * topic, so an automation in a loop cannot fill the queue. The answer never repeats the prompt.
 */
import type { Logger } from "../logging/createLogger.js";
import type { FinalMessage, ServerMessage } from "../protocol/messages.js";
import { type ProtocolLimits, parseClientMessage } from "../protocol/parseClientMessage.js";
import type { Scheduler } from "../scheduler/Scheduler.js";
import { homeAssistantMaxState } from "./homeAssistantDiscovery.js";

/** What the Answer sensor reads: `state` (at most 255 characters), the whole text as an attribute. */
export interface AskAnswer {
  state: string;
  text: string | null;
  finish_reason: string | null;
  tokens_per_s: number | null;
  error: { code: string; message: string } | null;
}

export interface HomeAssistantAskOptions {
  scheduler: Scheduler;
  limits: ProtocolLimits;
  log: Logger;
  publishAnswer(answer: AskAnswer): void;
}

/** The scheduler's client for every Home Assistant question (per-client fairness counts them as one). */
const askClient = "homeassistant";

export class HomeAssistantAsk {
  private running = false;
  private asked = 0;

  constructor(private readonly options: HomeAssistantAskOptions) {}

  /** A value of the text entity. An empty one (Home Assistant clearing the field) is not a question. */
  onPrompt(payload: Buffer): void {
    const prompt = payload.toString("utf8").trim();
    if (prompt.length === 0) return;
    if (this.running) {
      this.answer({
        type: "error",
        id: null,
        error: {
          code: "E_QUEUE_FULL",
          message: "a Home Assistant question is being answered; ask again when its answer arrives",
        },
      });
      return;
    }
    this.asked += 1;
    const request = {
      type: "generate",
      id: `homeassistant-${this.asked}`,
      messages: [{ role: "user", content: prompt }],
    };
    const parsed = parseClientMessage(JSON.stringify(request), this.options.limits);
    if (!parsed.ok) {
      this.answer({ type: "error", id: parsed.id, error: { code: parsed.error.code, message: parsed.error.message } });
      return;
    }
    if (parsed.message.type !== "generate") throw new Error("an ask request parsed as another type");
    this.running = true;
    this.options.log.info({ id: parsed.message.id }, "Home Assistant asked the model");
    this.options.scheduler.submit(parsed.message, {
      client: askClient,
      send: (message: ServerMessage) => {
        if (message.type !== "done" && message.type !== "error") return;
        this.running = false;
        this.answer(message);
      },
    });
  }

  private answer(message: FinalMessage): void {
    const answer: AskAnswer =
      message.type === "done"
        ? {
            state: message.text.trim().slice(0, homeAssistantMaxState) || "(no text)",
            text: message.text,
            finish_reason: message.finish_reason,
            tokens_per_s: message.timings.tokens_per_s,
            error: null,
          }
        : {
            state: `error: ${message.error.code}`.slice(0, homeAssistantMaxState),
            text: null,
            finish_reason: null,
            tokens_per_s: null,
            error: message.error,
          };
    this.options.publishAnswer(answer);
  }
}

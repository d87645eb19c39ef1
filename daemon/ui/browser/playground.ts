/**
 * The chat playground: each answer streamed over the WebSocket API (`generate` with `messages`,
 * then `token`… and one `done` or `error`), a cancel button (`cancel`), TTFT and tokens/s from the
 * answer's own timings. The conversation lives in this page only.
 */
import { askForToken, forgetToken, storedToken, webSocketProtocols } from "./tokenStore.js";

interface ChatTurn {
  role: "user" | "assistant";
  content: string;
}

interface ServerMessage {
  type: string;
  id: string | null;
  text?: string;
  finish_reason?: string;
  timings?: { queue_ms: number; ttft_ms: number | null; tokens_per_s: number | null };
  usage?: { completion_tokens: number };
  error?: { code: string; message: string };
}

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class Playground {
  private socket: WebSocket | undefined;
  private connecting: Promise<WebSocket> | undefined;
  private history: ChatTurn[] = [];
  private running: { id: string; answer: HTMLElement; body: HTMLElement; text: string; user: ChatTurn } | undefined;
  private requests = 0;

  start(): void {
    const form = element<HTMLFormElement>("chat-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send();
    });
    element<HTMLTextAreaElement>("message").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.send();
      }
    });
    element<HTMLButtonElement>("cancel").addEventListener("click", () => this.cancel());
    element<HTMLButtonElement>("clear").addEventListener("click", () => {
      this.history = [];
      element("transcript").replaceChildren();
      element("answer-stats").textContent = "";
    });
    const jsonMode = element<HTMLInputElement>("json-mode");
    jsonMode.addEventListener("change", () => {
      element<HTMLTextAreaElement>("json-schema").disabled = !jsonMode.checked;
    });
  }

  private async send(): Promise<void> {
    if (this.running) return;
    const input = element<HTMLTextAreaElement>("message");
    const content = input.value.trim();
    if (content.length === 0) {
      input.focus();
      return;
    }
    const request = this.buildRequest(content);
    if (typeof request === "string") {
      this.stats(request);
      return;
    }
    input.value = "";
    const user: ChatTurn = { role: "user", content };
    this.turn("user", content);
    const { turn: answer, body } = this.turn("assistant", "");
    answer.setAttribute("aria-busy", "true");
    this.running = { id: request.id as string, answer, body, text: "", user };
    this.busy(true);
    this.stats("waiting for the first token…");
    try {
      const socket = await this.connect();
      socket.send(JSON.stringify(request));
    } catch (error) {
      this.finish({ type: "error", id: request.id as string, error: { code: "E_CONNECT", message: String(error) } });
    }
  }

  private buildRequest(content: string): Record<string, unknown> | string {
    const system = element<HTMLTextAreaElement>("system-prompt").value.trim();
    const messages = [
      ...(system ? [{ role: "system", content: system }] : []),
      ...this.history,
      { role: "user", content },
    ];
    const request: Record<string, unknown> = {
      type: "generate",
      id: `page-${Date.now().toString(36)}-${++this.requests}`,
      messages,
      max_tokens: Number(element<HTMLInputElement>("max-tokens").value) || 128,
      temperature: Number(element<HTMLInputElement>("temperature").value),
      stream: true,
    };
    const stop = element<HTMLTextAreaElement>("stop")
      .value.split("\n")
      .filter((line) => line.length > 0);
    if (stop.length > 0) request.stop = stop;
    if (element<HTMLInputElement>("json-mode").checked) {
      try {
        request.json_schema = JSON.parse(element<HTMLTextAreaElement>("json-schema").value);
      } catch {
        return "the JSON schema is not valid JSON";
      }
    }
    return request;
  }

  private cancel(): void {
    if (!this.running || !this.socket) return;
    this.socket.send(JSON.stringify({ type: "cancel", id: this.running.id }));
    this.stats("cancelling…");
  }

  private connect(): Promise<WebSocket> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    this.connecting ??= this.open(true).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Opens the socket; a refusal before it opens is taken as a missing or wrong token once. */
  private open(mayAskToken: boolean): Promise<WebSocket> {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/`, webSocketProtocols());
    return new Promise<WebSocket>((resolve, reject) => {
      let opened = false;
      socket.addEventListener("open", () => {
        opened = true;
        this.socket = socket;
        resolve(socket);
      });
      socket.addEventListener("message", (event) => this.onMessage(JSON.parse(String(event.data)) as ServerMessage));
      socket.addEventListener("close", () => {
        if (this.socket === socket) this.socket = undefined;
        if (opened) {
          if (this.running)
            this.finish({
              type: "error",
              id: this.running.id,
              error: { code: "E_CLOSED", message: "the connection closed" },
            });
          return;
        }
        if (!mayAskToken) {
          reject(new Error("the node refused the WebSocket connection"));
          return;
        }
        if (storedToken() !== null) forgetToken();
        askForToken().then(() => this.open(false).then(resolve, reject), reject);
      });
    });
  }

  private onMessage(message: ServerMessage): void {
    const running = this.running;
    if (!running || message.id !== running.id) return;
    if (message.type === "token") {
      running.text += message.text ?? "";
      running.body.textContent = running.text;
      if (running.text.length === (message.text ?? "").length) this.stats("streaming…");
      const transcript = element("transcript");
      transcript.scrollTop = transcript.scrollHeight;
    } else if (message.type === "done" || message.type === "error") this.finish(message);
  }

  private finish(message: ServerMessage): void {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    this.busy(false);
    running.answer.removeAttribute("aria-busy");
    const meta = document.createElement("span");
    meta.className = "meta";
    if (message.type === "done") {
      running.body.textContent = message.text ?? running.text;
      const timings = message.timings;
      const ttft = timings?.ttft_ms == null ? "–" : `${Math.round(timings.ttft_ms)} ms`;
      const rate = timings?.tokens_per_s == null ? "–" : `${timings.tokens_per_s.toFixed(1)} tok/s`;
      const summary = `${message.finish_reason} · TTFT ${ttft} · ${rate} · ${message.usage?.completion_tokens ?? 0} tokens`;
      meta.textContent = summary;
      running.answer.dataset.finish = message.finish_reason ?? "";
      this.stats(`last answer: ${summary}`);
      this.history.push(running.user, { role: "assistant", content: message.text ?? running.text });
    } else {
      running.answer.classList.add("failed");
      running.answer.dataset.finish = "error";
      meta.textContent = `${message.error?.code}: ${message.error?.message}`;
      this.stats(`error: ${message.error?.code}`);
    }
    running.answer.append(meta);
    element<HTMLTextAreaElement>("message").focus();
  }

  private turn(role: ChatTurn["role"], text: string): { turn: HTMLElement; body: HTMLElement } {
    const turn = document.createElement("div");
    turn.className = `turn ${role}`;
    const body = document.createElement("span");
    body.textContent = text;
    turn.append(body);
    element("transcript").append(turn);
    return { turn, body };
  }

  private busy(running: boolean): void {
    element<HTMLButtonElement>("send").disabled = running;
    element<HTMLButtonElement>("cancel").disabled = !running;
  }

  private stats(text: string): void {
    element("answer-stats").textContent = text;
  }
}

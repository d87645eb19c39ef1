/**
 * A program under a real pseudo-terminal: a detached tmux session on its own server socket, driven with
 * send-keys and read with capture-pane, as a person at a terminal would. The program's exit status is
 * printed into the pane (`[exit N]`), which stays open until kill().
 */
import { execFileSync } from "node:child_process";

let sessions = 0;

export class TmuxPane {
  private killed = false;

  private constructor(private readonly socket: string) {}

  static start(command: string[], options: { width?: number; height?: number } = {}): TmuxPane {
    sessions += 1;
    const pane = new TmuxPane(`tinyllamad-test-${process.pid}-${sessions}`);
    const quoted = command.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
    pane.tmux(
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      String(options.width ?? 160),
      "-y",
      String(options.height ?? 50),
      `${quoted}; echo "[exit $?]"; sleep 600`,
    );
    return pane;
  }

  /** tmux key names ("Enter", "C-c", "C-d") or literal text. */
  sendKeys(...keys: string[]): void {
    this.tmux("send-keys", ...keys);
  }

  /** Literal text, never read as a key name. */
  type(text: string): void {
    this.tmux("send-keys", "-l", text);
  }

  /** The pane's whole history and screen, wrapped lines joined. */
  capture(): string {
    return this.tmux("capture-pane", "-p", "-J", "-S", "-");
  }

  /**
   * Waits until the pane's text passes `test` (a terminal has no events to wait on: it is read every 100 ms).
   * No clock of its own: a wait that never passes is ended by the test's timeout, whose clean-up kills the
   * pane; the wait then fails with the pane's last text.
   */
  async waitFor(test: RegExp | ((text: string) => boolean)): Promise<string> {
    const passes = typeof test === "function" ? test : (text: string) => test.test(text);
    let text = "";
    while (!this.killed) {
      text = this.capture();
      if (passes(text)) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the pane was closed while waiting for ${String(test)}; its last text:\n${text}`);
  }

  kill(): void {
    this.killed = true;
    try {
      this.tmux("kill-server");
    } catch {
      // Already gone.
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, ...args], { encoding: "utf8" });
  }
}

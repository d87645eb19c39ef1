/**
 * `tinyllamad chat` under a real pseudo-terminal (tmux): streaming, the kept conversation, /system,
 * /reset, /set, """ blocks, Ctrl-C during a long answer (cancelled at the daemon, the chat goes on),
 * Ctrl-C with text typed, Ctrl-C at an empty prompt, Ctrl-D and /bye; and `tinyllamad run`'s exit
 * codes, stdin and Ctrl-C — against a daemon that requires a token.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { TinyllamadError } from "../../client/TinyllamadError.js";
import { describeClientFailure } from "../../daemon/commands/describeClientFailure.js";
import { cliPath, type LogLine } from "../../harness/DaemonProcess.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { TmuxPane } from "../support/TmuxPane.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const token = "chat-test-token-3";
const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-client-commands-"));
const { daemon, url } = daemonForSuite(
  testDaemonFlags({
    "model.contextSize": 2048,
    "backend.threads": 1,
    "http.token": token,
    "state.directory": join(scratch, "state"),
  }),
);
after(() => rmSync(scratch, { recursive: true, force: true }));

const finished = (): LogLine[] => daemon.logLines.filter((line) => line.msg === "request finished");
/** The daemon's log line of the nth request it finished (1-based), once it has finished it. */
const nthFinished = async (n: number): Promise<LogLine> => {
  await daemon.waitForLog(() => finished().length >= n, 60_000);
  return finished()[n - 1] as LogLine;
};

describe("tinyllamad chat in a terminal", () => {
  const panes: TmuxPane[] = [];
  after(() => {
    for (const pane of panes) pane.kill();
  });
  const chat = (...args: string[]) => {
    const pane = TmuxPane.start([process.execPath, cliPath, "chat", "--url", url(), "--token", token, ...args]);
    panes.push(pane);
    return pane;
  };
  const promptCount = (text: string) => text.split("\n").filter((line) => line.startsWith(">>>")).length;

  it('keeps the conversation, obeys /system /set /reset and """ blocks, and Ctrl-C stops only the answer', async () => {
    const pane = chat();
    await pane.waitFor(/Connected to .*\n>>> /);
    const base = finished().length;
    pane.type("/set max_tokens 8");
    pane.sendKeys("Enter");
    await pane.waitFor(/Set max_tokens to 8\./);
    // Greedy answers make the conversation the same on every run; the long answer below then runs all
    // its 1900 tokens on the test model without an end of text (checked), so it is still streaming when
    // Ctrl-C lands. Sampled, the random-weight model could end it by itself first.
    pane.type("/set temperature 0");
    pane.sendKeys("Enter");
    await pane.waitFor(/Set temperature to 0\./);
    pane.type("/system You are terse.");
    pane.sendKeys("Enter");
    await pane.waitFor(/Set the system message\./);

    pane.type("Hello");
    pane.sendKeys("Enter");
    const first = await nthFinished(base + 1);
    assert.equal(first.outcome, "length");
    assert.equal(first.completion_tokens, 8);

    pane.type('"""first line');
    pane.sendKeys("Enter");
    await pane.waitFor(/\n\.\.\. $/m);
    pane.type('second line"""');
    pane.sendKeys("Enter");
    const second = await nthFinished(base + 2);
    assert.ok(
      (second.prompt_tokens as number) > (first.prompt_tokens as number) + 8,
      "the second message is sent after the first exchange (history kept)",
    );

    pane.type("/reset");
    pane.sendKeys("Enter");
    await pane.waitFor(/Started a new conversation\./);
    pane.type("Hello");
    pane.sendKeys("Enter");
    const afterReset = await nthFinished(base + 3);
    assert.equal(afterReset.prompt_tokens, first.prompt_tokens, "after /reset: system message + Hello, as at first");

    pane.type("/set max_tokens 1900");
    pane.sendKeys("Enter");
    await pane.waitFor(/Set max_tokens to 1900\./);
    const before = pane.capture();
    pane.type("Tell me a very long story.");
    pane.sendKeys("Enter");
    // Some of the answer is on the screen: it streams.
    await pane.waitFor((text) => text.length > before.length + "Tell me a very long story.".length + 40);
    pane.sendKeys("C-c");
    const long = await nthFinished(base + 4);
    assert.equal(long.outcome, "cancelled");
    assert.ok((long.completion_tokens as number) < 1900);
    const prompts = promptCount(await pane.waitFor((text) => promptCount(text) > promptCount(before)));

    pane.type("/set max_tokens 4");
    pane.sendKeys("Enter");
    await pane.waitFor(/Set max_tokens to 4\./);
    pane.type("Still there?");
    pane.sendKeys("Enter");
    const next = await nthFinished(base + 5);
    assert.equal(next.outcome, "length", "the chat answers after a cancelled answer");
    assert.ok(
      (next.prompt_tokens as number) > (afterReset.prompt_tokens as number) + 8,
      "the cancelled answer, as far as it was shown, stays in the conversation",
    );
    await pane.waitFor((text) => promptCount(text) > prompts + 1);

    pane.type("half typed");
    pane.sendKeys("C-c");
    pane.type("/set");
    pane.sendKeys("Enter");
    await pane.waitFor(/max_tokens 4\ntemperature 0\n>>>/);
    assert.doesNotMatch(pane.capture(), /\[exit/, "Ctrl-C with text typed only clears the line");
    pane.type("/bye");
    pane.sendKeys("Enter");
    await pane.waitFor(/\[exit 0\]/);
  });

  it("Ctrl-C at an empty prompt leaves, and so does Ctrl-D", async () => {
    const interrupted = chat();
    await interrupted.waitFor(/>>> /);
    interrupted.sendKeys("C-c");
    await interrupted.waitFor(/\[exit 0\]/);
    const ended = chat();
    await ended.waitFor(/>>> /);
    ended.sendKeys("C-d");
    await ended.waitFor(/\[exit 0\]/);
  });

  it("says what is wrong and exits 77 with a wrong token", async () => {
    const pane = TmuxPane.start([process.execPath, cliPath, "chat", "--url", url(), "--token", "wrong"]);
    panes.push(pane);
    const text = await pane.waitFor(/\[exit \d+\]/);
    assert.match(text, /E_UNAUTHORIZED/);
    assert.match(text, /\[exit 77\]/);
  });
});

describe("tinyllamad run", () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(cliPath, ["run", "--url", url(), ...args], {
      encoding: "utf8",
      env: { ...process.env, TINYLLAMAD_TOKEN: token, ...env },
      timeout: 60_000,
    });

  it("prints the answer on stdout and exits 0; the token comes from TINYLLAMAD_TOKEN or --token", () => {
    const result = run(["--max-tokens", "5", "Hello"]);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(result.stdout.trim().length > 0);
    assert.equal(result.stderr, "");
    const flagged = run(["--token", token, "--max-tokens", "5", "Hello"], { TINYLLAMAD_TOKEN: "" });
    assert.equal(flagged.status, 0, flagged.stderr);
    assert.ok(flagged.stdout.trim().length > 0, "answers with --token alone");
  });

  it("reads the prompt from piped stdin, alone or after the prompt's words", () => {
    const piped = (command: string) =>
      spawnSync("sh", ["-c", command], {
        encoding: "utf8",
        env: { ...process.env, TINYLLAMAD_TOKEN: token, CLI: cliPath, URL: url() },
        timeout: 60_000,
      });
    const alone = piped('printf "Hello there" | "$CLI" run --url "$URL" --max-tokens 3 --json');
    assert.equal(alone.status, 0, alone.stderr);
    assert.match(alone.stdout, /"type":"done"/);
    const appended = piped('printf "Hello there" | "$CLI" run --url "$URL" --max-tokens 3 --json Summarise:');
    assert.equal(appended.status, 0, appended.stderr);
    const promptTokens = (stdout: string) =>
      (JSON.parse(stdout.trim().split("\n").at(-1) as string) as { usage: { prompt_tokens: number } }).usage
        .prompt_tokens;
    assert.ok(promptTokens(appended.stdout) > promptTokens(alone.stdout), "the piped text follows the words");
  });

  it("exit codes: 2 usage, 69 unreachable, 77 no token (each with a message on stderr)", () => {
    const usage = run([]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: tinyllamad run/);
    const badNumber = run(["--max-tokens", "many", "Hi"]);
    assert.equal(badNumber.status, 2);
    const unreachable = spawnSync(cliPath, ["run", "--url", "ws://127.0.0.1:9/", "Hi"], { encoding: "utf8" });
    assert.equal(unreachable.status, 69);
    assert.match(
      unreachable.stderr,
      /E_UNREACHABLE: cannot reach the daemon at ws:\/\/127\.0\.0\.1:9\/.*tinyllamad serve/,
    );
    const noToken = run(["Hi"], { TINYLLAMAD_TOKEN: "" });
    assert.equal(noToken.status, 77);
    assert.match(noToken.stderr, /E_UNAUTHORIZED/);
    assert.equal(noToken.stdout, "");
  });

  it("Ctrl-C (SIGINT) cancels the answer at the daemon and exits 130", async () => {
    // Greedy, this prompt runs all 1900 tokens on the test model without an end of text (checked): the
    // answer is still streaming when SIGINT lands.
    const long = ["--max-tokens", "1900", "--temperature", "0", "Tell a long story"];
    const child = spawn(cliPath, ["run", "--url", url(), ...long], {
      env: { ...process.env, TINYLLAMAD_TOKEN: token },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await once(child.stdout, "data");
    const count = finished().length;
    child.kill("SIGINT");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 130);
    assert.match(stderr, /cancelled/);
    assert.equal((await nthFinished(count + 1)).outcome, "cancelled");
  });

  it("maps every failure to its documented exit code", () => {
    const exitFor = (code: ConstructorParameters<typeof TinyllamadError>[0]) =>
      describeClientFailure(new TinyllamadError(code)).exitCode;
    assert.equal(exitFor("E_PROMPT_TOO_LONG"), 1);
    assert.equal(exitFor("E_BACKEND"), 1);
    assert.equal(exitFor("E_UNREACHABLE"), 69);
    assert.equal(exitFor("E_CONNECTION_LOST"), 69);
    for (const code of ["E_QUEUE_FULL", "E_NOT_READY", "E_SHUTTING_DOWN", "E_TOO_MANY_CONNECTIONS"] as const)
      assert.equal(exitFor(code), 75, code);
    assert.equal(exitFor("E_UNAUTHORIZED"), 77);
    assert.equal(exitFor("E_FORBIDDEN"), 77);
  });
});

/**
 * Running an unpacked aarch64 release bundle's daemon under qemu-user (binfmt_misc, see aarch64Emulation.ts)
 * as a board would run it, and asking it one greedy question: shared by the arm64 bundle tests.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

export const greedyPrompt = "The robot in the garden said";
const maxTokens = 32;

/** `serve` flags for a small, quick daemon on a free port with its own state folder. */
export function serveFlags(modelPath: string, stateDirectory: string, backend = "cpu"): string[] {
  return testDaemonFlags({
    "model.path": modelPath,
    "model.contextSize": 512,
    "backend.kind": backend,
    "backend.threads": 2,
    "state.directory": stateDirectory,
  });
}

/** ELF class and machine of a file: "2 183" is ELF64 aarch64. */
export function elfIdentity(path: string): string {
  const header = readFileSync(path).subarray(0, 20);
  assert.equal(header.subarray(0, 4).toString("latin1"), "\x7fELF", `${path} is an ELF file`);
  return `${header[4]} ${header.readUInt16LE(18)}`;
}

/** One greedy (temperature 0) generation of 32 tokens. */
export async function greedy(url: string): Promise<{ text: string; tokens: number }> {
  const client = await ProtocolClient.connect(url);
  try {
    const answer = await client.request(
      { id: "greedy", prompt: greedyPrompt, max_tokens: maxTokens, temperature: 0 },
      180_000,
    );
    assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
    if (answer.final.type !== "done") throw new Error("unreachable");
    return { text: answer.final.text, tokens: answer.final.usage.completion_tokens };
  } finally {
    await client.close();
  }
}

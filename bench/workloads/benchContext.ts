/** What every workload of `npm run bench` gets: the tools, the model and the run's settings. */
import type { LlamaCppTools } from "../tools/llamaCppTools.js";

export interface BenchContext {
  tools: LlamaCppTools;
  modelPath: string;
  threads: number;
  /** Measured repetitions (rounds) per comparison; a discarded warm-up comes first. */
  reps: number;
  /** Tokens per generation. */
  tokens: number;
  quick: boolean;
  /** A Mosquitto URL for the MQTT leg, or undefined where no mosquitto binary is installed. */
  mqttUrl: string | undefined;
  log(line: string): void;
  /** A fresh prompt index: no two prompts of a run start with the same word (uniquePrompt). */
  nextPromptIndex(): number;
}

/**
 * Runs every leg once per round, in turns: round r starts with leg r (mod legs), so no leg always
 * runs first or right after another, and a slow spell of a shared machine falls on all alike.
 * Returns each leg's results in round order.
 */
export async function inTurns<T>(
  legs: Array<[string, (round: number) => Promise<T>]>,
  rounds: number,
): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(legs.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++)
    for (let turn = 0; turn < legs.length; turn++) {
      const [name, run] = legs[(round + turn) % legs.length]!;
      results.get(name)?.push(await run(round));
    }
  return results;
}

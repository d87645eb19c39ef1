/**
 * Prompts that share nothing but BOS: prompt i starts with the i-th word of a list of distinct words
 * (each one token or more, never a prefix of another's tokens), then words drawn from a seeded
 * generator. So no prompt's tokens, past BOS, match another's, and neither llama-server's prompt
 * cache nor the daemon's prefix reuse can skip any of them.
 */
const openers = (
  "apple bridge candle dragon engine forest garden harbor island jungle kettle lantern meadow needle " +
  "orange pepper quartz river saddle tunnel umbrella valley window yellow zebra anchor basket copper " +
  "desert eagle feather glacier hammer ivory jacket kitten ladder marble nickel oyster pillow rabbit " +
  "silver timber velvet walnut yogurt almond blanket cactus dolphin elbow falcon ginger hollow insect " +
  "jigsaw kernel lemon magnet napkin oxygen parrot quiver rocket sugar tomato violin wagon button " +
  "castle dinner export fabric goblin helmet index jelly knight lizard mirror noodle office planet " +
  "puzzle ribbon salmon tablet unicorn vessel wizard"
).split(" ");
const filler =
  "the a small old robot walked into workshop looked around saw light door table quietly then said hello friend morning".split(
    " ",
  );

export function uniquePrompt(index: number, words: number): string {
  // Past the list, the first word repeats (one shared token at most); the reused-token counts each
  // run reports show whether anything was reused.
  const opener = openers[index % openers.length];
  let state = (index + 1) * 2654435761;
  const next = () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state;
  };
  const rest = Array.from({ length: Math.max(0, words - 1) }, () => filler[next() % filler.length]);
  return [opener, ...rest].join(" ");
}

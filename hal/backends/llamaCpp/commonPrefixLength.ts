import type { Token } from "node-llama-cpp";

/** How many tokens two token lists share from their start. */
export function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const length = Math.min(a.length, b.length);
  let index = 0;
  while (index < length && a[index] === b[index]) index++;
  return index;
}

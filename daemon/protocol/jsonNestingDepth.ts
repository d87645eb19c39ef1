/**
 * How deeply arrays and objects nest in a JSON text, found by one linear scan without recursion and
 * stopping as soon as `limit` is passed, so that a message nested thousands of levels deep is refused
 * before JSON.parse and before anything that walks the parsed value recursively (validation, the
 * json_schema grammar) could run out of stack. Brackets inside strings do not count; the text need
 * not be valid JSON (JSON.parse judges that afterwards).
 *
 * Returns the depth, or `limit + 1` as soon as the text is known to nest deeper than `limit`.
 */
export function jsonNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === backslash) index++;
      else if (char === quote) inString = false;
    } else if (char === quote) inString = true;
    else if (char === openBrace || char === openBracket) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return limit + 1;
      }
    } else if (char === closeBrace || char === closeBracket) depth--;
  }
  return deepest;
}

const quote = 0x22;
const backslash = 0x5c;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;

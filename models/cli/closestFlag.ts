/**
 * The known flag a mistyped one most likely meant, for "unknown option --x (did you mean --y?)".
 * Flags are compared without case and punctuation, whole and by their last dotted part, so
 * `--allow-unverified` finds `--model.allowUnverified` and `--ws.prot` finds `--http.port`.
 */

function normalized(flag: string): string {
  return flag.toLowerCase().replace(/[^a-z0-9.]/g, "");
}

function lastPart(flag: string): string {
  return flag.slice(flag.lastIndexOf(".") + 1);
}

/** Levenshtein distance (insertions, deletions, substitutions), two rows at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The closest of `known` to `flag`, or undefined when none is close enough to be a plausible typo. */
export function closestFlag(flag: string, known: Iterable<string>): string | undefined {
  const typed = normalized(flag);
  const typedLast = lastPart(typed);
  let best: { flag: string; distance: number } | undefined;
  for (const candidate of known) {
    const name = normalized(candidate);
    const distance = Math.min(
      editDistance(typed, name),
      // A bare name for a dotted setting (`--port` for `--http.port`) costs one more than an exact match.
      typed.includes(".") ? Number.POSITIVE_INFINITY : editDistance(typedLast, lastPart(name)) + 1,
    );
    if (best === undefined || distance < best.distance) best = { flag: candidate, distance };
  }
  if (best === undefined) return undefined;
  // Allow about one edit in three characters, at least two: closer than that is a typo, not another word.
  const allowed = Math.max(2, Math.floor(typed.length / 3));
  return best.distance <= allowed ? best.flag : undefined;
}

/** "unknown option --x" with the closest known flag when there is one. */
export function unknownOptionMessage(flag: string, known: Iterable<string>): string {
  const suggestion = closestFlag(flag, known);
  return suggestion === undefined ? `unknown option ${flag}` : `unknown option ${flag} (did you mean ${suggestion}?)`;
}

/**
 * The `id` of a message whose handling failed unexpectedly, read again on the error path only, so
 * that the E_INTERNAL answer can name the request it refuses. Best effort and never throws: null when
 * the text is not a JSON object with a string `id` of its own.
 */
export function readMessageId(raw: Buffer | string): string | null {
  try {
    const value: unknown = JSON.parse(raw.toString());
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, "id")) return null;
    const id = (value as { id: unknown }).id;
    return typeof id === "string" && id.length <= 128 ? id : null;
  } catch {
    return null;
  }
}

/** A failure as the status topic's model_progress reports it: its own E_ code when it has one, else E_BACKEND. */
export function failureOf(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown })?.code;
  return {
    code: typeof code === "string" && code.startsWith("E_") ? code : "E_BACKEND",
    message: error instanceof Error ? error.message : String(error),
  };
}

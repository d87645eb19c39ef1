import { basename } from "node:path";
import type { MemoryFit } from "../../hal/plan/planMemoryProfile.js";

/** The model cannot fit the board's memory even at the smallest context: start-up stops (exit 78). */
export class ModelTooLargeError extends Error {
  override readonly name = "ModelTooLargeError";
  readonly code = "E_MODEL_TOO_LARGE";

  constructor(
    message: string,
    /** The estimate at the smallest context, and the memory available (typed: never read from the message). */
    readonly needBytes: number,
    readonly haveBytes: number,
  ) {
    super(message);
  }

  /** The refusal of a model whose plan says it cannot fit, quoting the plan's memory reason. */
  static forPlan(
    modelPath: string,
    reasons: readonly string[],
    memory: Extract<MemoryFit, { kind: "too-large" }>,
  ): ModelTooLargeError {
    const reason = reasons.find((line) => line.startsWith("warning: memory:")) ?? "";
    return new ModelTooLargeError(
      `${basename(modelPath)} does not fit this board's memory: ${reason.replace(/^warning: /, "")}. ` +
        "`tinyllamad doctor` lists the catalog models that fit.",
      memory.needBytes,
      memory.haveBytes,
    );
  }
}

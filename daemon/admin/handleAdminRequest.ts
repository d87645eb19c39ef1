/** Operator requests over WebSocket or MQTT, authorised by admin.token (compared in constant time). */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Logger } from "../logging/createLogger.js";
import type { AdminRequest, ServerMessage } from "../protocol/messages.js";
import type { SwapOutcome } from "./swapOutcome.js";

export async function handleAdminRequest(
  request: AdminRequest,
  handlers: {
    token: string;
    log: Logger;
    status: () => Record<string, unknown>;
    swapModel: (modelPath: string) => Promise<SwapOutcome>;
  },
): Promise<ServerMessage> {
  const expected = handlers.token;
  const digest = (value: string) => createHash("sha256").update(value).digest();
  if (expected.length === 0 || !timingSafeEqual(digest(request.token), digest(expected))) {
    handlers.log.warn({ id: request.id, action: request.action }, "admin request refused");
    return {
      type: "error",
      id: request.id,
      error: {
        code: "E_UNAUTHORIZED",
        message: expected.length === 0 ? "admin requests are disabled (admin.token is not set)" : "wrong admin token",
      },
    };
  }
  if (request.action === "status")
    return { type: "admin_result", id: request.id, action: "status", result: handlers.status() };
  const outcome = await handlers.swapModel(request.model_path ?? "");
  if (!outcome.ok)
    return {
      type: "error",
      id: request.id,
      error: { code: outcome.code, message: `model swap failed: ${outcome.error}` },
    };
  return { type: "admin_result", id: request.id, action: "swap_model", result: { model: outcome.model } };
}

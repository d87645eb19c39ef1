import type { LlamaModel, Token } from "node-llama-cpp";
import { ProtocolError } from "../../../protocol/errorCodes.js";
import type { GenerationInput } from "../Backend.js";
import type { ChatTemplate } from "../text/ChatTemplate.js";

/**
 * A request's prompt tokens: the raw prompt, or the messages through the chat template; BOS first
 * where the model wants it.
 */
export function tokenizeInput(
  model: LlamaModel,
  chatTemplate: ChatTemplate | undefined,
  input: GenerationInput,
): Token[] {
  let body: Token[];
  if (input.kind === "prompt") body = model.tokenize(input.prompt, false);
  else {
    if (chatTemplate === undefined)
      throw new ProtocolError("E_BAD_REQUEST", "this model has no chat template: send 'prompt' instead of 'messages'");
    body = model.tokenize(chatTemplate.render(input.messages), true);
  }
  const bos = model.tokens.bos;
  return bos !== null && model.tokens.shouldPrependBosToken && body[0] !== bos ? [bos, ...body] : body;
}

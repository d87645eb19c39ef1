import type { LlamaModel, Token } from "node-llama-cpp";
import { ChatTemplate } from "../text/ChatTemplate.js";

/** The chat template to render `messages` with: the configured override, else the model's own; undefined: none. */
export function resolveChatTemplate(model: LlamaModel, override: string | undefined): ChatTemplate | undefined {
  const source =
    override !== undefined && override.length > 0
      ? override
      : (model.fileInfo.metadata.tokenizer?.chat_template as string | undefined);
  if (source === undefined) return undefined;
  const piece = (token: Token | null) => (token === null ? "" : model.detokenize([token], true));
  return new ChatTemplate(source, { bos: piece(model.tokens.bos), eos: piece(model.tokens.eos) });
}

/**
 * Renders chat messages into prompt text with a model's Jinja chat template, the same way
 * llama.cpp's server and Hugging Face's tokenizers do.
 */
import { Template } from "@huggingface/jinja";
import type { ChatMessage } from "../../../protocol/generation.js";

export interface ChatTemplateTokens {
  bos: string;
  eos: string;
}

export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly tokens: ChatTemplateTokens,
  ) {
    this.template = new Template(source);
  }

  render(messages: readonly ChatMessage[]): string {
    return this.template.render({
      messages: messages.map((message) => ({ role: message.role, content: message.content })),
      add_generation_prompt: true,
      bos_token: this.tokens.bos,
      eos_token: this.tokens.eos,
    });
  }
}

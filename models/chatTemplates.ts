/**
 * Chat templates (Jinja, as in Hugging Face tokenizer_config.json) of the models tinyllamad knows.
 */

/**
 * TinyLlama-1.1B-Chat-v1.0 (Zephyr style): `<|system|>`, `<|user|>`, `<|assistant|>` headers on their
 * own line, each message closed by `</s>`; the generation prompt is `<|assistant|>`.
 */
export const tinyLlamaChatTemplate =
  "{% for message in messages %}\n" +
  "{% if message['role'] == 'user' %}\n" +
  "{{ '<|user|>\n' + message['content'] + eos_token }}\n" +
  "{% elif message['role'] == 'system' %}\n" +
  "{{ '<|system|>\n' + message['content'] + eos_token }}\n" +
  "{% elif message['role'] == 'assistant' %}\n" +
  "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n" +
  "{% endif %}\n" +
  "{% if loop.last and add_generation_prompt %}\n" +
  "{{ '<|assistant|>' }}\n" +
  "{% endif %}\n" +
  "{% endfor %}";

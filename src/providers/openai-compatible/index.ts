import { openAICompatibleTranslator } from './translator';

/** OpenAI itself, and any server speaking its API (vLLM, Ollama, LM Studio, Azure-style gateways). */
export const translator = openAICompatibleTranslator;
export const aliases = ['openai'];

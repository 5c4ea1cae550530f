/**
 * The Anthropic Messages API wire shapes the translator reads and writes
 * (POST /v1/messages, `anthropic-version: 2023-06-01`).
 */

export const ANTHROPIC_VERSION = '2023-06-01';

export type ImageSource = { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };

export type TextBlock = { type: 'text'; text: string };
export type ImageBlock = { type: 'image'; source: ImageSource };
export type DocumentBlock = { type: 'document'; source: ImageSource; title?: string };
export type ToolUseBlock = { type: 'tool_use'; id: string; name: string; input: unknown };
export type ToolResultBlock = {
  type: 'tool_result';
  tool_use_id: string;
  content: string | (TextBlock | ImageBlock)[];
  is_error?: boolean;
};

export type ContentBlock = TextBlock | ImageBlock | DocumentBlock | ToolUseBlock | ToolResultBlock;

export interface NativeMessage {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

export interface NativeTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export type NativeToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export interface NativeRequest {
  model: string;
  messages: NativeMessage[];
  max_tokens: number;
  system?: string;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  tools?: NativeTool[];
  tool_choice?: NativeToolChoice;
  metadata?: { user_id: string };
  stream?: boolean;
}

export interface NativeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** Response content blocks; thinking and server-tool blocks are read as unknown types and skipped. */
export type ResponseBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown } | { type: string };

export interface NativeMessageResponse {
  id?: string;
  type?: 'message';
  role?: 'assistant';
  model?: string;
  content?: ResponseBlock[];
  stop_reason?: string | null;
  stop_sequence?: string | null;
  usage?: NativeUsage;
}

export interface NativeErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

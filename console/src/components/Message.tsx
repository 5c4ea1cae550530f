import { ApiError } from '../api';

/** An error from the gateway as it said it (its message names the field at fault), announced to screen readers. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const text = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  const param = error instanceof ApiError && error.param ? ` (${error.param})` : '';
  return (
    <p class="error" role="alert">
      {text}
      {param}
    </p>
  );
}

export function Notice({ text }: { text: string | null }) {
  return text ? (
    <p class="notice" role="status">
      {text}
    </p>
  ) : null;
}

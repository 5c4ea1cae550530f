/**
 * A request's x-request-id as a correlation field: kept when it is short and printable (it is
 * echoed in logs, usage and audit records), otherwise undefined. Never unique: a client may
 * send the same one every time.
 */
export function correlationId(value: string | undefined): string | undefined {
  const id = value?.trim();
  return id && id.length <= 200 && /^[\x20-\x7e]+$/.test(id) ? id : undefined;
}

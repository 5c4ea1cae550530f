/**
 * The secret a client presents, from the headers the OpenAI and Azure SDKs use:
 * `Authorization: Bearer …`, `X-API-Key` or `api-key`. Undefined when none is present.
 */
export function presentedSecret(get: (name: string) => string | undefined): string | undefined {
  const auth = get('authorization');
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  return get('x-api-key')?.trim() || get('api-key')?.trim() || undefined;
}

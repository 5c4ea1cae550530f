/**
 * Credentials the content filter's `secrets` detector knows, assembled at run time so that no
 * secret-shaped literal is in the repository.
 */

/** `n` characters of a fixed pattern of letters and digits (the random-looking part of a token). */
export const mixed = (n: number): string => Array.from({ length: n }, (_, i) => 'Qx7Lm2Rt'[i % 8]).join('');

/** An OpenAI project key. */
export const OPENAI_PROJECT_KEY = `sk-proj-${mixed(48)}`;

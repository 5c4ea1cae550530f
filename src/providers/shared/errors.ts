import { GatewayError } from '../../domain/errors';

/**
 * The 400s a request translator raises for what the provider cannot take. The gateway answers
 * them in OpenAI's error shape without calling the provider.
 */

/** A parameter whose value is wrong (`code` defaults to `invalid_value`). */
export const invalidValue = (message: string, param: string | null, code = 'invalid_value'): GatewayError => new GatewayError(400, code, message, { param });

/** A parameter (or a value of it) the provider has no equivalent for. */
export const unsupportedParameter = (message: string, param: string): GatewayError => new GatewayError(400, 'unsupported_parameter', message, { param });

/** An endpoint (embeddings, responses...) the provider does not offer. */
export const unsupportedEndpoint = (message: string): GatewayError => new GatewayError(400, 'unsupported_endpoint', message);

import { allowsModel, allowsProvider, type Principal } from '../domain';
import { GatewayError } from '../domain/errors';

/**
 * The caller's allowed models, checked by the core whenever a request gets a target, whatever
 * plugin chose it: a routing plugin of one's own cannot route around them.
 */
export function modelDenied(principal: Principal | undefined, model: string | undefined): GatewayError | undefined {
  if (!model || allowsModel(principal, model)) return undefined;
  return new GatewayError(403, 'model_not_allowed', `This key is not allowed to use the model \`${model}\`.`, { param: 'model' });
}

/** The caller's allowed providers, checked for every upstream attempt (fallbacks included). */
export function providerDenied(principal: Principal | undefined, provider: string): GatewayError | undefined {
  if (allowsProvider(principal, provider)) return undefined;
  const who = principal!.kind === 'mtls' ? 'identity' : 'key';
  return new GatewayError(403, 'provider_not_allowed', `This ${who} is not allowed to use the provider \`${provider}\`.`, { param: 'model' });
}

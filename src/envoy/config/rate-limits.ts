import type { GatewayConfig } from '../../config/types';
import { MATCH_FIELDS } from '../../ratelimit/config';
import { hasTokenRules } from '../../ratelimit/config';
import { CHECK_METADATA, DIMENSION_METADATA, METADATA_NAMESPACE, PRINCIPAL_METADATA, QUOTA_METADATA, TOKENS_METADATA } from '../metadata';

/**
 * Envoy's side of rate limiting:
 *
 * - `envoy.filters.http.local_ratelimit` first in the chain (when `rate_limits.local` is set):
 *   a per-instance token bucket over all LLM traffic, a backstop that needs no processor.
 * - `envoy.filters.http.ratelimit` after ext_proc and before the router: ext_proc has published
 *   the caller's dimensions as dynamic metadata by then (request body phase), so the global
 *   limits are checked with them before anything goes upstream.
 * - On the LLM routes, the filter's per-route policies build the descriptors (see
 *   src/ratelimit/descriptors.ts); the token one on stream done takes its hits from the usage
 *   ext_proc reports at the end of the response.
 */

export const RATE_LIMIT_FILTER = 'envoy.filters.http.ratelimit';
export const LOCAL_RATE_LIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
const RATE_LIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit';
const RATE_LIMIT_PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute';
const LOCAL_RATE_LIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** Namespaces of dynamic metadata the downstream ext_proc filter may write (its `metadata_options`). */
export function extProcMetadataOptions(): object {
  return { receiving_namespaces: { untyped: [METADATA_NAMESPACE] } };
}

const percent = (n: number, key: string) => ({ default_value: { numerator: n, denominator: 'HUNDRED' }, runtime_key: key });

/** The local limit (before ext_proc) when configured. */
export function localRateLimitFilters(config: GatewayConfig): object[] {
  const local = config.rate_limits?.local;
  if (!local) return [];
  return [
    {
      name: LOCAL_RATE_LIMIT_FILTER,
      typed_config: {
        '@type': LOCAL_RATE_LIMIT_TYPE,
        stat_prefix: 'gateway_local_rate_limit',
        token_bucket: { max_tokens: local.burst ?? local.requests_per_second, tokens_per_fill: local.requests_per_second, fill_interval: '1s' },
        // Envoy applies and enforces the local limit on 0% of requests unless told otherwise.
        filter_enabled: percent(100, 'local_rate_limit.enabled'),
        filter_enforced: percent(100, 'local_rate_limit.enforced'),
        response_headers_to_add: [{ header: { key: 'x-ratelimit-scope', value: 'gateway-instance' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      },
    },
  ];
}

/** The global rate limit filter (after ext_proc, before the router). */
export function globalRateLimitFilters(config: GatewayConfig, processorCluster: string): object[] {
  const rl = config.rate_limits;
  return [
    {
      name: RATE_LIMIT_FILTER,
      typed_config: {
        '@type': RATE_LIMIT_TYPE,
        domain: rl.domain,
        // Only requests whose route has policies (the LLM routes) call the service.
        request_type: 'both',
        timeout: `${rl.timeout_ms / 1000}s`,
        failure_mode_deny: rl.failure_mode === 'fail_closed',
        // Service unreachable under fail_closed: 503 (see local-reply.ts), not Envoy's default 500.
        status_on_error: { code: 'ServiceUnavailable' },
        rate_limited_status: { code: 'TooManyRequests' },
        enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
        disable_x_envoy_ratelimited_header: true,
        rate_limit_service: {
          grpc_service: { envoy_grpc: { cluster_name: processorCluster } },
          transport_api_version: 'V3',
        },
      },
    },
  ];
}

const metadataAction = (descriptorKey: string, metadataKey: string, required = false) => ({
  metadata: {
    descriptor_key: descriptorKey,
    metadata_key: { key: METADATA_NAMESPACE, path: [{ key: metadataKey }] },
    source: 'DYNAMIC',
    ...(required ? {} : { skip_if_absent: true }),
  },
});

const kind = (value: 'requests' | 'tokens') => ({ generic_key: { descriptor_key: 'kind', descriptor_value: value } });

/** The caller and model dimensions, each present only when the processor published it. */
const dimensions = () => MATCH_FIELDS.map((f) => metadataAction(f, DIMENSION_METADATA[f]));

/**
 * The LLM routes' rate limit policies (as the filter's per-route config, which supports
 * per-descriptor `hits_addend`): requests counted before the request goes upstream; when any
 * rule limits tokens, a token check before (hits 0: refused once a counter is past its limit)
 * and the real usage charged on stream done.
 */
export function rateLimitPerRoute(config: GatewayConfig): Record<string, object> {
  // The `check` entry is required: without the processor's word that a limit applies, no call.
  const check = (k: 'requests' | 'tokens') => metadataAction('check', CHECK_METADATA[k], true);
  const policies: object[] = [
    { actions: [kind('requests'), check('requests'), ...dimensions(), metadataAction('quota', QUOTA_METADATA), metadataAction('principal', PRINCIPAL_METADATA)] },
  ];
  if (hasTokenRules(config.rate_limits)) {
    policies.push(
      { actions: [kind('tokens'), check('tokens'), ...dimensions()], hits_addend: { number: 0 } },
      {
        actions: [kind('tokens'), check('tokens'), ...dimensions()],
        // Absent (no usage reported, or the request never reached a provider): nothing is charged.
        hits_addend: { format: `%DYNAMIC_METADATA(${METADATA_NAMESPACE}:${TOKENS_METADATA})%` },
        apply_on_stream_done: true,
      },
    );
  }
  return { [RATE_LIMIT_FILTER]: { '@type': RATE_LIMIT_PER_ROUTE_TYPE, rate_limits: policies } };
}

/** Admin routes (/health, /metrics, ...) are not LLM traffic: the local limit leaves them alone. */
export function adminRouteRateLimitOverrides(config: GatewayConfig): Record<string, object> {
  if (!config.rate_limits?.local) return {};
  return {
    [LOCAL_RATE_LIMIT_FILTER]: {
      '@type': LOCAL_RATE_LIMIT_TYPE,
      stat_prefix: 'gateway_local_rate_limit_admin',
      // Envoy wants a bucket in every per-route config; enabled for 0% of requests, it is unused.
      token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: '1s' },
      filter_enabled: percent(0, 'local_rate_limit.admin_enabled'),
    },
  };
}

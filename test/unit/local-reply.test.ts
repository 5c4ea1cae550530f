import { localReplyConfig } from '../../src/envoy/config/local-reply';

/** Every status Envoy answers on its own gets an OpenAI-shaped JSON body. */
test('local replies: processor replies kept, ext_proc failures and Envoy statuses mapped to OpenAI JSON', () => {
  const cfg = localReplyConfig() as any;
  const [processor, extproc, rateLimited, rateLimitError, ...rest] = cfg.mappers;
  const byStatus = rest.filter((m: any) => m.filter.status_code_filter);
  expect(processor.filter.extension_filter.typed_config.expression).toContain("'gateway_'");
  expect(processor.body_format_override.text_format_source).toEqual({ inline_string: '%LOCAL_REPLY_BODY%' });
  expect(extproc.status_code).toBe(503);
  expect(extproc.body_format_override.json_format.error.code).toBe('processor_unavailable');
  // The rate limit service's own OpenAI body is kept; its failure under fail_closed is a 503.
  expect(rateLimited.filter.extension_filter.typed_config.expression).toContain("'request_rate_limited'");
  expect(rateLimited.body_format_override.text_format_source).toEqual({ inline_string: '%LOCAL_REPLY_BODY%' });
  expect(rateLimitError.status_code).toBe(503);
  expect(rateLimitError.body_format_override.json_format.error.code).toBe('rate_limit_unavailable');
  const statuses = byStatus.map((m: any) => m.filter.status_code_filter.comparison.value.default_value);
  expect(statuses).toEqual(expect.arrayContaining([400, 403, 408, 413, 414, 426, 429, 431, 500, 502, 503, 504]));
  // Client faults Envoy answers itself are 4xx client error types, never server_error.
  for (const m of byStatus.filter((x: any) => x.filter.status_code_filter.comparison.value.default_value < 500)) {
    expect(m.body_format_override.json_format.error.type).not.toBe('server_error');
  }
  const transferEncoding = rest.find((m: any) => m.filter.extension_filter?.typed_config.expression.includes('invalid_transfer_encoding'));
  expect(transferEncoding.status_code).toBe(400);
  for (const m of byStatus) {
    expect(Object.keys(m.body_format_override.json_format.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(m.body_format_override.content_type).toBe('application/json');
  }
  const r429 = byStatus.find((m: any) => m.filter.status_code_filter.comparison.value.default_value === 429);
  expect(r429.headers_to_add[0].header).toEqual({ key: 'retry-after', value: '1' });
  expect(cfg.body_format.json_format.error).toBeDefined();
});

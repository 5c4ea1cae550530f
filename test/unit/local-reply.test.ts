import { localReplyConfig } from '../../src/envoy/config/local-reply';

/** Every status Envoy answers on its own gets an OpenAI-shaped JSON body. */
test('local replies: processor replies kept, ext_proc failures and Envoy statuses mapped to OpenAI JSON', () => {
  const cfg = localReplyConfig() as any;
  const [processor, ...others] = cfg.mappers;
  // Messages paths' mappers (and_filter on the path) are checked in the test below.
  const [extproc, rateLimited, rateLimitError, ...rest] = others.filter((m: any) => !m.filter.and_filter);
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

/** On Anthropic Messages paths the same replies take Anthropic's error shape, before OpenAI's mappers. */
test('local replies on /v1/messages: Anthropic-shaped, after the processor pass-through, before the OpenAI mappers', () => {
  const cfg = localReplyConfig() as any;
  const mappers: any[] = cfg.mappers;
  const anthropic = mappers.filter((m) => m.filter.and_filter);
  const firstOpenAI = mappers.findIndex((m, i) => i > 0 && !m.filter.and_filter);
  expect(mappers.indexOf(anthropic[0])).toBe(1);
  expect(mappers.indexOf(anthropic[anthropic.length - 1])).toBeLessThan(firstOpenAI);
  const openAICount = mappers.length - 1 - anthropic.length;
  // One per OpenAI mapper, plus a catch-all for any other status.
  expect(anthropic.length).toBe(openAICount + 1);
  for (const m of anthropic) {
    const path = m.filter.and_filter.filters.find((f: any) => f.header_filter);
    expect(path.header_filter.header).toEqual({ name: ':path', string_match: { prefix: '/v1/messages' } });
    expect(m.body_format_override.json_format.type).toBe('error');
    expect(Object.keys(m.body_format_override.json_format.error).sort()).toEqual(['message', 'type']);
  }
  const typeFor = (status: number) =>
    anthropic.find((m) => m.filter.and_filter.filters[0].status_code_filter?.comparison.value.default_value === status)?.body_format_override.json_format.error.type;
  expect(typeFor(429)).toBe('rate_limit_error');
  expect(typeFor(404)).toBe('not_found_error');
  expect(typeFor(413)).toBe('request_too_large');
  expect(typeFor(400)).toBe('invalid_request_error');
  expect(typeFor(503)).toBe('api_error');
  expect(typeFor(504)).toBe('timeout_error');
  // The rate limit service's OpenAI body is replaced on these paths; its headers stay.
  const limited = anthropic.find((m) => JSON.stringify(m.filter).includes('request_rate_limited'));
  expect(limited.body_format_override.json_format.error.type).toBe('rate_limit_error');
});

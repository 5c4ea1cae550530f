import { qualifiedName, qualifiedUri, splitName, splitUri } from '../../src/mcp/names';

describe('MCP name mapping', () => {
  test('tool and prompt names are <server>__<name> and split back at the first __', () => {
    expect(qualifiedName('weather', 'forecast')).toBe('weather__forecast');
    expect(splitName('weather__forecast')).toEqual({ server: 'weather', name: 'forecast' });
    // The upstream name may itself contain `__`.
    expect(splitName(qualifiedName('files', 'read__all'))).toEqual({ server: 'files', name: 'read__all' });
    expect(splitName('my_server__x')).toEqual({ server: 'my_server', name: 'x' });
  });

  test.each([['forecast'], ['__forecast'], ['weather__'], ['Weather__x'], ['a b__x'], ['__proto____x'], [42], [undefined], ['x'.repeat(40) + '__t']])(
    '%p is not a namespaced name',
    (name) => expect(splitName(name)).toBeUndefined(),
  );

  test('resource URIs are mcp://<server>/<upstream uri>, the upstream URI kept verbatim', () => {
    expect(qualifiedUri('weather', 'weather://today')).toBe('mcp://weather/weather://today');
    expect(splitUri('mcp://weather/weather://today')).toEqual({ server: 'weather', name: 'weather://today' });
    expect(splitUri(qualifiedUri('files', 'file:///etc/a b?x=1#y'))).toEqual({ server: 'files', name: 'file:///etc/a b?x=1#y' });
    // Templates use the same prefix, so an expanded template reads back.
    expect(splitUri(qualifiedUri('files', 'file:///{path}').replace('{path}', 'x/y'))).toEqual({ server: 'files', name: 'file:///x/y' });
  });

  test.each([['weather://today'], ['mcp://weather'], ['mcp://weather/'], ['mcp:///x'], ['mcp://We/x'], [null]])('%p is not a namespaced URI', (uri) =>
    expect(splitUri(uri)).toBeUndefined(),
  );
});

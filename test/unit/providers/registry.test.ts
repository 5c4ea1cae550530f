import fs from 'node:fs';
import path from 'node:path';
import { translatorFor as registryTranslatorFor } from '../../../src/control/provider-registry';
import { PROVIDER_MODULES, translatorFor, type ProviderModule } from '../../../src/providers/translators';

const PROVIDERS_DIR = path.join(__dirname, '../../../src/providers');
/** Folders under src/providers that hold building blocks, not a provider. */
const NOT_PROVIDERS = new Set(['shared']);
/** The file roles src/providers/README.md allows in a provider folder. */
const ROLES = new Set(['index.ts', 'request.ts', 'response.ts', 'stream.ts', 'native.ts', 'schema.ts']);
/** Files kept only until an import outside src/providers moves (see the file's own comment). */
const DEPRECATED = new Set(['google/common.ts']);

const folders = fs
  .readdirSync(PROVIDERS_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !NOT_PROVIDERS.has(e.name))
  .map((e) => e.name)
  .sort();

test('there are provider folders to check', () => {
  expect(folders.length).toBeGreaterThan(0);
});

describe.each(folders)('provider folder %s', (folder) => {
  const dir = path.join(PROVIDERS_DIR, folder);

  test('is listed in the static registry (src/providers/translators.ts)', () => {
    expect(Object.keys(PROVIDER_MODULES)).toContain(folder);
  });

  test("the registry entry is the folder's own index", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(dir) as ProviderModule;
    expect(mod.translator).toBeDefined();
    expect(Array.isArray(mod.aliases)).toBe(true);
    expect(PROVIDER_MODULES[folder]?.translator).toBe(mod.translator);
    expect(PROVIDER_MODULES[folder]?.aliases).toEqual(mod.aliases);
  });

  test('its type and aliases resolve to its translator', () => {
    const { translator, aliases } = PROVIDER_MODULES[folder]!;
    for (const name of [translator.type, ...aliases]) {
      expect(translatorFor(name)).toBe(translator);
      expect(registryTranslatorFor(name)).toBe(translator);
    }
  });

  test('holds only the documented file roles', () => {
    const files = fs.readdirSync(dir).filter((f) => !DEPRECATED.has(`${folder}/${f}`));
    expect(files).toContain('index.ts');
    expect(files.filter((f) => !ROLES.has(f))).toEqual([]);
    // A folder that translates requests has the whole set; one that only reuses another translator has just index.ts.
    if (files.includes('request.ts')) expect(files).toEqual(expect.arrayContaining(['request.ts', 'response.ts', 'stream.ts']));
    else expect(files).toEqual(['index.ts']);
  });
});

test.each(Object.keys(PROVIDER_MODULES))('registry entry %s has a folder', (name) => {
  expect(folders).toContain(name);
});

test('no provider type is claimed twice', () => {
  const names = Object.values(PROVIDER_MODULES).flatMap((m) => [m.translator.type, ...m.aliases]);
  expect(new Set(names).size).toBe(names.length);
});

test('the configurable types are the ones the folder scan used to register', () => {
  const names = Object.values(PROVIDER_MODULES).flatMap((m) => [m.translator.type, ...m.aliases]);
  expect(names.sort()).toEqual(['anthropic', 'cohere', 'gemini', 'google', 'hf', 'huggingface', 'llama', 'meta', 'openai', 'openai-compatible']);
});

test.each(['', 'nope', 'constructor', '__proto__', 'shared', 'OpenAI'])('unknown type %j has no translator', (name) => {
  expect(translatorFor(name)).toBeUndefined();
});

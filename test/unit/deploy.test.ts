import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../../src/config/load';
import { gatewayBootstrap, renderBootstrap } from '../../src/envoy/config/bootstrap';
import { providerRuntimes } from '../../src/processor';

/** The checked-in deployment files must match what the code generates and must validate. */

const ROOT = path.resolve(__dirname, '..', '..');
const log = pino({ level: 'silent' });

function generated(configPath: string | undefined, cwd: string): string {
  const config = loadConfig({ path: configPath, cwd, env: {} });
  return renderBootstrap(gatewayBootstrap(config, providerRuntimes(config, log)));
}

test.each([
  ['envoy/envoy.example.yaml', undefined, path.join(ROOT, 'envoy')],
  ['envoy/envoy.compose.yaml', 'deploy/gateway.compose.yaml', ROOT],
])('%s is up to date (regenerate with npm run envoy:examples)', (file, config, cwd) => {
  expect(fs.readFileSync(path.join(ROOT, file), 'utf8')).toBe(generated(config, cwd));
});

// CI installs a Compose tool (.ci/run); on a developer machine without one this check is skipped.
const hasCompose = process.env.CI === 'true' || fs.existsSync('/usr/bin/docker-compose');
(hasCompose ? test : test.skip)('docker-compose.yml passes `compose config`', async () => {
  const { stdout } = await promisify(execFile)('bash', [path.join(ROOT, 'scripts/check-compose.sh')]);
  expect(stdout).toContain('check-compose:');
});

import fs from 'node:fs';
import path from 'node:path';
import type { GatewayConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import type { KeyInfo } from '../plugins/types';
import type { VirtualKeyRecord } from '../store/types';
import type { KeyService } from './service';

/** A key as plugins see it: its settings, never its digest or provider credential. */
export const keyInfo = (r: VirtualKeyRecord): KeyInfo => ({
  id: r.id,
  name: r.name,
  user: r.user,
  team: r.team,
  tier: r.tier,
  roles: r.roles,
  provider: r.provider,
  allowedModels: r.allowedModels,
  allowedProviders: r.allowedProviders,
  quotaLimit: r.quotaLimit,
  tokenBudget: r.tokenBudget,
  budgetUsd: r.budgetUsd,
  metadata: r.metadata,
});

/** keys.json (or $KEYS_FILE), inline entries and admin keys from the configuration. */
export async function importKeys(config: GatewayConfig, keys: KeyService, log: Logger, env: NodeJS.ProcessEnv): Promise<void> {
  const explicit = config.keys.file ?? env.KEYS_FILE;
  const file = path.resolve(config.base_dir, explicit ?? 'keys.json');
  if (explicit || fs.existsSync(file)) {
    const n = await keys.importFile(file);
    log.info({ file, keys: n }, 'virtual keys imported');
  }
  for (const [secret, spec] of Object.entries(config.keys.entries)) await keys.importKey({ secret }, spec, 'config');
  for (const a of config.keys.admin) {
    await keys.importKey({ secret: a.key, sha256: a.sha256 }, { name: a.id, roles: ['admin', 'completion', 'embedding'] }, 'config', a.id);
  }
  if (env.GATEWAY_ADMIN_KEY) {
    await keys.importKey({ secret: env.GATEWAY_ADMIN_KEY }, { name: 'env-admin', roles: ['admin', 'completion', 'embedding'] }, 'config', 'env-admin');
  }
}

import fs from 'node:fs';
import path from 'node:path';
import type { GatewayConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import type { KeyInfo } from '../domain';
import type { ImportedKeySource, VirtualKeyRecord } from '../store/types';
import { hashSecret } from './secrets';
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

const ADMIN_ROLES = ['admin', 'completion', 'embedding'];

/**
 * keys.json (or $KEYS_FILE), inline entries and admin keys from the configuration, imported at
 * every start. Imported keys follow their source: changed settings are updated, keys no longer
 * listed are revoked, and a revocation is never undone (see KeyService.importKey). Keys created
 * through the API are left alone.
 */
export async function importKeys(config: GatewayConfig, keys: KeyService, log: Logger, env: NodeJS.ProcessEnv): Promise<void> {
  const explicit = config.keys.file ?? env.KEYS_FILE;
  const file = path.resolve(config.base_dir, explicit ?? 'keys.json');
  // Without any keys file, keys imported from one earlier are left as they are: a file that is
  // merely missing (a wrong folder) must not revoke them all for good. An empty file does.
  if (explicit || fs.existsSync(file)) {
    const imported = await keys.importFile(file);
    log.info({ file, keys: imported.length }, 'virtual keys imported');
    await settle(keys, 'file', imported, log);
  }
  const imported: VirtualKeyRecord[] = [];
  for (const [secret, spec] of Object.entries(config.keys.entries)) imported.push(await keys.importKey({ secret }, spec, 'config'));
  for (const a of config.keys.admin) {
    const rec = await keys.importKey({ secret: a.key, sha256: a.sha256 }, { name: a.id, roles: ADMIN_ROLES }, 'config', a.id);
    // The id is taken by a revoked key or an API-created one, which an import never changes.
    if (rec.hash !== (a.sha256 ?? hashSecret(a.key!))) {
      log.warn({ key_id: a.id }, 'keys.admin: this id belongs to a revoked or API-created key, so its key was not imported; use another id');
    }
    imported.push(rec);
  }
  // Its id comes from its digest like an entry's: a new value is a new key, and the old one is retired.
  if (env.GATEWAY_ADMIN_KEY) imported.push(await keys.importKey({ secret: env.GATEWAY_ADMIN_KEY }, { name: 'env-admin', roles: ADMIN_ROLES }, 'config'));
  await settle(keys, 'config', imported, log);
}

/** Revokes the keys of a source that it no longer lists, and says which listed keys stay revoked. */
async function settle(keys: KeyService, source: ImportedKeySource, listed: VirtualKeyRecord[], log: Logger): Promise<void> {
  const where = source === 'file' ? 'the keys file' : 'the configuration';
  const stillRevoked = listed.filter((r) => r.revokedAt !== null).map((r) => r.id);
  if (stillRevoked.length) log.info({ source, key_ids: stillRevoked }, `keys in ${where} stay revoked: a revocation is permanent`);
  const revoked = await keys.revokeUnlisted(source, listed.map((r) => r.id));
  if (revoked.length) log.warn({ source, key_ids: revoked }, `keys no longer in ${where} revoked`);
}

// @ts-check
// Who created which import through the proxy (proxy.js), so that each caller sees only their own.
// Dromo's answers do not echo `import_metadata`, so the proxy has to remember; Exa's echo
// `metadata`, where the proxy also writes the owner, but listing one caller's imports still needs
// an index. This file is the in-memory store and the interface a shared one implements.

import { ValidationError } from './errors.js';

/**
 * Where the proxy records ownership. Every method may return a value or a promise of it, so a
 * shared store (Redis, a SQL table) fits as well as this file's in-memory one. `provider` is
 * `'dromo'` or `'exa'`; ids are the providers' import ids; `identity` is what `authorize`
 * returned.
 * @typedef {object} OwnershipStore
 * @property {(provider: string, id: string, identity: string) => unknown} add records that
 *   `identity` created import `id`
 * @property {(provider: string, id: string) => (string | null | undefined | Promise<string | null | undefined>)} owner
 *   who created import `id` (nullish: unknown)
 * @property {(provider: string, id: string) => unknown} remove forgets import `id` (deleted)
 * @property {(provider: string, identity: string, page: { offset: number, limit: number }) => ({ ids: string[], total: number } | Promise<{ ids: string[], total: number }>)} list
 *   the ids `identity` created, newest first: `page.limit` of them from `page.offset`, and how
 *   many there are in all
 */

/**
 * An in-memory OwnershipStore: fine for one server process. Behind a load balancer, give every
 * instance the same shared store instead (see the README). Keeps at most `maxImports` imports,
 * forgetting the oldest first (whose owners then lose access through the proxy).
 * @param {{ maxImports?: number }} [options]
 * @returns {OwnershipStore}
 */
export function memoryOwnershipStore(options = {}) {
  // Bad options are the package's ValidationError (code `validation_error`), like every error it throws.
  if (options === null || typeof options !== 'object') throw new ValidationError('memoryOwnershipStore: options must be an object', { path: 'options' });
  let max;
  try {
    max = options.maxImports ?? 100_000;
  } catch {
    throw new ValidationError('memoryOwnershipStore: options cannot be read', { path: 'options.maxImports' });
  }
  if (!Number.isInteger(max) || max < 1) throw new ValidationError('memoryOwnershipStore: maxImports must be a positive integer', { path: 'options.maxImports' });
  /** Insertion order is creation order: a Map iterates oldest first. @type {Map<string, string>} */
  const owners = new Map();
  /** @type {Map<string, string[]>} identity -> keys, oldest first */
  const byIdentity = new Map();
  const key = (/** @type {string} */ provider, /** @type {string} */ id) => `${provider}\u0000${id}`;
  const drop = (/** @type {string} */ k) => {
    const who = owners.get(k);
    if (who === undefined) return;
    owners.delete(k);
    const list = byIdentity.get(who);
    if (!list) return;
    const at = list.indexOf(k);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) byIdentity.delete(who);
  };
  return {
    add(provider, id, identity) {
      const k = key(provider, id);
      drop(k);
      owners.set(k, identity);
      const list = byIdentity.get(identity) ?? [];
      list.push(k);
      byIdentity.set(identity, list);
      while (owners.size > max) drop(/** @type {string} */ (owners.keys().next().value));
    },
    owner(provider, id) {
      return owners.get(key(provider, id));
    },
    remove(provider, id) {
      drop(key(provider, id));
    },
    list(provider, identity, { offset, limit }) {
      const prefix = `${provider}\u0000`;
      const mine = (byIdentity.get(identity) ?? []).filter((k) => k.startsWith(prefix));
      const newest = mine.reverse();
      return { ids: newest.slice(offset, offset + limit).map((k) => k.slice(prefix.length)), total: newest.length };
    },
  };
}

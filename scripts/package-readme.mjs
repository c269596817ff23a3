// @ts-check
// Writes pkg/README.md from the repository's README for npm, where relative links resolve against
// the package, not the repository: a link to a file the tarball ships (`pkg/index.d.ts`) becomes
// package-relative (`index.d.ts`); any other (BENCHMARKS.md, www/, screenshots) becomes an
// absolute link into the repository named by package.json's `repository`.
// Usage: node scripts/package-readme.mjs README.md pkg
import fs from 'node:fs';
import path from 'node:path';

const [readme, pkgDir] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
const repo = String(pkg.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '');
if (!/^https:\/\//.test(repo)) throw new Error('package.json needs repository.url (https)');
const prefix = `${path.basename(pkgDir)}/`;

const text = fs.readFileSync(readme, 'utf8').replace(/\]\(([^)#\s]+)(#[^)\s]*)?\)/g, (whole, target, hash = '') => {
  if (/^[a-z]+:/i.test(target)) return whole;
  if (target.startsWith(prefix) && fs.existsSync(path.join(pkgDir, target.slice(prefix.length)))) {
    return `](${target.slice(prefix.length)}${hash})`;
  }
  const kind = /\.(png|jpe?g|gif|svg)$/i.test(target) ? 'raw' : target.endsWith('/') ? 'tree' : 'blob';
  return `](${repo}/${kind}/main/${target}${hash})`;
});
fs.writeFileSync(path.join(pkgDir, 'README.md'), text);

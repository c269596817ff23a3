// Bulk: N importFile calls started at once against the emulator (scaled clock), client rateLimit
// { windowMs }. node bulk-child.mjs <api> <control> <n> <windowMs> <mode: bulk|single>
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [api, control, nArg, winArg, mode] = process.argv.slice(2);
const n = Number(nArg), windowMs = Number(winArg);
const pkg = await import(path.join(process.env.HI_PKG_DIR, 'esm.mjs'));
const CONTACTS = '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-bench-bulk-'));
const csv = path.join(dir, 'contacts.csv');
fs.writeFileSync(csv, 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\nGrace,Hopper,grace@example.com,85\n');
try {
  await fetch(`${control}/reset`, { method: 'POST' });
  const dromo = new pkg.Dromo({ apiKey: 'test-dromo-key', baseUrl: api, rateLimit: { windowMs } });
  // Polls at the library's own pace (quick first polls); the limiter keeps 12 per window per import.
  const opts = { schema_id: CONTACTS, timeoutMs: 120_000 };
  const file = await pkg.fileFromPath(csv);
  const count = mode === 'single' ? 1 : n;
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: count }, () => dromo.importFile(file, opts)));
  const ms = performance.now() - t0;
  const stats = await (await fetch(`${control}/stats`)).json();
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value.import.status === 'SUCCESSFUL').length;
  const firstError = results.find((r) => r.status === 'rejected')?.reason;
  console.log(JSON.stringify({ mode, count, ms, ok, throttled: stats.throttled, creates: stats.requests['dromo.create'], retrieves: stats.requests['dromo.retrieve'], error: firstError ? String(firstError) : undefined }));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

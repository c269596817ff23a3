// Shared helpers for the benchmark suite: child processes, memory readings, data generation, stats.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH, '..');
export const MiB = 1024 * 1024;

export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** First quartile, median and third quartile (the medians of the lower and upper halves). */
export const quartiles = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const h = s.length >> 1;
  return [median(s.slice(0, h)), median(s), median(s.slice(s.length - h))];
};

/** Reads a field of /proc/self/status in bytes (VmRSS, VmHWM). */
export function procStatus(field, pid = 'self') {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resets this process's peak RSS (VmHWM) so it measures only what follows. Returns false if not allowed. */
export function resetPeak() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Peak RSS tracker: resets VmHWM (and also samples rss every 50 ms as a fallback) from `start()`;
 * `stop()` returns { base, peak, growth } in bytes.
 */
export function peakTracker() {
  let base = 0, sampled = 0, timer, reset = false;
  return {
    start() {
      globalThis.gc?.();
      reset = resetPeak();
      base = procStatus('VmRSS');
      sampled = base;
      timer = setInterval(() => { sampled = Math.max(sampled, process.memoryUsage.rss()); }, 50);
    },
    stop() {
      clearInterval(timer);
      sampled = Math.max(sampled, process.memoryUsage.rss());
      const peak = reset ? Math.max(procStatus('VmHWM'), sampled) : sampled;
      return { base, peak, growth: peak - base, hwmReset: reset };
    },
  };
}

/**
 * Runs `node script args` and resolves with the JSON on its last stdout line. Bounded by `timeoutMs`.
 */
export function runChild(script, args = [], { env = {}, timeoutMs = 300_000, nodeArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, path.join(BENCH, script), ...args.map(String)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code ?? sig}`);
        resolve(JSON.parse(last));
      } catch (e) {
        reject(new Error(`${script} ${args.join(' ')}: ${e.message}\n${out.slice(-2000)}\n${err.slice(-2000)}`));
      }
    });
  });
}

/**
 * Starts a long-lived node child (a server) that prints one JSON ready line; resolves with
 * { ...ready, pid, stop }. It exits when its stdin closes.
 */
export async function startServer(script, env = {}) {
  const child = spawn(process.execPath, [path.join(BENCH, script)], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${script}: no ready line in 10 s`)), 10_000);
    child.once('exit', (c) => reject(new Error(`${script} exited early with ${c}`)));
    lines.once('line', (l) => { clearTimeout(t); resolve(JSON.parse(l)); });
  });
  child.removeAllListeners('exit');
  return {
    ...ready,
    pid: child.pid,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.stdin.end();
      setTimeout(() => child.kill('SIGTERM'), 2000).unref();
    }),
  };
}

// CSV data: a block of records, a fifth of which hold a quoted field with a newline (and a quoted
// comma and an escaped quote), so a split on '\n' over-counts. Every block is the same bytes.
const HEADER = 'id,name,email,company,notes\n';
function block(seed) {
  let s = '', records = 0;
  for (let i = 0; i < 1000; i++) {
    const n = seed * 1000 + i;
    s += i % 5 === 0
      ? `${n},"Ada ""The Countess"" Lovelace",ada${n}@example.com,"Analytical, Engines Ltd","line one\nline two"\n`
      : `${n},Grace Hopper ${n},grace${n}@example.com,Navy Computing,plain note about record ${n}\n`;
    records++;
  }
  return { buf: Buffer.from(s), records };
}

/**
 * Writes a CSV of about `bytes` bytes (whole blocks, real bytes, not sparse) to `file`. Returns
 * { size, records, newlines } where records excludes the header (the true RFC 4180 count) and
 * newlines is what exa-js's split('\n') + filter counts as records.
 */
export async function writeCsv(file, bytes) {
  const fd = fs.openSync(file, 'w');
  let size = 0, records = 0, lines = 0;
  try {
    fs.writeSync(fd, HEADER);
    size += HEADER.length;
    const { buf, records: per } = block(0);
    const perLines = buf.toString().split('\n').filter((l) => l.trim().length > 0).length;
    // ~8 MiB writes of the same block repeated.
    const reps = Math.max(1, Math.floor((8 * MiB) / buf.length));
    const big = Buffer.concat(Array(reps).fill(buf));
    while (size + big.length <= bytes) {
      fs.writeSync(fd, big);
      size += big.length; records += per * reps; lines += perLines * reps;
    }
    while (size + buf.length <= bytes) {
      fs.writeSync(fd, buf);
      size += buf.length; records += per; lines += perLines;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { size, records, splitCount: lines };
}

export const fmtMB = (b) => `${(b / 1e6).toFixed(1)} MB`;
export const fmtMiB = (b) => `${(b / MiB).toFixed(1)} MiB`;

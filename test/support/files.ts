/**
 * Reading what a run left on disk, directly from the files: Delta log entries, data files,
 * and the stream checkpoints' offset ranges. No lake code is involved, so these check it.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The actions of one commit file of a table. */
export function readLogEntry(tablePath: string, version: number): Record<string, any>[] {
  const file = path.join(tablePath, '_delta_log', `${String(version).padStart(20, '0')}.json`);
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

/** Every regular file under `dir` (relative, `/`-separated), `_delta_log` excluded. */
export function dataFilesOnDisk(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === '_delta_log') continue;
      const abs = path.join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else out.push(path.relative(dir, abs).split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** Copies a folder (the golden tables are read-only) and makes the copy writable. */
export function copyWritable(src: string, dst: string): void {
  fs.cpSync(src, dst, { recursive: true });
  const walk = (p: string) => {
    fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
    if (fs.statSync(p).isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dst);
}

/** One partition range a stream planned: `offsets/<batchId>` of stream `stream`. */
export interface OffsetRange {
  stream: number;
  batchId: number;
  partition: number;
  from: number;
  until: number;
}

/** Every `offsets/<id>` range of every stream under `<dir>/lake/_checkpoints`. */
export function readOffsetRanges(dir: string): OffsetRange[] {
  const root = path.join(dir, 'lake', '_checkpoints');
  const out: OffsetRange[] = [];
  for (const s of fs.readdirSync(root).filter((n) => /^\d+$/.test(n))) {
    const offsetsDir = path.join(root, s, 'offsets');
    if (!fs.existsSync(offsetsDir)) continue;
    for (const f of fs.readdirSync(offsetsDir).filter((n) => /^\d+$/.test(n))) {
      const entry = JSON.parse(fs.readFileSync(path.join(offsetsDir, f), 'utf8')) as { ranges: Record<string, [number, number]> };
      for (const [p, [from, until]] of Object.entries(entry.ranges)) out.push({ stream: Number(s), batchId: Number(f), partition: Number(p), from, until });
    }
  }
  return out;
}

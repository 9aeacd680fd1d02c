/**
 * Tables in a local (or shared) folder. Put-if-absent is a hard link of a fully written
 * temp file, which fails with EEXIST instead of overwriting or exposing half a file; on file
 * systems without hard links an exclusive create is used instead.
 *
 * Everything a commit references is durable before the commit is: data files DuckDB wrote
 * (`upload`) and staged files (`publish`) are fsynced with the folders that name them, and a
 * log entry's folder is fsynced once it holds the entry. So a machine that loses power after
 * the stream's checkpoint said a batch was committed still has the batch in its tables (the
 * checkpoint's own files are fsynced likewise, see runtime/atomic-file.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { StoredFile, TableStorage } from './index.js';

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** A table in a local folder; relative paths map to files under {@link LocalStorage.root}. */
export class LocalStorage implements TableStorage {
  constructor(readonly root: string) {}

  localPath(rel: string): string {
    return path.join(this.root, rel);
  }

  async read(rel: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.localPath(rel));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async exists(rel: string): Promise<boolean> {
    return fs.access(this.localPath(rel)).then(() => true, () => false);
  }

  async list(rel: string): Promise<string[]> {
    try {
      return (await fs.readdir(this.localPath(rel), { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  async listAll(skipFolder?: (rel: string) => boolean): Promise<StoredFile[]> {
    const out: StoredFile[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(this.localPath(rel), { withFileTypes: true });
      } catch (err) {
        if (isMissing(err) && rel !== '') return; // removed while walking
        throw err;
      }
      for (const e of entries) {
        const child = rel === '' ? e.name : `${rel}/${e.name}`;
        // Symbolic links are neither followed nor listed: they may point outside the table.
        if (e.isDirectory()) {
          if (!skipFolder?.(child)) await walk(child);
        } else if (e.isFile()) {
          const st = await fs.stat(this.localPath(child)).catch(() => undefined);
          if (st) out.push({ path: child, size: st.size, mtimeMs: st.mtimeMs });
        }
      }
    };
    await walk('');
    return out;
  }

  async putIfAbsent(rel: string, body: string): Promise<boolean> {
    const file = this.localPath(rel);
    const tmp = await this.stagingPath(rel);
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(body, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(tmp, file);
      await syncFolders([path.dirname(file)], this.root);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // File systems without hard links: exclusive create still never overwrites a file
      // (readers retry briefly if they catch it before its content is complete).
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        if (!(await exclusiveCreate(file, body))) return false;
        await syncPath(file);
        await syncFolders([path.dirname(file)], this.root);
        return true;
      }
      throw err;
    } finally {
      await fs.unlink(tmp).catch(() => undefined);
    }
  }

  async put(rel: string, body: string): Promise<void> {
    const tmp = await this.stagingPath(rel);
    await fs.writeFile(tmp, body, 'utf8');
    await this.publish(tmp, rel);
  }

  async delete(rel: string): Promise<void> {
    await fs.unlink(this.localPath(rel)).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }

  async fetch(): Promise<void> {}

  /** The files DuckDB wrote are in place already: made durable, with the folders naming them. */
  async upload(rels: string[]): Promise<void> {
    // No file (a batch whose every row was refused commits its schema alone): no folder was
    // made, and the table's may not exist yet.
    if (rels.length === 0) return;
    const files = rels.map((rel) => this.localPath(rel));
    await Promise.all(files.map((f) => syncPath(f)));
    await syncFolders(files.map((f) => path.dirname(f)), this.root);
  }

  async forget(): Promise<void> {}

  async stagingPath(rel: string): Promise<string> {
    const file = this.localPath(rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Beside the target, so publishing is a rename within one file system.
    return path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  }

  async publish(staged: string, rel: string): Promise<void> {
    await syncPath(staged);
    await fs.rename(staged, this.localPath(rel));
    await syncFolders([path.dirname(this.localPath(rel))], this.root);
  }
}

/** fsyncs a file or folder; a folder some file systems refuse to fsync is left as it is (the rename or link itself is atomic). */
async function syncPath(p: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(p, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * fsyncs these folders and every folder above them up to the table root's parent: a new
 * partition folder is named by its parent, a new table's folder by the output folder.
 */
async function syncFolders(dirs: string[], root: string): Promise<void> {
  const top = path.resolve(root);
  const all = new Set<string>([path.dirname(top)]);
  for (const d of dirs) {
    for (let at = path.resolve(d); ; at = path.dirname(at)) {
      all.add(at);
      if (at === top || !at.startsWith(top + path.sep)) break;
    }
  }
  await Promise.all([...all].map((d) => syncPath(d)));
}

async function exclusiveCreate(file: string, body: string): Promise<boolean> {
  try {
    await fs.writeFile(file, body, { encoding: 'utf8', flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Tables in a local (or shared) folder. Put-if-absent is a hard link of a fully written
 * temp file, which fails with EEXIST instead of overwriting or exposing half a file; on file
 * systems without hard links an exclusive create is used instead.
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
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // File systems without hard links: exclusive create still never overwrites a file
      // (readers retry briefly if they catch it before its content is complete).
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return exclusiveCreate(file, body);
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

  async upload(): Promise<void> {}

  async forget(): Promise<void> {}

  async stagingPath(rel: string): Promise<string> {
    const file = this.localPath(rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Beside the target, so publishing is a rename within one file system.
    return path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  }

  async publish(staged: string, rel: string): Promise<void> {
    await fs.rename(staged, this.localPath(rel));
  }
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

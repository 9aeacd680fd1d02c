/**
 * Compiles the C launcher of the test broker (`mock-broker.c`) into `<repo>/.build/mock-broker`
 * on demand. The binary is rebuilt only when the source is newer, and written under a
 * temporary name then renamed, so parallel test workers never run a half-written file.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SourceError } from '../errors.js';

const execFileAsync = promisify(execFile);

/** Header whose presence means librdkafka's mock cluster can be compiled against. */
export const MOCK_HEADER = '/usr/include/librdkafka/rdkafka_mock.h';

/** Finds the repository root: the nearest directory above this file holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new SourceError('PIPE_BROKER_ROOT', 'cannot find the pipeline repository root');
    dir = parent;
  }
  return dir;
}

/** Where the C source lives and where the binary goes. */
export function launcherPaths(root = repoRoot()): { source: string; binary: string } {
  return {
    source: join(root, 'src', 'dev-broker', 'mock-broker.c'),
    binary: join(root, '.build', 'mock-broker'),
  };
}

/**
 * Returns the path of an up-to-date launcher binary, compiling it with gcc when it is
 * missing or older than its source.
 */
export async function ensureMockBroker(root = repoRoot()): Promise<string> {
  const { source, binary } = launcherPaths(root);
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  if (!existsSync(MOCK_HEADER)) {
    throw new SourceError('PIPE_BROKER_NO_LIBRDKAFKA', `the test broker needs librdkafka's mock cluster (${MOCK_HEADER} is missing)`, {
      hint: 'install it with `apt-get install librdkafka-dev gcc` (or run `node scripts/setup.mjs`)',
    });
  }
  mkdirSync(dirname(binary), { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    await execFileAsync('gcc', ['-O2', '-Wall', '-o', partial, source, '-lrdkafka'], { timeout: 120_000 });
  } catch (err) {
    if (existsSync(partial)) unlinkSync(partial);
    const stderr = (err as { stderr?: string }).stderr?.trim();
    const missingGcc = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SourceError('PIPE_BROKER_BUILD', missingGcc ? 'gcc is not installed' : `compiling the test broker failed: ${stderr ?? String(err)}`, {
      cause: err,
      hint: 'install the toolchain with `apt-get install gcc librdkafka-dev`',
    });
  }
  renameSync(partial, binary);
  return binary;
}

#!/usr/bin/env node
// Installs what `npm test`, `npm run demo` and `npm run bench` need on a fresh Debian/Ubuntu
// machine: npm packages (when missing) and librdkafka-dev (for the local test broker).
// Idempotent and quiet when everything is already there.
import { existsSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });

const lock = join(root, 'package-lock.json');
const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.error('setup: installing npm packages (npm ci)');
  run('npm ci --no-audit --no-fund');
}

const header = '/usr/include/librdkafka/rdkafka_mock.h';
if (!existsSync(header)) {
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? '' : 'sudo ';
  console.error('setup: installing librdkafka-dev (Kafka-protocol test broker)');
  try {
    run(`${sudo}apt-get update -qq`);
    run(`${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librdkafka-dev gcc`);
  } catch {
    console.error('setup: could not install librdkafka-dev; install it with your package manager and retry');
    process.exit(1);
  }
}

/**
 * Resolves the jars of Apache Kafka (the `kafka_2.13` server and its runtime dependencies)
 * from Maven Central with Maven, into `<repo>/.cache/kafka/<version>/libs`, on first use.
 *
 * Maven's own repository goes to `<repo>/.cache/m2`, so a fresh clone downloads once and
 * nothing lands outside the project's ignored folders. A lock directory serialises parallel
 * test workers; a `.complete` marker written last means a half-copied folder is never used.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SourceError } from '../errors.js';
import { repoRoot } from './build.js';

const execFileAsync = promisify(execFile);

/** The Apache Kafka release the real-broker suites run against. */
export const KAFKA_VERSION = process.env.PIPELINE_TEST_KAFKA_VERSION ?? '4.1.1';
/** log4j2's SLF4J 1.x binding matching the log4j-core that Kafka brings. */
const LOG4J_VERSION = '2.24.3';

/** Where the jars of `version` go. */
export function kafkaLibDir(version = KAFKA_VERSION, root = repoRoot()): string {
  return join(root, '.cache', 'kafka', version, 'libs');
}

function pom(version: string): string {
  const dep = (g: string, a: string, v: string) => `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pipeline.test</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    ${dep('org.apache.kafka', 'kafka_2.13', version)}
    ${dep('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION)}
  </dependencies>
</project>
`;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Returns the folder holding every jar of Kafka `version`, downloading them with
 * `mvn dependency:copy-dependencies` when they are not there yet.
 */
export async function ensureKafkaJars(version = KAFKA_VERSION, root = repoRoot()): Promise<string> {
  const libs = kafkaLibDir(version, root);
  const base = join(libs, '..');
  const marker = join(base, '.complete');
  if (existsSync(marker)) return libs;
  mkdirSync(base, { recursive: true });
  const lock = join(base, '.lock');
  // Another worker holds the lock: wait for its marker (a lock older than 15 min is stale).
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(marker)) return libs;
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      await sleep(500);
    }
  }
  try {
    if (existsSync(marker)) return libs;
    rmSync(libs, { recursive: true, force: true });
    writeFileSync(join(base, 'pom.xml'), pom(version));
    const args = ['-B', '-q', `-Dmaven.repo.local=${join(root, '.cache', 'm2')}`, '-f', join(base, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'];
    try {
      await execFileAsync('mvn', args, { maxBuffer: 16 << 20, timeout: 15 * 60_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new SourceError('PIPE_KAFKA_JARS', `could not resolve Apache Kafka ${version} with Maven: ${(e.stdout ?? '').slice(-2000)}${(e.stderr ?? e.message).slice(-2000)}`, {
        hint: 'Maven (mvn) and a JDK 17+ must be installed, and Maven Central reachable',
        cause: err,
      });
    }
    if (!readdirSync(libs).some((f) => f.startsWith('kafka_2.13-'))) throw new SourceError('PIPE_KAFKA_JARS', `Maven copied no kafka_2.13 jar into ${libs}`);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
    return libs;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

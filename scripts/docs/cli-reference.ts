/**
 * `docs/reference/cli/*.md`: one page per command, made of the usage text the command prints
 * for `--help` (so the reference and `--help` cannot disagree), plus an index of summaries.
 * Commands are found as files in `src/cli/commands/`, the folder `src/cli/main.ts` loads from.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../../src/cli/main.js';
import { usages as tableUsages } from '../../src/cli/commands/table.js';
import { cell, page, table } from './markdown.js';
import { repoRoot } from './paths.js';

/** Names of the CLI's commands, from the files in `src/cli/commands/`. */
export function commandNames(): string[] {
  return readdirSync(join(repoRoot(), 'src', 'cli', 'commands'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
}

/** Imports a command module beside this file's own build: `.ts` sources under vitest, `.js` in `dist/`. */
async function loadCommand(name: string): Promise<Command> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const url = new URL(`../../src/cli/commands/${name}${ext}`, import.meta.url).href;
  const mod = (await import(/* @vite-ignore */ url)) as { command: Command };
  return mod.command;
}

function usageBlock(text: string): string {
  return ['```text', text.trimEnd(), '```'].join('\n');
}

/** Pages by file name under `docs/reference/cli/`. */
export async function cliReference(): Promise<Map<string, string>> {
  const pages = new Map<string, string>();
  const rows: string[][] = [];
  for (const name of commandNames()) {
    const command = await loadCommand(name);
    rows.push([`[\`pipeline ${name}\`](${name}.md)`, cell(command.summary)]);
    const sections = [`${command.summary}`, '`pipeline ' + name + ' --help` prints:', usageBlock(name === 'table' ? tableUsages['']! : command.usage)];
    if (name === 'table') {
      for (const [sub, text] of Object.entries(tableUsages)) {
        if (sub) sections.push(`## \`pipeline table ${sub}\``, usageBlock(text));
      }
    }
    pages.set(`${name}.md`, page(`\`pipeline ${name}\``, ...sections));
  }
  pages.set(
    'index.md',
    page(
      'CLI reference',
      'Every command takes `--help`. Exit codes: 0 ok, 1 invalid input or failed run, 2 usage error, ' +
        '3 (`diff`) a change that is not safe. Commands that load a spec take `--set path=value` (repeatable) to override a field.',
      table(['command', 'what it does'], rows),
    ),
  );
  return pages;
}

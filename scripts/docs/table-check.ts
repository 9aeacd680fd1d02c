/**
 * Finds Markdown tables whose rows do not have as many cells as their header: an unescaped
 * `|` inside a cell (a help text, a type union) silently shifts every cell after it.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** One row whose cell count differs from its table's header. */
export interface RaggedRow {
  file: string;
  line: number;
  cells: number;
  expected: number;
}

/**
 * Cells of a table row: split on every `|` that is not escaped. As in GitHub's Markdown, a
 * pipe inside inline code splits the cell too unless it is written `\\|`.
 */
export function cellCount(row: string): number {
  let count = 0;
  const body = row.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') i++;
    else if (body[i] === '|') count++;
  }
  return count + 1;
}

/** Rows of tables in `files` (outside code fences) whose cell count differs from the header's. */
export function raggedRows(root: string, files: string[]): RaggedRow[] {
  const found: RaggedRow[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    let fenced = false;
    let expected = 0;
    lines.forEach((line, i) => {
      if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
      const isRow = !fenced && line.trimStart().startsWith('|');
      if (!isRow) {
        expected = 0;
        return;
      }
      if (expected === 0) {
        expected = cellCount(line);
        return;
      }
      const cells = cellCount(line);
      if (cells !== expected) found.push({ file: relative(root, file), line: i + 1, cells, expected });
    });
  }
  return found;
}

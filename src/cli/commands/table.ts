/** `pipeline table` — placeholder until the command lands. */
import type { Command } from '../main.js';
import { UsageError } from '../../errors.js';

export const command: Command = {
  summary: '(table: not available yet)',
  usage: 'pipeline table',
  async run() {
    throw new UsageError('PIPE_CLI_UNAVAILABLE', 'table is not available yet');
  },
};

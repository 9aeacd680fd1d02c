/** `pipeline diff` — placeholder until the command lands. */
import type { Command } from '../main.js';
import { UsageError } from '../../errors.js';

export const command: Command = {
  summary: '(diff: not available yet)',
  usage: 'pipeline diff',
  async run() {
    throw new UsageError('PIPE_CLI_UNAVAILABLE', 'diff is not available yet');
  },
};

/** `pipeline demo` — placeholder until the command lands. */
import type { Command } from '../main.js';
import { UsageError } from '../../errors.js';

export const command: Command = {
  summary: '(demo: not available yet)',
  usage: 'pipeline demo',
  async run() {
    throw new UsageError('PIPE_CLI_UNAVAILABLE', 'demo is not available yet');
  },
};

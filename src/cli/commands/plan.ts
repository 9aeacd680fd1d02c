/** `pipeline plan` — placeholder until the command lands. */
import type { Command } from '../main.js';
import { UsageError } from '../../errors.js';

export const command: Command = {
  summary: '(plan: not available yet)',
  usage: 'pipeline plan',
  async run() {
    throw new UsageError('PIPE_CLI_UNAVAILABLE', 'plan is not available yet');
  },
};

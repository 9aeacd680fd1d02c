/** `pipeline validate` — placeholder until the command lands. */
import type { Command } from '../main.js';
import { UsageError } from '../../errors.js';

export const command: Command = {
  summary: '(validate: not available yet)',
  usage: 'pipeline validate',
  async run() {
    throw new UsageError('PIPE_CLI_UNAVAILABLE', 'validate is not available yet');
  },
};

/** `pipeline dev-broker` — placeholder until the command lands. */
import type { Command } from '../main.js';
import { UsageError } from '../../errors.js';

export const command: Command = {
  summary: '(dev-broker: not available yet)',
  usage: 'pipeline dev-broker',
  async run() {
    throw new UsageError('PIPE_CLI_UNAVAILABLE', 'dev-broker is not available yet');
  },
};

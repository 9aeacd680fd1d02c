/** `pipeline run` — placeholder until the command lands. */
import type { Command } from '../main.js';
import { UsageError } from '../../errors.js';

export const command: Command = {
  summary: '(run: not available yet)',
  usage: 'pipeline run',
  async run() {
    throw new UsageError('PIPE_CLI_UNAVAILABLE', 'run is not available yet');
  },
};

import { createInterface } from 'node:readline/promises';
import type { Asker } from './in-process-client.js';

/** `--yes`: the person who typed the command confirmed in advance. */
export const acceptAll: Asker = async () => ({ action: 'accept', content: { confirm: true } });

/** Asks on the terminal (question on stderr, answer from stdin): y/yes runs it, anything else declines. */
export const askOnTerminal: Asker = async (params) => {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`\n${params.message}\n\nRun this? [y/N] `);
    return /^y(es)?$/i.test(answer.trim()) ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
  } finally {
    rl.close();
  }
};

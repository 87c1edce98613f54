import type { Started } from '../bootstrap.js';
import { resultText } from '../tools/result-text.js';
import { connectInProcess } from './in-process-client.js';
import { acceptAll, askOnTerminal } from './terminal-asker.js';

export class UsageError extends Error {}

/** `pgmcp call TOOL [JSON]`: one tool call; prints the text (or the structured result with --json); exit 1 on a tool error. */
export async function callCommand(
  started: Started,
  tool: string,
  json: string | undefined,
  asJson: boolean,
  yes = false,
): Promise<number> {
  let args: unknown = {};
  if (json !== undefined && json.trim() !== '') {
    try {
      args = JSON.parse(json);
    } catch (err) {
      throw new UsageError(`the arguments of ${tool} must be a JSON object: ${(err as Error).message}`);
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      throw new UsageError(
        `the arguments of ${tool} must be a JSON object, got ${Array.isArray(args) ? 'an array' : typeof args}`,
      );
    }
  }
  // Destructive actions are confirmed by the person at the terminal: asked there, or in advance with --yes; without
  // a terminal the server answers with confirmation_required and nothing runs.
  const asker = yes ? acceptAll : process.stdin.isTTY ? askOnTerminal : undefined;
  const { client, close } = await connectInProcess(started.app, 'cli', asker);
  try {
    const { tools } = await client.listTools();
    if (!tools.some((t) => t.name === tool)) {
      throw new UsageError(
        `no tool named ${tool} at this configuration; available: ${tools.map((t) => t.name).join(', ')}`,
      );
    }
    const result = await client.callTool({ name: tool, arguments: args as Record<string, unknown> });
    const text = resultText(result);
    if (asJson) {
      process.stdout.write(
        `${JSON.stringify(result.isError ? { isError: true, text } : result.structuredContent, null, 2)}\n`,
      );
    } else {
      process.stdout.write(`${text}\n`);
    }
    // A token cannot outlive this process: nothing ran, and the way to confirm from a shell is --yes.
    if ((result.structuredContent as { status?: unknown } | undefined)?.status === 'confirmation_required') {
      process.stderr.write('pgmcp: nothing ran: this needs confirmation; run the same command with --yes to confirm\n');
      return 1;
    }
    return result.isError ? 1 : 0;
  } finally {
    await close();
  }
}

/** The text parts of a tool result (pgmcp puts its compact markdown there), joined by newlines. */
export function resultText(result: object): string {
  const content = (result as { content?: unknown }).content;
  const parts = Array.isArray(content) ? (content as { type?: unknown; text?: unknown }[]) : [];
  return parts
    .filter((c) => c.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text as string)
    .join('\n');
}

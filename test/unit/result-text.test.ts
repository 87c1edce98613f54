import { describe, expect, it } from 'vitest';
import { resultText } from '../../src/tools/result-text.js';

describe('resultText', () => {
  it('joins the text parts with newlines and leaves the others out', () => {
    expect(
      resultText({
        content: [
          { type: 'text', text: 'a' },
          { type: 'image', data: 'x', mimeType: 'image/png' },
          { type: 'text', text: 'b' },
        ],
      }),
    ).toBe('a\nb');
    expect(resultText({ content: [] })).toBe('');
    expect(resultText({ toolResult: 1 })).toBe('');
  });
});

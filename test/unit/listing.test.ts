import { describe, expect, it } from 'vitest';
import { limitDepth } from '../../src/tools/listing.js';

describe('limitDepth', () => {
  const schema = {
    type: 'object',
    properties: {
      count: { type: 'integer' },
      table: {
        type: 'object',
        description: 'the table',
        properties: { name: { type: 'string' } },
        required: ['name'],
        additionalProperties: false,
      },
      rows: { type: 'array', items: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] } },
      either: { anyOf: [{ type: 'null' }, { type: 'object', properties: { x: { type: 'string' } } }] },
    },
    required: ['count', 'table'],
    additionalProperties: false,
  };

  it('keeps the top-level fields typed and declares deeper objects as plain objects with their descriptions', () => {
    expect(limitDepth(schema, 1)).toEqual({
      type: 'object',
      properties: {
        count: { type: 'integer' },
        table: { type: 'object', description: 'the table' },
        rows: { type: 'array', items: { type: 'object' } },
        either: { anyOf: [{ type: 'null' }, { type: 'object' }] },
      },
      required: ['count', 'table'],
      additionalProperties: false,
    });
  });

  it('leaves a schema within the depth as it is', () => {
    expect(limitDepth(schema, 5)).toEqual(schema);
  });
});

describe('limitDepth with shared definitions', () => {
  it('inlines references and drops the definitions', () => {
    const schema = {
      type: 'object',
      properties: {
        check: { $ref: '#/definitions/check', description: 'the check' },
        list: { type: 'array', items: { $ref: '#/definitions/check' } },
        tree: { $ref: '#/definitions/node' },
      },
      definitions: {
        check: { type: 'object', properties: { verdict: { type: 'string' } } },
        node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/definitions/node' } } } },
      },
    };
    expect(limitDepth(schema, 1)).toEqual({
      type: 'object',
      properties: {
        check: { type: 'object', description: 'the check' },
        list: { type: 'array', items: { type: 'object' } },
        tree: { type: 'object' },
      },
    });
    expect(limitDepth(schema, 2).properties).toMatchObject({
      tree: { type: 'object', properties: { children: { type: 'array', items: { type: 'object' } } } },
    });
  });
});

import { describe, expect, it } from 'vitest';
import { capCell } from '../../src/db/cells.js';
import { uniqueNames } from '../../src/db/column-names.js';
import { toParamText } from '../../src/db/params.js';
import { convertValue } from '../../src/db/values.js';
import { markdownTable } from '../../src/format/markdown.js';
import { caretUnder, formatToolError, ToolError } from '../../src/tools/errors.js';

describe('convertValue', () => {
  it.each([
    [16, 't', true],
    [16, 'f', false],
    [23, '42', 42],
    [21, '-7', -7],
    [20, '9223372036854775807', '9223372036854775807'],
    [1700, '0.10000000000000000001', '0.10000000000000000001'],
    [701, '1.5', 1.5],
    [701, 'NaN', 'NaN'],
    [701, 'Infinity', 'Infinity'],
    [1184, '2024-03-04 05:06:07.123456+00', '2024-03-04T05:06:07.123456+00:00'],
    [1184, '2024-03-04 05:06:07+05:30', '2024-03-04T05:06:07+05:30'],
    [1184, '1900-01-01 00:00:00+00:09:21', '1900-01-01T00:00:00+00:09:21'],
    [1184, 'infinity', 'infinity'],
    [1114, '2024-03-04 05:06:07', '2024-03-04T05:06:07'],
    [1082, '2024-03-04', '2024-03-04'],
    [3802, '{"a": [1, null]}', { a: [1, null] }],
    [114, '[1,"x"]', [1, 'x']],
    [17, '\\xdeadbeef', { $bytea: '\\xdeadbeef', bytes: 4 }],
    [1007, '{1,NULL,3}', [1, null, 3]],
    [1016, '{9223372036854775807}', ['9223372036854775807']],
    [1009, '{"a,b","c\\"d",NULL}', ['a,b', 'c"d', null]],
    [
      1007,
      '{{1,2},{3,4}}',
      [
        [1, 2],
        [3, 4],
      ],
    ],
    [25, 'text', 'text'],
  ])('type %i %j → %j', (oid, text, expected) => {
    expect(convertValue(oid, text)).toEqual(expected);
  });

  it('keeps NULL as null and converts user array types through their element', () => {
    expect(convertValue(23, null)).toBeNull();
    expect(convertValue(99999, '{sad,happy}', new Map([[99999, 25]]))).toEqual(['sad', 'happy']);
  });
});

describe('capCell', () => {
  it('leaves short values and cuts long text, JSON and bytea, marking them', () => {
    expect(capCell('short', 10)).toEqual({ value: 'short', cut: false });
    const long = capCell('x'.repeat(100), 10);
    expect(long.cut).toBe(true);
    expect(long.value).toBe(`${'x'.repeat(10)}…[cut: 100 characters in all]`);
    expect(capCell({ a: 'y'.repeat(100) }, 20).value).toMatch(/…\[cut: JSON of \d+ characters in all\]$/);
    expect(capCell({ $bytea: `\\x${'ab'.repeat(50)}`, bytes: 50 }, 10).value).toEqual({
      $bytea: '\\xabababab',
      bytes: 50,
      cut: true,
    });
    expect(capCell(12345, 2)).toEqual({ value: 12345, cut: false });
  });
});

describe('uniqueNames', () => {
  it('suffixes repeated names without colliding with existing ones', () => {
    expect(uniqueNames(['?column?', '?column?'])).toEqual(['?column?', '?column?_2']);
    expect(uniqueNames(['a', 'a_2', 'a', 'a'])).toEqual(['a', 'a_2', 'a_3', 'a_4']);
    expect(uniqueNames(['id', 'name'])).toEqual(['id', 'name']);
  });
});

describe('toParamText', () => {
  it('binds scalars as text, arrays as PostgreSQL arrays and objects as JSON', () => {
    expect(toParamText(null)).toBeNull();
    expect(toParamText(42)).toBe('42');
    expect(toParamText(true)).toBe('true');
    expect(toParamText("it's")).toBe("it's");
    expect(toParamText([1, null, 'a"b', [2, 3]])).toBe('{"1",NULL,"a\\"b",{"2","3"}}');
    expect(toParamText({ a: 1 })).toBe('{"a":1}');
  });
});

describe('markdownTable', () => {
  it('escapes pipes and newlines and shows NULL', () => {
    expect(
      markdownTable(
        ['a', 'b'],
        [
          ['x|y', null],
          ['line\nbreak', { k: 1 }],
        ],
      ),
    ).toBe('| a | b |\n|---|---|\n| x\\|y | NULL |\n| line\\nbreak | {"k":1} |');
  });
});

describe('error text', () => {
  it('puts a caret under the position, counting characters, on the right line', () => {
    expect(caretUnder('select 1\nfrom ünïcode wher x', 23)).toBe('LINE 2: from ünïcode wher x\n                     ^');
  });

  it('shows every field PostgreSQL gave', () => {
    const text = formatToolError(
      new ToolError('relation "t" does not exist', {
        code: '42P01',
        statement: 'select * from t',
        pg: {
          code: '42P01',
          message: 'relation "t" does not exist',
          position: 15,
          detail: 'd',
          hint: 'h',
          where: 'w',
          table: 't',
        },
      }),
    );
    expect(text).toBe(
      [
        'ERROR 42P01: relation "t" does not exist',
        'LINE 1: select * from t',
        '                      ^',
        'DETAIL: d',
        'HINT: h',
        'CONTEXT: w',
        'OBJECT: table=t',
      ].join('\n'),
    );
  });
});

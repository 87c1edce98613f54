/**
 * Keys for row objects: a name repeated in a result (`select 1, 1` gives two `?column?`) gets a suffix `_2`, `_3`, …
 * skipping any key already taken, so that no value is lost.
 */
export function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    let key = name;
    for (let n = 2; taken.has(key); n++) key = `${name}_${n}`;
    taken.add(key);
    return key;
  });
}

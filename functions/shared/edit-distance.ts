/** Levenshtein distance (insertions, deletions, substitutions of UTF-16 units), two rows. */
export function editDistance(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let previous = new Uint32Array(b.length + 1).map((_, index) => index);
  let current = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    const code = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (code === b.charCodeAt(j - 1) ? 0 : 1);
      current[j] = Math.min(substitution, previous[j]! + 1, current[j - 1]! + 1);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** Rows reused by editDistanceWithin, grown as needed: grounding calls it for every window of a text. */
let rowA = new Uint32Array(64);
let rowB = new Uint32Array(64);

/**
 * editDistance(a, b) when it is at most `bound`, else undefined; in time proportional to the shorter length times the
 * bound: only the diagonal band the bound allows is computed, and it stops as soon as every cell of a row exceeds it.
 */
export function editDistanceWithin(a: string, b: string, bound: number): number | undefined {
  if (a.length < b.length) [a, b] = [b, a];
  if (a.length - b.length > bound) return undefined;
  if (rowA.length < b.length + 1) {
    rowA = new Uint32Array(b.length + 1);
    rowB = new Uint32Array(b.length + 1);
  }
  const over = bound + 1;
  let previous = rowA;
  let current = rowB;
  for (let j = 0; j <= b.length; j++) previous[j] = Math.min(j, over);
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - bound);
    const to = Math.min(b.length, i + bound);
    current[0] = Math.min(i, over);
    // Cells left of the band are out of reach of the bound.
    if (from > 1) current[from - 1] = over;
    let rowMinimum = from === 1 ? current[0]! : over;
    const code = a.charCodeAt(i - 1);
    for (let j = from; j <= to; j++) {
      const substitution = previous[j - 1]! + (code === b.charCodeAt(j - 1) ? 0 : 1);
      const cell = Math.min(substitution, previous[j]! + 1, current[j - 1]! + 1, over);
      current[j] = cell;
      if (cell < rowMinimum) rowMinimum = cell;
    }
    // The cell right of the band, read by the next row as "above", is out of reach too.
    if (to < b.length) current[to + 1] = over;
    if (rowMinimum > bound) return undefined;
    [previous, current] = [current, previous];
  }
  const distance = previous[b.length]!;
  return distance <= bound ? distance : undefined;
}

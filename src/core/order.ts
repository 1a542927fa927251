/**
 * String order shared by every backend: Unicode code point order, which is the byte order of UTF-8
 * (SQLite's BINARY collation, PostgreSQL's `COLLATE "C"`). JavaScript's `<` compares UTF-16 code
 * units and disagrees for characters beyond U+FFFF, so sorting in memory uses this instead.
 */
export const compareCodePoints = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // A surrogate (U+D800–DFFF) stands for a code point above U+FFFF: it sorts after U+E000–FFFF.
    const sx = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x
    const sy = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y
    return sx - sy
  }
  return a.length - b.length
}

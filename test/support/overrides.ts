/**
 * Property tests of input checks build each value from a valid base, some fields replaced (a null
 * replacement meaning "set to undefined"), and perhaps one key that does not belong: this applies them.
 */
export const withOverrides = <K extends string>(
  [base, [keys, values], extra]: readonly [
    Record<string, unknown>,
    readonly [ReadonlyArray<K>, ReadonlyArray<unknown>],
    string | null
  ]
): Record<string, unknown> => {
  const value: Record<string, unknown> = { ...base }
  keys.forEach((k, i) => {
    value[k] = values[i] === null ? undefined : values[i]
  })
  if (extra !== null) Object.defineProperty(value, extra, { value: 1, enumerable: true })
  return value
}

/** Positional parameters of a statement assembled piece by piece. */

/** Collects positional parameters while a statement is assembled: `add` returns the placeholder. */
export class Params {
  readonly values: Array<unknown> = []
  add(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

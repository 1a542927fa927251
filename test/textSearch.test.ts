/**
 * `tokenize` takes a shortcut for ASCII text (lower-casing and [a-z0-9] runs): it must give exactly
 * the words of the general rule — Unicode case folding, then runs of letters, digits and marks —
 * on any ASCII text, and text beyond ASCII still goes the general way.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { foldCase, tokenize } from "../src/core/textSearch.js"

/** The general rule, written out. */
const general = (text: string): Array<string> => [...foldCase(text).matchAll(/[\p{L}\p{N}\p{M}]+/gu)].map((m) => m[0])

describe("tokenize", () => {
  it("gives the general rule's words for every ASCII text", () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)),
      maxLength: 40
    })
    fc.assert(
      fc.property(ascii, (text) => {
        expect(tokenize(text)).toEqual(general(text))
      }),
      { numRuns: 3000 }
    )
  })

  it("folds text beyond ASCII by the general rule", () => {
    expect(tokenize("Straße ﬁnance ΣΟΦΟΣ café")).toEqual(["strasse", "finance", "σοφοσ", "café"])
    expect(tokenize("note 12 Topic7 alpha-BRAVO")).toEqual(["note", "12", "topic7", "alpha", "bravo"])
  })
})

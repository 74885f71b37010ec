/** FormatError: what `validate` throws when a sparse object breaks its format's layout rules. */

/**
 * A malformed sparse-format object or a dense input a format cannot hold.
 * `message` names the format, the field, the index and what was expected, e.g.
 * `csr: colIdx[17]=9 is not greater than colIdx[16]=9 in row 3 (columns must be strictly increasing)`.
 */
export class FormatError extends Error {
  /** The format whose rule was broken, e.g. `'csr'`. */
  readonly format: string;
  /** The field (or argument) at fault, e.g. `'colIdx'`, `'rowPtr'`, `'w'`. */
  readonly field: string;

  constructor(format: string, field: string, detail: string) {
    super(`${format}: ${detail}`);
    this.name = 'FormatError';
    this.format = format;
    this.field = field;
  }
}

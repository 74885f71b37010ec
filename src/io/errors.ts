/** IoError: what the io layer throws for a file it will not trust (bad header, lying offsets, bad config). */

/**
 * A file sparsekit refuses to read, or a value in it. `message` starts with the file and names the tensor
 * or field at fault, e.g.
 * `model.safetensors: tensor "h.0.attn.c_attn.weight" claims bytes 0..4096 but F32 [32, 64] needs 8192`.
 */
export class IoError extends Error {
  /** The file as the caller named it. */
  readonly file: string;
  /** The tensor or config field at fault, when there is one. */
  readonly item: string | undefined;

  constructor(file: string, detail: string, item?: string) {
    super(`${file}: ${detail}`);
    this.name = 'IoError';
    this.file = file;
    this.item = item;
  }
}

/** An IoError about one tensor: `file: tensor "name" detail`. */
export function tensorError(file: string, tensor: string, detail: string): IoError {
  return new IoError(file, `tensor "${tensor}" ${detail}`, tensor);
}

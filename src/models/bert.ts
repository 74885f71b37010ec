/**
 * BERT with its masked-LM head (transformers' BertForMaskedLM): word + position + token-type embeddings and
 * LayerNorm, post-LN encoder layers (bidirectional attention with a key padding mask), and the MLM head
 * (dense → activation → LayerNorm → decoder tied to the word embeddings, plus `cls.predictions.bias`).
 * Reads `bert.`-prefixed or bare encoder keys, and LayerNorm `weight/bias` or the older `gamma/beta`.
 */

import type { BertConfig } from '../io/config.js';
import { activateInPlace } from '../nn/activation.js';
import { type HeadShape, maskedSelfAttention } from '../nn/attention.js';
import { Embedding } from '../nn/embedding.js';
import { Linear } from '../nn/linear.js';
import { MLP } from '../nn/mlp.js';
import { LayerNorm } from '../nn/norm.js';
import { addTransposed, checkIds, transposed } from '../nn/ops.js';
import { Tensor } from '../tensor/tensor.js';
import { checkIdsArg, headState, linearEntries, tensorEntry } from './causal.js';
import type { Checkpoint, StateEntry } from './checkpoint.js';
import type { BertInputs, MaskedLM, ModelSource, Savable, SaveState } from './types.js';

/** A LayerNorm and the HF names its weight and bias were read from (weight/bias or gamma/beta). */
interface NamedNorm {
  readonly norm: LayerNorm;
  readonly names: readonly [string, string];
}

class BertLayer {
  constructor(
    readonly query: Linear,
    readonly key: Linear,
    readonly value: Linear,
    readonly attnOut: Linear,
    readonly attnNorm: NamedNorm,
    readonly ffn: MLP,
    readonly outNorm: NamedNorm,
    readonly shape: HeadShape,
  ) {}

  // x [T, C] → [T, C]; inside, activations are feature-major [features, T] so linears need no transposes
  forward(x: Tensor, mask: ArrayLike<number> | null): Tensor {
    const T = x.rows;
    const C = x.cols;
    const xt = transposed(x);
    const a = maskedSelfAttention(
      { x: this.query.forwardT(xt), offset: 0 },
      { x: this.key.forwardT(xt), offset: 0 },
      { x: this.value.forwardT(xt), offset: 0 },
      this.shape,
      mask,
      1 / Math.sqrt(this.shape.headDim),
    );
    const h = x.clone();
    addTransposed(h.data, this.attnOut.forwardT(a).data, T, C);
    const h1 = this.attnNorm.norm.forward(h);
    const f = h1.clone();
    addTransposed(f.data, this.ffn.forwardT(transposed(h1)).data, T, C);
    return this.outNorm.norm.forward(f);
  }
}

/** BERT as a MaskedLM. Build with loadModel. */
export class BertModel implements MaskedLM, Savable {
  readonly kind = 'masked' as const;
  private readonly words: Embedding;
  private readonly positions: Tensor;
  private readonly tokenTypes: Tensor;
  private readonly embNorm: NamedNorm;
  private readonly layers: BertLayer[] = [];
  private readonly transform: Linear;
  private readonly transformNorm: NamedNorm;
  /** The MLM decoder [vocab, hidden] (tied: its weight is the word-embedding table) with cls.predictions.bias. */
  readonly decoder: Linear;
  private readonly tied: boolean;
  private readonly biasName: string;

  /** @param prefix 'bert.' or '' for the encoder keys. */
  constructor(
    readonly config: BertConfig,
    ckpt: Checkpoint,
    private readonly prefix: string,
    private readonly source: ModelSource,
  ) {
    const c = config;
    const C = c.hiddenSize;
    const I = c.intermediateSize;
    const p = prefix;
    const linear = (name: string, outF: number, inF: number) =>
      new Linear(ckpt.matrix(`${name}.weight`, outF, inF), ckpt.tensor(`${name}.bias`, [outF]));
    const ln = (name: string): NamedNorm => {
      const w = ckpt.pick(`${name}.weight`, `${name}.gamma`);
      const b = ckpt.pick(`${name}.bias`, `${name}.beta`);
      return { norm: new LayerNorm(ckpt.tensor(w, [C]), ckpt.tensor(b, [C]), c.layerNormEps), names: [w, b] };
    };
    const e = `${p}embeddings`;
    this.words = new Embedding(ckpt.matrix(`${e}.word_embeddings.weight`, c.vocabSize, C));
    this.positions = ckpt.tensor(`${e}.position_embeddings.weight`, [c.maxPositionEmbeddings, C]);
    this.tokenTypes = ckpt.tensor(`${e}.token_type_embeddings.weight`, [c.typeVocabSize, C]);
    this.embNorm = ln(`${e}.LayerNorm`);
    const shape: HeadShape = { heads: c.numAttentionHeads, kvHeads: c.numAttentionHeads, headDim: c.headDim };
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const l = `${p}encoder.layer.${i}`;
      this.layers.push(
        new BertLayer(
          linear(`${l}.attention.self.query`, C, C),
          linear(`${l}.attention.self.key`, C, C),
          linear(`${l}.attention.self.value`, C, C),
          linear(`${l}.attention.output.dense`, C, C),
          ln(`${l}.attention.output.LayerNorm`),
          new MLP(linear(`${l}.intermediate.dense`, I, C), linear(`${l}.output.dense`, C, I), c.activation),
          ln(`${l}.output.LayerNorm`),
          shape,
        ),
      );
    }
    if (!ckpt.has('cls.predictions.transform.dense.weight')) {
      throw new RangeError(
        `${ckpt.folder.dir}: no masked-LM head (cls.predictions.*); sparsekit loads BertForMaskedLM checkpoints`,
      );
    }
    this.transform = linear('cls.predictions.transform.dense', C, C);
    this.transformNorm = ln('cls.predictions.transform.LayerNorm');
    this.biasName = ckpt.pick('cls.predictions.bias', 'cls.predictions.decoder.bias');
    const bias = ckpt.tensor(this.biasName, [c.vocabSize]);
    this.tied = c.tieWordEmbeddings;
    const w = this.tied ? this.words.table : ckpt.matrix('cls.predictions.decoder.weight', c.vocabSize, C);
    this.decoder = new Linear(w, bias);
  }

  get tokenizer() {
    return this.source.tokenizer;
  }

  /** Checked token types and mask for T tokens. */
  private inputs(
    T: number,
    opts: BertInputs,
  ): { types: ArrayLike<number> | null; mask: ArrayLike<number> | null } {
    const { tokenTypeIds, attentionMask } = opts;
    for (const [name, a] of [
      ['tokenTypeIds', tokenTypeIds],
      ['attentionMask', attentionMask],
    ] as const) {
      if (a !== undefined && a.length !== T) {
        throw new RangeError(`bert: ${name} has ${a.length} entries but ids has ${T}; give one per token`);
      }
    }
    if (tokenTypeIds) checkIds(tokenTypeIds, this.config.typeVocabSize, 'tokenTypeIds', 'type_vocab_size');
    if (attentionMask) {
      for (let i = 0; i < T; i++) {
        if (attentionMask[i] !== 0 && attentionMask[i] !== 1) {
          throw new RangeError(
            `bert: attentionMask[${i}] is ${attentionMask[i]}; use 1 for tokens, 0 for padding`,
          );
        }
      }
    }
    return { types: tokenTypeIds ?? null, mask: attentionMask ?? null };
  }

  encode(ids: ArrayLike<number>, opts: BertInputs = {}): Tensor {
    const T = checkIdsArg(ids, 'bert encode');
    const max = this.config.maxPositionEmbeddings;
    if (T > max) {
      throw new RangeError(
        `bert: ids has ${T} tokens, more than max_position_embeddings ${max}; truncate the input`,
      );
    }
    checkIds(ids, this.words.num, 'ids', `the vocabulary has ${this.words.num} tokens`);
    const { types, mask } = this.inputs(T, opts);
    const C = this.words.dim;
    // embeddings = word + token type + position (absolute positions 0..T-1), then LayerNorm
    const x = this.positions.data.slice(0, T * C);
    this.words.addRows(ids, x);
    const tt = this.tokenTypes.data;
    for (let t = 0; t < T; t++) {
      const row = (types ? types[t]! : 0) * C;
      for (let c = 0; c < C; c++) x[t * C + c]! += tt[row + c]!;
    }
    let h = this.embNorm.norm.forward(new Tensor(x, [T, C]));
    for (const layer of this.layers) h = layer.forward(h, mask);
    return h;
  }

  forward(ids: ArrayLike<number>, opts: BertInputs = {}): Tensor {
    const h = this.transform.forward(this.encode(ids, opts));
    activateInPlace(h.data, this.config.activation);
    return this.decoder.forward(this.transformNorm.norm.forward(h));
  }

  linears(): Map<string, Linear> {
    const m = new Map<string, Linear>();
    this.layers.forEach((l, i) => {
      const n = `${this.prefix}encoder.layer.${i}`;
      m.set(`${n}.attention.self.query.weight`, l.query);
      m.set(`${n}.attention.self.key.weight`, l.key);
      m.set(`${n}.attention.self.value.weight`, l.value);
      m.set(`${n}.attention.output.dense.weight`, l.attnOut);
      m.set(`${n}.intermediate.dense.weight`, l.ffn.up);
      m.set(`${n}.output.dense.weight`, l.ffn.down);
    });
    m.set('cls.predictions.transform.dense.weight', this.transform);
    m.set('cls.predictions.decoder.weight', this.decoder);
    return m;
  }

  saveState(): SaveState {
    const p = this.prefix;
    const t: Array<[string, StateEntry]> = [];
    const ln = (n: NamedNorm) => {
      t.push([n.names[0], tensorEntry(n.norm.weight)], [n.names[1], tensorEntry(n.norm.bias)]);
    };
    const e = `${p}embeddings`;
    t.push([
      `${e}.word_embeddings.weight`,
      { shape: [this.words.num, this.words.dim], value: this.words.table },
    ]);
    t.push([`${e}.position_embeddings.weight`, tensorEntry(this.positions)]);
    t.push([`${e}.token_type_embeddings.weight`, tensorEntry(this.tokenTypes)]);
    ln(this.embNorm);
    this.layers.forEach((l, i) => {
      const n = `${p}encoder.layer.${i}`;
      t.push(...linearEntries(`${n}.attention.self.query`, l.query));
      t.push(...linearEntries(`${n}.attention.self.key`, l.key));
      t.push(...linearEntries(`${n}.attention.self.value`, l.value));
      t.push(...linearEntries(`${n}.attention.output.dense`, l.attnOut));
      ln(l.attnNorm);
      t.push(...linearEntries(`${n}.intermediate.dense`, l.ffn.up));
      t.push(...linearEntries(`${n}.output.dense`, l.ffn.down));
      ln(l.outNorm);
    });
    t.push(...linearEntries('cls.predictions.transform.dense', this.transform));
    ln(this.transformNorm);
    if (this.decoder.bias) t.push([this.biasName, tensorEntry(this.decoder.bias)]);
    const head = headState(
      this.config.raw,
      this.tied,
      this.decoder,
      this.words.table,
      'cls.predictions.decoder.weight',
    );
    return { config: head.config, tensors: [...t, ...head.tensors], ...this.source };
  }
}

/**
 * A minimal ONNX model encoder for the benchmark peer: one MatMul node whose weight is an initializer.
 *
 * onnxruntime needs a model file and nothing on this machine writes one, so this hand-writes the few
 * protobuf messages involved (ModelProto → GraphProto → NodeProto / TensorProto / ValueInfoProto).
 * Field numbers are those of onnx/onnx.proto (IR version 8, opset 17). The weight goes into
 * `TensorProto.raw_data` as little-endian f32, the layout onnxruntime reads without conversion.
 */

/** ONNX TensorProto.DataType.FLOAT. */
const ONNX_FLOAT = 1;
const IR_VERSION = 8;
const OPSET = 17;

/** Protobuf wire types. */
const VARINT = 0;
const LEN = 2;

/** One encoded protobuf message, kept as a list of chunks so the big weight is copied only once. */
class Message {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`onnx: bad varint ${value}`);
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** An int32/int64/enum field (non-negative values only, which is all a MatMul model needs). */
  int(field: number, value: number): this {
    this.tag(field, VARINT);
    this.varint(value);
    return this;
  }

  /** A length-delimited field holding raw bytes. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LEN);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** A nested message field. */
  message(field: number, m: Message): this {
    this.tag(field, LEN);
    this.varint(m.length);
    for (const c of m.chunks) this.push(c);
    return this;
  }

  /** The whole message as one buffer. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** A dimension: a fixed size, or a name for a size chosen at run time (the batch). */
export type Dim = number | string;

/** ValueInfoProto for an f32 tensor; string dims are symbolic (`dim_param`). */
function tensorInfo(name: string, shape: readonly Dim[]): Message {
  const dims = new Message();
  for (const d of shape) {
    // TensorShapeProto.dim { dim_value = 1 | dim_param = 2 }
    dims.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  }
  const tensorType = new Message().int(1, ONNX_FLOAT).message(2, dims); // TypeProto.Tensor
  const type = new Message().message(1, tensorType); // TypeProto.tensor_type
  return new Message().string(1, name).message(2, type);
}

/** TensorProto holding f32 data (row-major) as raw little-endian bytes. */
function initializer(name: string, shape: readonly number[], data: Float32Array): Message {
  const t = new Message();
  for (const d of shape) t.int(1, d); // dims
  t.int(2, ONNX_FLOAT).string(8, name);
  return t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); // raw_data
}

/** Which operand of the MatMul is the constant weight. */
export type OrtLayout = 'xw' | 'wx';

/** Shapes of a one-MatMul model: the graph input `x`, the initializer `w` and the output `y`. */
export interface MatmulModelShapes {
  x: [Dim, Dim];
  w: [number, number];
  y: [Dim, Dim];
}

/**
 * Shapes for a weight W [M,K] and N input vectors (N a size or a symbolic name) in one of two layouts:
 * `wx`: y [M,N] = W [M,K] · x [K,N] (sparsekit's own layout; the weight is MatMul's first operand);
 * `xw`: y [N,M] = x [N,K] · Wᵀ [K,M] (the usual `x @ W.T` of a Linear layer; onnxruntime pre-packs a
 * constant second operand).
 */
export function matmulModelShapes(layout: OrtLayout, M: number, K: number, N: Dim): MatmulModelShapes {
  return layout === 'wx' ? { x: [K, N], w: [M, K], y: [M, N] } : { x: [N, K], w: [K, M], y: [N, M] };
}

/**
 * Encode an ONNX model computing one MatMul with a constant weight; the batch N is the symbolic dim
 * `N` unless a size is given. `weight` must already be in the layout's shape (`wx`: W [M,K]; `xw`:
 * Wᵀ [K,M]), row-major.
 * @example const bytes = encodeMatmulModel('xw', 4096, 4096, wt); // y[N,4096] = x[N,4096]·Wᵀ
 */
export function encodeMatmulModel(
  layout: OrtLayout,
  M: number,
  K: number,
  weight: Float32Array,
  N: Dim = 'N',
): Uint8Array {
  const s = matmulModelShapes(layout, M, K, N);
  if (weight.length !== M * K)
    throw new RangeError(`encodeMatmulModel: weight has ${weight.length} values, need ${M * K}`);
  const inputs = layout === 'wx' ? ['w', 'x'] : ['x', 'w'];
  const node = new Message();
  for (const i of inputs) node.string(1, i);
  node.string(2, 'y').string(3, 'matmul').string(4, 'MatMul');
  const graph = new Message()
    .message(1, node)
    .string(2, `matmul_${layout}`)
    .message(5, initializer('w', s.w, weight))
    .message(11, tensorInfo('x', s.x))
    .message(12, tensorInfo('y', s.y));
  const opset = new Message().string(1, '').int(2, OPSET);
  return new Message()
    .int(1, IR_VERSION)
    .string(2, 'sparsekit-bench')
    .message(7, graph)
    .message(8, opset)
    .finish();
}

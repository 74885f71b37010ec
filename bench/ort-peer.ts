/**
 * The benchmark peer: onnxruntime-node's dense MatMul with the weight as an initializer, at a fixed
 * intra-op thread count with spinning disabled (so its pool and sparsekit's do not fight over the cores).
 * onnxruntime-node is a dev dependency, loaded on demand.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { encodeMatmulModel, type OrtLayout } from './onnx-model.js';

/** The part of onnxruntime-node's API the benchmark uses. */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/** How to install the peer, shown when it is missing. */
export const ORT_INSTALL_HINT =
  'onnxruntime-node (the peer, a dev dependency) is not installed, so its cases are skipped and ratios against ' +
  'it are missing; install it with `ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install` in the sparsekit folder';

/** Load onnxruntime-node, or throw an error that says how to install it. */
export async function loadOrt(): Promise<{ ort: OrtModule; version: string }> {
  let ort: OrtModule;
  try {
    ort = (await import('onnxruntime-node')) as unknown as OrtModule;
  } catch (e) {
    throw new Error(`${ORT_INSTALL_HINT} (${(e as Error).message.split('\n')[0]})`);
  }
  let version = 'unknown';
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('onnxruntime-node/package.json');
    version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    /* the version is informational */
  }
  return { ort, version };
}

/** Session options for a fair peer: `threads` intra-op threads, 1 inter-op, no spinning, full optimisation. */
export function peerSessionOptions(threads: number): Record<string, unknown> {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/**
 * `copies` sessions of one MatMul model with a symbolic batch (each session holds its own copy of the
 * weight, so cycling through them is cold-cache like sparsekit's weight copies). `weight` is W [M,K]
 * for `wx`, Wᵀ [K,M] for `xw`.
 */
export async function peerSessions(
  ort: OrtModule,
  layout: OrtLayout,
  M: number,
  K: number,
  weight: Float32Array,
  threads: number,
  copies: number,
): Promise<OrtSession[]> {
  const model = encodeMatmulModel(layout, M, K, weight);
  const sessions: OrtSession[] = [];
  try {
    for (let i = 0; i < copies; i++)
      sessions.push(await ort.InferenceSession.create(model, peerSessionOptions(threads)));
  } catch (e) {
    await Promise.all(sessions.map((s) => s.release()));
    throw e;
  }
  return sessions;
}

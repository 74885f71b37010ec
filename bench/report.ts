/**
 * BENCHMARKS.md from the JSON results: one section per suite run (full first, then quick), each with
 * the machine, the issue's targets as PASS/MISS, the break-even table, and one table per shape and
 * batch preceded by the command that reproduces it. Pure functions of the results, so tests can render.
 */

import type { listZoo } from '../src/zoo/zoo.js';
import {
  attachRatios,
  type BreakEvenRow,
  baselineDrift,
  breakEven,
  breakEvenFormats,
  breakEvenText,
  evaluateTargets,
  type TargetRow,
} from './analysis.js';
import { formatLabel } from './cases.js';
import { attentionMultiplyAdds, type ModelRow } from './models.js';
import { type PruneRow, RANDOM_MODEL, type VariantInfo } from './prune.js';
import type { QualityRow } from './quality.js';
import type { CaseResult, SuiteResult } from './results.js';
import { trainMarkdown } from './train.js';

/** A markdown table with columns padded to equal width (readable as plain text too). */
export function markdownTable(header: string[], rows: string[][], rightAligned: boolean[] = []): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (rightAligned[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join(' | ')} |`;
  const rule = `|${width.map((w, i) => (rightAligned[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Milliseconds with sensible precision. */
export function ms(v: number | undefined): string {
  if (v === undefined) return '—';
  return v < 1 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1);
}

const num = (v: number | undefined, digits = 1) => (v === undefined ? '—' : v.toFixed(digits));
const ratio = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(2)}×`);

/** The break-even table: per shape, batch and threads, for each format the sparsity from which it wins. */
export function breakEvenMarkdown(rows: readonly BreakEvenRow[]): string {
  const formats = breakEvenFormats(rows);
  const header = [
    'shape M×K',
    'batch',
    'threads',
    ...formats.flatMap((f) => [`${f} vs dense`, `${f} vs ORT`]),
  ];
  const body = rows.map((r) => [
    `${r.M}×${r.K}`,
    String(r.N),
    String(r.threads),
    ...formats.flatMap((f) => [breakEvenText(r.cells[f], 'vsDense'), breakEvenText(r.cells[f], 'vsOrt')]),
  ]);
  return markdownTable(header, body, [false, true, true, ...formats.flatMap(() => [true, true])]);
}

/** The targets table. */
export function targetsMarkdown(rows: readonly TargetRow[]): string {
  const verdict = (p: boolean | null) => (p === null ? 'not measured' : p ? 'PASS' : 'MISS');
  return markdownTable(
    ['target', 'where', 'threshold', 'measured', 'result'],
    rows.map((r) => [r.target, r.where, r.threshold, r.measured, verdict(r.pass)]),
  );
}

/** What a case row is called in a table: `sparsekit csr 90%`, `onnxruntime (x·Wᵀ)`. */
export function caseLabel(c: CaseResult): string {
  const again = c.pass && c.pass > 1 ? `, pass ${c.pass}` : '';
  if (c.impl === 'onnxruntime') {
    return `onnxruntime dense (${c.layout === 'xw' ? 'x·Wᵀ' : 'W·x'})${again}${c.peerBaseline ? ' *' : ''}`;
  }
  if (c.pattern === 'dense')
    return `sparsekit ${c.format === 'dense' ? 'dense' : `${c.format} (dense)`}${again}`;
  if (c.op === 'colsparse_gemv')
    return `sparsekit column-sparse GEMV, ${formatLabel(c).replace('dense ', '')}`;
  return `sparsekit ${formatLabel(c)}`;
}

function caseRows(cases: readonly CaseResult[]): string[][] {
  return cases.map((c) => [
    caseLabel(c),
    String(c.threads),
    c.status === 'ok' ? ms(c.medianMs) : c.status,
    ms(c.minMs),
    num(c.usefulGflops),
    num(c.denseEqGflops),
    num(c.gbps),
    ratio(c.vsDense),
    ratio(c.vsOrt),
    c.note ?? '',
  ]);
}

const CASE_HEADER = [
  'case',
  'threads',
  'median ms',
  'min ms',
  'GFLOP/s useful',
  'GFLOP/s dense-eq',
  'GB/s',
  '× sk dense',
  '× ORT',
  'note',
];
const CASE_ALIGN = [false, true, true, true, true, true, true, true, true, false];

/** The command that re-runs one table's cases (plus the baselines they are compared with). */
export function reproduceCommand(r: SuiteResult, only: string): string {
  const threads = r.options.threads.join(',');
  const quick = r.mode === 'quick' ? ' --quick' : '';
  return `npx sparsekit bench kernels${quick} --threads ${threads} --only "${only}"`;
}

function order(a: CaseResult, b: CaseResult): number {
  const rank = (c: CaseResult) =>
    c.impl === 'onnxruntime' ? 0 : c.pattern === 'dense' ? 1 : c.op === 'colsparse_gemv' ? 2 : 3;
  return (
    rank(a) - rank(b) ||
    a.format.localeCompare(b.format) ||
    a.sparsity - b.sparsity ||
    (a.layout ?? '').localeCompare(b.layout ?? '') ||
    (a.pass ?? 1) - (b.pass ?? 1) ||
    a.threads - b.threads
  );
}

/** "3%" of the CPU, or "an unknown share" when it was not measured. */
function quietText(share: number | null | undefined): string {
  return typeof share === 'number' ? `${Math.round(share * 100)}%` : 'an unknown share';
}

/** One section for one suite run. */
export function suiteMarkdown(r: SuiteResult): string {
  const cases = attachRatios(r.cases.map((c) => ({ ...c })));
  const m = r.machine;
  const out: string[] = [];
  out.push(`## ${r.suite}: ${r.mode} run`);
  out.push('');
  out.push(
    `Command: \`${r.command}\` — ${r.date.slice(0, 16).replace('T', ' ')} UTC, ${Math.round(r.durationSeconds)} s.`,
  );
  out.push('');
  out.push(
    `Machine: ${m.cpu}, ${m.cores} cores, last-level cache ${(m.llcBytes / 2 ** 20).toFixed(0)} MiB, ` +
      `${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM; Node ${m.node} (V8 ${m.v8}); WebAssembly build: ` +
      `${m.wasmVariant}; onnxruntime-node ${m.onnxruntime}. Threads: ${r.options.threads.join(', ')}; ` +
      `≥ ${r.options.reps} timed calls per case. Other processes used ${quietText(m.otherCpuShare)} ` +
      'of the CPU during the run.',
  );
  out.push('');
  out.push('### Targets (issue 2)');
  out.push('');
  out.push(targetsMarkdown(evaluateTargets(cases)));
  out.push('');
  const bounds = columnStreamBounds(cases);
  if (bounds.length) out.push(...bounds, '');
  const drift = baselineDrift(cases);
  if (drift.length) {
    const worst = Math.max(...drift.map((d) => Math.max(d.pass1Ms / d.pass2Ms, d.pass2Ms / d.pass1Ms)));
    out.push('### Baseline drift');
    out.push('');
    out.push(
      "The dense baselines are timed before and after each shape's sparse cases; ratios use both passes " +
        `pooled. The two passes of one baseline differ by up to ${worst.toFixed(2)}× in this run: ` +
        'read ratios closer to 1 than that as ties.',
    );
    out.push('');
    out.push(
      markdownTable(
        ['shape, batch, threads', 'baseline', 'pass 1 ms', 'pass 2 ms', 'pass 1 ÷ pass 2'],
        drift.map((d) => [d.arena, d.who, ms(d.pass1Ms), ms(d.pass2Ms), (d.pass1Ms / d.pass2Ms).toFixed(2)]),
        [false, false, true, true, true],
      ),
    );
    out.push('');
  }
  out.push('### Break-even');
  out.push('');
  out.push(
    'Lowest measured sparsity from which a format is faster than sparsekit dense / onnxruntime dense at that ' +
      'point and at every sparser point measured; "> x%" means not even at the sparsest point measured (x%).',
  );
  out.push('');
  out.push(breakEvenMarkdown(breakEven(cases)));
  const arenas = new Map<string, CaseResult[]>();
  for (const c of cases) {
    const key = `${c.op === 'gemm' ? 'gemm' : 'matmul'} ${c.M}x${c.K} N=${c.N}`;
    arenas.set(key, [...(arenas.get(key) ?? []), c]);
  }
  for (const [key, list] of arenas) {
    const c0 = list[0]!;
    const title =
      c0.op === 'gemm'
        ? `Dense GEMM ${c0.M}×${c0.K}×${c0.N}`
        : `${c0.M}×${c0.K}, batch ${c0.N}${c0.N === 1 ? ' (GEMV / SpMV)' : ''}`;
    out.push('');
    out.push(`### ${title}`);
    out.push('');
    out.push(`\`${reproduceCommand(r, key.replace(/^matmul /, ''))}\``);
    out.push('');
    out.push(markdownTable(CASE_HEADER, caseRows([...list].sort(order)), CASE_ALIGN));
  }
  return out.join('\n');
}

const HOW = `Each case multiplies a weight W [M,K] by a right-hand side B [K,N] through sparsekit's
public API (\`matmul\`, or \`columnSparseGemv\` for activation sparsity) or through onnxruntime-node's
dense MatMul (the peer, weight as an initializer; both operand orders are timed and the faster one,
marked *, is the baseline; intra-op threads = the thread count, inter-op 1, spinning off). Weights stay
resident; the input is copied in and the output out on every call on both sides.

Cold cache: every timed call uses the next of several distinct weight copies that together exceed
twice the last-level cache; after one warm-up call per copy, the median (and min) of at least \`reps\`
calls is reported. GFLOP/s useful = 2·nnz·N / t; dense-eq = 2·M·K·N / t; GB/s = (bytes of the weight
as the kernel streams it + input + output) / t. "× sk dense" and "× ORT" are speed-ups over sparsekit
dense and onnxruntime dense on the same shape, batch and threads in the same run (> 1 = faster). The
baselines are timed before and after each shape's sparse cases and pooled, because memory bandwidth on
a shared host drifts; the drift table shows by how much.

Weights: unstructured sparsity zeroes a seeded random subset of a seeded normal weight (nested across
levels); BSR 4×4 zeroes whole blocks; 2:4 keeps the 2 largest of every 4; the column-sparse GEMV uses a
seeded half of the inputs. Every case's first output is checked on 64 rows against the exact product
(f64 sums in TypeScript); a mismatch is listed as an error and makes the command exit with code 1. A
format with no WebAssembly kernel is listed as "no fast path" and not timed.`;

const pctText = (v: number) => `${Math.round(v * 100)}%`;

/**
 * What the column-sparse GEMV's read pattern allows, per case that measured it: its active columns read in the
 * kernel's order with nothing computed, all columns in that order, the kernel's own rate, and the ratio to the dense
 * GEMV the kernel would reach if its multiply-adds and output cost nothing (measured × pattern rate ÷ kernel rate).
 */
function columnStreamBounds(cases: readonly CaseResult[]): string[] {
  const rows = cases.filter(
    (c) => c.op === 'colsparse_gemv' && c.columnStream && c.status === 'ok' && c.medianMs && c.vsDense,
  );
  if (!rows.length) return [];
  const lines = rows.map((c) => {
    const { activeBytesPerSecond: a, allBytesPerSecond: all } = c.columnStream!;
    const activeBytes = Math.round(c.K * (1 - c.sparsity)) * c.M * 4;
    const kernel = activeBytes / (c.medianMs! / 1000);
    return (
      `- ${c.M}×${c.K}, ${c.threads} thread${c.threads > 1 ? 's' : ''}: the active columns stream at ${num(a / 1e9)} GB/s ` +
      `in the kernel's order (all columns in that order: ${num(all / 1e9)} GB/s); the kernel reads them at ` +
      `${num(kernel / 1e9)} GB/s and measured ${ratio(c.vsDense)} the dense GEMV, so with free arithmetic it would reach ` +
      `${ratio((c.vsDense! * a) / kernel)}.`
    );
  });
  return [
    'Column-sparse GEMV: its read pattern alone, timed in this run (`columnStream`: the same copies and active set, ' +
      'each tile of 4096 outputs read from 8 active columns at once, summed, nothing else computed). The dense GEMV reads ' +
      'one sequential stream; reading 8 columns at once is slower on this machine even when no column is skipped:',
    '',
    ...lines,
  ];
}

/** One row of the models table: achieved tokens/s beside its bound and the issue's threshold. */
function modelRowCells(row: ModelRow): string[] {
  const pass = row.ofBound >= row.target;
  return [
    row.weights,
    String(row.threads),
    row.phase === 'decode' ? `decode, context ${row.context}` : `prefill ${row.context} tokens`,
    num(row.tokensPerSecond),
    num(row.bound),
    pctText(row.ofBound),
    `≥ ${pctText(row.target)}`,
    pass ? 'PASS' : 'MISS',
    ms(median(row.ms)),
    row.phase === 'decode'
      ? `${num(row.weightBytesPerToken / 2 ** 20)} MiB weights + ${num(row.kvBytesPerToken / 2 ** 20)} MiB KV${row.kvDtype ? ` (${row.kvDtype})` : ''}`
      : `${num(row.flopsPerToken / 1e6, 0)} MFLOP`,
  ];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** One section for a models suite run: probes, then decode and prefill against their bounds. */
export function modelsMarkdown(r: SuiteResult): string {
  const run = r.models!;
  const s = run.shape;
  const m = r.machine;
  const quick = r.mode === 'quick' ? ' --quick' : '';
  const out = [
    `## models: ${r.mode} run`,
    '',
    `Command: \`npx sparsekit bench models${quick} --threads ${r.options.threads.join(',')}\` — ` +
      `${r.date.slice(0, 16).replace('T', ' ')} UTC, ${Math.round(r.durationSeconds)} s. Machine: ${m.cpu}, ` +
      `${m.cores} cores, Node ${m.node}; WebAssembly build: ${m.wasmVariant}. Other processes used ` +
      `${quietText(m.otherCpuShare)} of the CPU during the run.`,
    '',
    `Model: random Llama with SmolLM-135M's shapes (hidden ${s.hidden_size}, intermediate ` +
      `${s.intermediate_size}, ${s.num_hidden_layers} layers, ${s.num_attention_heads} heads, ` +
      `${s.num_key_value_heads} KV heads, head dim ${s.head_dim}, vocab ${s.vocab_size}, tied embeddings): ` +
      `${(run.linearParams / 1e6).toFixed(1)} M weights per token (every linear layer and the LM head). ` +
      `Decode: ${run.grid.decodeSteps} single-token steps ending at the given context, median step. ` +
      `Prefill: ${run.grid.prefill} tokens in one forward from an empty cache, median of ${run.grid.prefillReps}.`,
    '',
    'Bounds, measured in the same run: decode roofline = WebAssembly read bandwidth (SIMD streaming sum over ' +
      'a buffer ≫ last-level cache, `readBandwidth`; one buffer for the whole run, and for each decode row the ' +
      'mean of a probe right before and one right after its timed steps, since this machine drifts during a ' +
      'run: the table below is the probe at the start) ÷ weight bytes per token (the KV cache read is shown ' +
      'beside it but not counted, as the issue defines the roofline; each model keeps its default cache, ' +
      'f32 for f32 weights and bf16 for bf16 weights); prefill bound = sparsekit dense GEMM ' +
      '1024³ FLOP/s ÷ FLOPs per token (weights plus attention at half the prompt). Targets: decode ≥ 70% ' +
      'of the roofline, prefill ≥ 60% of the bound. "f32 multiply-adds" is the arithmetic probe ' +
      '(`multiplyAddRate`: independent SIMD multiply-add chains, lanes counted), also taken around each decode ' +
      "row: what a row's note below holds attention's arithmetic to.",
    '',
    markdownTable(
      ['threads', 'read bandwidth', 'dense GEMM 1024³', 'f32 multiply-adds'],
      run.probes.map((p) => [
        String(p.threads),
        `${num(p.readBytesPerSecond / 1e9)} GB/s`,
        `${num(p.gemmFlopsPerSecond / 1e9)} GFLOP/s`,
        p.multiplyAddsPerSecond ? `${num(p.multiplyAddsPerSecond / 1e9)} G/s` : '—',
      ]),
      [true, true, true, true],
    ),
    '',
    markdownTable(
      [
        'weights',
        'threads',
        'phase',
        'tokens/s',
        'bound tokens/s',
        'of bound',
        'target',
        'result',
        'median ms',
        'per token',
      ],
      run.rows.map(modelRowCells),
      [false, true, false, true, true, true, true, false, true, false],
    ),
  ];
  const split = run.rows.filter((row) => row.split);
  if (split.length) {
    out.push(
      '',
      '### Where the time goes',
      '',
      'Each timed step (or prefill) above is followed by one run with every kernel call timed ' +
        '(`WasmRuntime.startProfile`, the same split `npx sparsekit profile <model-dir>` prints); the parts are ms per ' +
        'step (per prefill) averaged over those runs, and host is the rest of the profiled step: JavaScript between ' +
        'kernel calls. "Weights read at" divides the weight bytes by the matmul time (decode), against the ' +
        'row\'s own probe. "Step at target" is the step time the target needs: what is left of it after the ' +
        'matmuls is what attention, norms and host may take.',
      '',
      markdownTable(
        [
          'weights',
          'threads',
          'phase',
          'median ms',
          'matmul',
          'attention',
          'norm + act.',
          'host (JS)',
          'weights read at',
          'step at target',
        ],
        split.map(splitCells),
        [false, true, false, true, true, true, true, true, false, true],
      ),
    );
    const misses = split.filter((row) => row.phase === 'decode' && row.ofBound < row.target);
    for (const row of misses) out.push('', missText(row, attentionMultiplyAdds(s, row.context)));
  }
  return out.join('\n');
}

/** The ms a decode row's step may take to reach its target (1 / (target · bound tokens/s)). */
function stepAtTarget(row: ModelRow): number {
  return 1000 / (row.target * row.bound);
}

function splitCells(row: ModelRow): string[] {
  const p = row.split!.parts;
  const decode = row.phase === 'decode';
  const rate = decode && p.matmul > 0 ? row.weightBytesPerToken / (p.matmul * 1e6) : 0;
  return [
    row.weights,
    String(row.threads),
    decode ? `decode, context ${row.context}` : `prefill ${row.context} tokens`,
    ms(median(row.ms)),
    ms(p.matmul),
    ms(p.attention),
    ms(p['norm+activation']),
    ms(p.host + p.other),
    decode && rate > 0
      ? `${num(rate)} GB/s${row.readBytesPerSecond ? ` (${pctText((rate * 1e9) / row.readBytesPerSecond)})` : ''}`
      : '—',
    decode ? ms(stepAtTarget(row)) : '—',
  ];
}

/** Why a decode row misses its target, in the row's own figures (`macs`: its attention's multiply-adds a step). */
function missText(row: ModelRow, macs: number): string {
  const p = row.split!.parts;
  const budget = stepAtTarget(row);
  const left = budget - p.matmul;
  const rest = p['norm+activation'] + p.host + p.other;
  const floor = row.multiplyAddsPerSecond
    ? ` Its ${num(macs / 1e6, 1)} M multiply-adds alone need at least ${ms((1000 * macs) / row.multiplyAddsPerSecond)} ms ` +
      `at the ${num(row.multiplyAddsPerSecond / 1e9)} G/s the arithmetic probe measured around this row, and the ` +
      `weights at the probe's read rate ${ms(1000 / row.bound)} ms: together ${pctText(1 / row.bound / (1 / row.bound + macs / row.multiplyAddsPerSecond))} of the roofline at best, before any norm or host time.`
    : '';
  return (
    `**${row.weights}, ${row.threads} thread${row.threads > 1 ? 's' : ''}, context ${row.context} (${pctText(row.ofBound)}):** ` +
    `${pctText(row.target)} of the roofline needs a step of at most ${ms(budget)} ms. The matmuls took ${ms(p.matmul)} ms ` +
    `(the weights alone at the probe's rate would take ${ms(1000 / row.bound)}), which leaves ${ms(left)} ms; ` +
    `attention took ${ms(p.attention)} ms and norms, activations and host ${ms(rest)} ms.${floor}`
  );
}

function variantCells(v: VariantInfo): string[] {
  const formats = Object.entries(v.formats)
    .map(([f, c]) => `${c} ${f}`)
    .join(', ');
  return [
    v.variant,
    v.source === 'compact' ? 'compact sparse checkpoint' : 'plain HF folder',
    formats,
    v.sparsity ? pctText(v.sparsity) : '—',
    num(v.weightBytes / 2 ** 20),
    v.maxLogitDiff === undefined ? '—' : v.maxLogitDiff.toExponential(1),
  ];
}

function pruneRowCells(row: PruneRow, rows: readonly PruneRow[]): string[] {
  const verdict = row.target === undefined ? '' : row.vsDense >= row.target ? 'PASS' : 'MISS';
  const bf16 = rows.find(
    (x) => x.variant === 'dense bf16' && x.threads === row.threads && x.phase === row.phase,
  );
  return [
    row.variant,
    String(row.threads),
    row.phase === 'decode' ? `decode, context ${row.context}` : `prefill ${row.context} tokens`,
    num(row.tokensPerSecond),
    ms(median(row.ms)),
    ratio(row.vsDense),
    bf16 ? ratio(row.tokensPerSecond / bf16.tokensPerSecond) : '—',
    row.target === undefined ? '' : `≥ ${row.target.toFixed(2)}×`,
    verdict,
  ];
}

function pruneSplitCells(row: PruneRow): string[] {
  const { parts, layers = [] } = row.split!;
  const head = layers.filter((l) => l.layer === 'lm_head');
  const block = layers.filter((l) => l.layer !== 'lm_head');
  const sum = (ls: typeof layers, f: (l: (typeof layers)[number]) => number) =>
    ls.reduce((t, l) => t + f(l), 0);
  const blockMs = sum(block, (l) => l.msPerStep);
  const rate = blockMs > 0 ? sum(block, (l) => l.weightBytes) / (blockMs * 1e6) : 0;
  return [
    row.variant,
    String(row.threads),
    ms(median(row.ms)),
    ms(blockMs),
    ms(sum(head, (l) => l.msPerStep)),
    ms(parts.attention),
    ms(parts['norm+activation']),
    ms(parts.host + parts.other - (sum(layers, (l) => l.msPerStep) - parts.matmul)),
    rate > 0 ? `${num(rate)} GB/s` : '—',
  ];
}

/** One section for a prune suite run: per model the variants, decode and prefill against dense f32; then SparseGPT's time. */
export function pruneMarkdown(r: SuiteResult): string {
  const run = r.prune!;
  const s = run.shape;
  const m = r.machine;
  const quick = r.mode === 'quick' ? ' --quick' : '';
  const g = run.sparsegpt;
  const models = [RANDOM_MODEL, ...(run.zoo ?? []).map((z) => z.name)];
  const of = <T extends { model?: string }>(xs: readonly T[], name: string) =>
    xs.filter((x) => (x.model ?? RANDOM_MODEL) === name);
  const out = [
    `## prune: ${r.mode} run`,
    '',
    `Command: \`npx sparsekit bench prune${quick} --threads ${r.options.threads.join(',')}\` — ` +
      `${r.date.slice(0, 16).replace('T', ' ')} UTC, ${Math.round(r.durationSeconds)} s. Machine: ${m.cpu}, ` +
      `${m.cores} cores, Node ${m.node}; WebAssembly build: ${m.wasmVariant}. Other processes used ` +
      `${quietText(m.otherCpuShare)} of the CPU during the run.`,
    '',
    'Each model is pruned with magnitude (per matrix; the method decides which weights are zero, not how fast ' +
      'they run), saved as a compact sparse checkpoint and loaded back from it: each linear weight in the format ' +
      "`chooseFormat` picks from the kernels suite's break-even table (docs/sparse-checkpoint.md). " +
      'The LM head and embeddings are never pruned. ' +
      `Decode: ${run.grid.decodeSteps} single-token steps ending at the context shown, median step. ` +
      `Prefill: the prompt in one forward, median of ${run.grid.prefillReps}. ` +
      "A model's variants are all loaded, then timed in turn step by step (one decode step of each, then the " +
      "next), so a drift in the machine's speed falls on all of them alike. " +
      '"× dense" is tokens/s over dense f32 on the same model, phase and threads in this run (the targets use ' +
      'it); "× dense bf16" over the same checkpoint kept in bf16, the fastest dense alternative for a bf16 ' +
      'model. The quality each ' +
      'setting costs is in the quality section below.',
  ];
  for (const name of models) {
    const zoo = run.zoo?.find((z) => z.name === name);
    out.push(
      '',
      `### ${name}`,
      '',
      zoo
        ? `The zoo's \`${name}\` (${(zoo.parameters / 1e6).toFixed(1)} M linear weights, stored in half precision; ` +
            'the zoo saves f16, so its compact checkpoints hold csr_f16 and its "dense bf16" row rounds the weights ' +
            'to bf16, a speed reference only): its matrices are small enough that per-call overheads weigh more ' +
            'than on the larger shapes above.'
        : `A random Llama with SmolLM-135M's shapes (hidden ${s.hidden_size}, intermediate ${s.intermediate_size}, ` +
            `${s.num_hidden_layers} layers, vocab ${s.vocab_size}, tied embeddings), bf16 values computed in f32. ` +
            'Targets (issue 5): decode at 70% unstructured ≥ 1.6× dense, at 2:4 ≥ 1.2× dense.',
      '',
      markdownTable(
        [
          'model',
          'loaded from',
          'linear weights',
          'block sparsity',
          'weight MiB',
          'max |Δ logit| vs in-memory',
        ],
        of(run.variants, name).map(variantCells),
        [false, false, false, true, true, true],
      ),
      '',
      markdownTable(
        ['model', 'threads', 'phase', 'tokens/s', 'median ms', '× dense', '× dense bf16', 'target', 'result'],
        of(run.rows, name).map((row, _, rows) => pruneRowCells(row, rows)),
        [false, true, false, true, true, true, true, true, false],
      ),
    );
    const split = of(run.rows, name).filter((row) => row.phase === 'decode' && row.split?.layers);
    if (split.length) {
      out.push(
        '',
        'Where a decode step goes (ms per step, from a profiled step after each timed one, as in the models ' +
          'section; `npx sparsekit profile <model-dir>` prints the same): the LM head stays dense in every ' +
          'variant, so it takes a growing share as the block linears shrink. "Block linears" are every other ' +
          'linear layer, with the rate at which their weights were read; both include the JavaScript around their ' +
          'kernels, and "other JS" is the JavaScript outside the layers.',
        '',
        markdownTable(
          [
            'model',
            'threads',
            'median ms',
            'block linears',
            'LM head',
            'attention',
            'norm + act.',
            'other JS',
            'block linears read at',
          ],
          split.map(pruneSplitCells),
          [false, true, true, true, true, true, true, true, true],
        ),
      );
    }
  }
  out.push(
    '',
    g.model
      ? `SparseGPT time: ${num(g.seconds)} s to prune \`${g.model}\` to 50% unstructured from ${g.calibCount} × ` +
          `${g.calibLength} calibration tokens of the Brown training split on ${g.threads} thread(s) ` +
          `(\`sparsekit prune ${g.model} --method sparsegpt --sparsity 0.5\`, its pruning step).`
      : `SparseGPT time: ${num(g.seconds)} s to prune a random Llama (hidden ${g.shape.hidden_size}, intermediate ` +
          `${g.shape.intermediate_size}, ${g.shape.num_hidden_layers} layers) to 50% unstructured from ` +
          `${g.calibCount} × ${g.calibLength} calibration tokens on ${g.threads} thread(s); the zoo's brown-llama ` +
          'replaces it once built.',
  );
  return out.join('\n');
}

function settingLabel(s: string): string {
  return s.includes(':') ? s : `${Math.round(Number(s) * 100)}%`;
}

/** The orderings issue 5 expects from the papers, checked on one model's rows. */
export function qualityClaims(
  rows: readonly QualityRow[],
): Array<{ claim: string; holds: boolean; detail: string }> {
  const ppl = (method: string, setting: string) =>
    rows.find((r) => r.method === method && r.setting === setting)?.ppl;
  const claims: Array<{ claim: string; holds: boolean; detail: string }> = [];
  const compare = (claim: string, better: string, worse: string, settings: readonly string[]) => {
    const pairs = settings
      .map((s) => [s, ppl(better, s), ppl(worse, s)] as const)
      .filter((p): p is readonly [string, number, number] => p[1] !== undefined && p[2] !== undefined);
    if (!pairs.length) return;
    claims.push({
      claim,
      holds: pairs.every(([, b, w]) => b < w),
      detail: pairs.map(([s, b, w]) => `${settingLabel(s)}: ${num(b)} vs ${num(w)}`).join('; '),
    });
  };
  const all = ['0.5', '0.6', '0.7', '0.8', '2:4', '4:8'];
  compare('SparseGPT beats magnitude from 50% on', 'sparsegpt', 'magnitude', all);
  compare('Wanda beats magnitude from 50% on', 'wanda', 'magnitude', all);
  compare('DSnoT improves Wanda at ≥ 60%', 'wanda + DSnoT', 'wanda', ['0.6', '0.7', '0.8']);
  compare('OWL improves uniform Wanda at ≥ 70%', 'wanda + OWL', 'wanda', ['0.7', '0.8']);
  compare('OWL improves uniform SparseGPT at ≥ 70%', 'sparsegpt + OWL', 'sparsegpt', ['0.7', '0.8']);
  return claims;
}

/** One section for a quality suite run: per model, test perplexity by method × setting, then the expected orderings. */
export function qualityMarkdown(r: SuiteResult): string {
  const run = r.quality!;
  const m = r.machine;
  const g = run.grid;
  const out = [
    `## quality: ${r.mode} run`,
    '',
    `Command: \`npx ${r.command}\` — ${r.date.slice(0, 16).replace('T', ' ')} UTC, ` +
      `${(r.durationSeconds / 60).toFixed(0)} min ` +
      `(rows reused from the cache of earlier runs: ${run.rows.filter((x) => x.cached).length}). Machine: ${m.cpu}, ` +
      `${m.cores} cores, Node ${m.node}.`,
    '',
    `Perplexity on the Brown test split${g.maxTokens ? ` (first ${g.maxTokens} tokens)` : ''}, disjoint windows of ` +
      "the model's full context, after one-shot pruning of every transformer-block linear (embeddings, norms and the " +
      `LM head stay dense) from ${g.calibCount} calibration sequences of the Brown training split (seed 0), exactly as ` +
      `\`sparsekit prune <model> --method … --sparsity … && sparsekit eval ppl <out> --data brown${g.maxTokens ? ` --max-tokens ${g.maxTokens}` : ''}\` ` +
      'computes it. ' +
      'Percentages are unstructured sparsity per matrix (uniform) or on average (OWL); N:M zeros N of every M ' +
      'weights along each input row. "wanda + DSnoT" refines the Wanda mask; OWL budgets are defined for ' +
      'unstructured sparsity only.',
  ];
  for (const model of run.models) {
    const rows = run.rows.filter((x) => x.model === model.name);
    const dense = rows.find((x) => x.method === 'dense');
    const methods = [...new Set(rows.filter((x) => x.method !== 'dense').map((x) => x.method))];
    const cell = (method: string, s: string) => {
      const row = rows.find((x) => x.method === method && x.setting === s);
      return row ? num(row.ppl) : '—';
    };
    out.push(
      '',
      `### ${model.name}`,
      '',
      `Dense: perplexity **${dense ? num(dense.ppl) : '—'}** over ${model.testTokens.toLocaleString('en-US')} test ` +
        `tokens (context ${model.ctx}; calibration ${g.calibCount} × ${model.calibLength} tokens). ` +
        `Model checksum ${model.sha256.slice(0, 12)}.`,
      '',
      markdownTable(
        ['method', ...g.settings.map(settingLabel)],
        methods.map((meth) => [meth, ...g.settings.map((s) => cell(meth, s))]),
        [false, ...g.settings.map(() => true)],
      ),
      '',
      'Time to prune (s; one thread unless marked "2t"; calibration forward passes included): wall clock of the ' +
        'run that computed the row, including any wait for a busy CPU; the prune suite gives the clean SparseGPT time.',
      '',
      markdownTable(
        ['method', ...g.settings.map(settingLabel)],
        methods.map((meth) => [
          meth,
          ...g.settings.map((s) => {
            const row = rows.find((x) => x.method === meth && x.setting === s);
            if (!row) return '—';
            const t = row.threads ?? 1;
            return `${row.pruneSeconds.toFixed(1)}${t === 1 ? '' : ` (${t}t)`}`;
          }),
        ]),
        [false, ...g.settings.map(() => true)],
      ),
    );
    const claims = qualityClaims(rows);
    if (claims.length) {
      out.push(
        '',
        'What the papers report at scale, checked here:',
        '',
        markdownTable(
          ['expected', 'here', 'perplexities'],
          claims.map((c) => [c.claim, c.holds ? 'holds' : '**does not hold**', c.detail]),
        ),
        ...(claims.some((c) => !c.holds)
          ? [
              '',
              'Why an ordering does not hold on these small models: docs/pruning.md, "What the small models show".',
            ]
          : []),
      );
    }
  }
  return out.join('\n');
}

/** The reference-models section: each built zoo model's size, held-out metrics and training time. */
export function zooMarkdown(zoo: ReturnType<typeof listZoo>): string {
  const metric = (k: string, v: number) =>
    /accuracy/i.test(k)
      ? `${k} ${(100 * v).toFixed(2)}%`
      : /perplexity/i.test(k)
        ? `${k} ${v.toFixed(2)}`
        : '';
  return [
    '## Reference models (zoo)',
    '',
    'Trained by sparsekit itself (`sparsekit zoo build <name>`; hyperparameters and curves in `zoo/<name>/TRAINING.md`).',
    'Accuracy: Fashion-MNIST test set (10,000 images); perplexity: Brown corpus test split. Weights as committed.',
    '',
    '| model | parameters | MB on disk | held-out result | training | on |',
    '|---|---:|---:|---|---:|---|',
    ...zoo.map(({ name, record: r, bytes }) => {
      const results = r
        ? Object.entries(r.metrics)
            .map(([k, v]) => metric(k, v))
            .filter(Boolean)
            .join(', ')
        : 'no training.json';
      const time = r ? `${(r.seconds / 60).toFixed(1)} min, ${r.rate.toFixed(0)} ${r.itemName}/s` : '';
      return `| \`${name}\` | ${r?.parameters.toLocaleString('en-US') ?? '?'} | ${(bytes / 1e6).toFixed(2)} | ${results} | ${time} | ${r ? `${r.environment.threads} threads, ${r.date.slice(0, 10)}` : ''} |`;
    }),
  ].join('\n');
}

/**
 * BENCHMARKS.md for every suite result (full runs first, then quick; partial runs are left out), then the
 * built zoo models (`listZoo()`), if any.
 */
export function benchmarksMarkdown(
  results: readonly SuiteResult[],
  zoo: ReturnType<typeof listZoo> = [],
): string {
  const shown = results
    .filter((r) => r.mode !== 'partial')
    .sort(
      (a, b) => a.suite.localeCompare(b.suite) || (a.mode === 'full' ? -1 : 1) - (b.mode === 'full' ? -1 : 1),
    );
  const out = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench` (or any `sparsekit bench` run) from the JSON files in `bench/results/`;',
    'do not edit by hand. Full runs: `npm run bench` (every suite) or `npx sparsekit bench kernels`;',
    'the quick subset: `npx sparsekit bench kernels --quick`.',
    '',
    '## How the kernels are measured',
    '',
    HOW,
  ];
  if (!shown.length) out.push('', 'No results yet: run `npm run bench`.');
  for (const r of shown) {
    out.push(
      '',
      r.models
        ? modelsMarkdown(r)
        : r.prune
          ? pruneMarkdown(r)
          : r.quality
            ? qualityMarkdown(r)
            : r.train
              ? trainMarkdown(r)
              : suiteMarkdown(r),
    );
  }
  if (zoo.length) out.push('', zooMarkdown(zoo));
  return `${out.join('\n')}\n`;
}

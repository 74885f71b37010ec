/**
 * `sparsekit eval acc <model>`: top-1 accuracy (and mean cross-entropy) of an image classifier from the zoo
 * (fmnist-mlp, fmnist-cnn, or a folder written like them) on the Fashion-MNIST test or training images.
 */

import type { Command } from 'commander';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { evaluateVision } from '../zoo/fmnist.js';
import { isVisionFolder, loadVisionModel } from '../zoo/vision.js';
import {
  exitCodeAction,
  intFlag,
  reportErrors,
  resolveModelDir,
  threadsOption,
  UsageError,
  useThreads,
} from './common.js';

/** Parsed options of `sparsekit eval acc`. */
export interface AccCliOptions {
  split: 'test' | 'train';
  limit?: number;
  json: boolean;
  threads?: number;
}

/** Add `acc` to the `eval` command. */
export function addAccCommand(
  evalCmd: Command,
  run: (model: string, opts: AccCliOptions) => Promise<number>,
): Command {
  return evalCmd
    .command('acc')
    .description('top-1 accuracy of a Fashion-MNIST classifier (a zoo name like fmnist-cnn, or its folder)')
    .argument(
      '<model>',
      'zoo model name or folder with config.json (sparsekit_mlp / sparsekit_cnn) + model.safetensors',
    )
    .option('--split <split>', 'test (10,000 images) or train (60,000)', 'test')
    .option('--limit <n>', 'only the first n images', intFlag('--limit', 1, '1000'))
    .option('--json', 'print the result as one JSON object on stdout', false)
    .addOption(threadsOption())
    .addHelpText(
      'after',
      '\nExamples:\n  sparsekit eval acc fmnist-cnn\n  sparsekit eval acc zoo/fmnist-mlp --limit 1000 --json\n',
    )
    .action(exitCodeAction(run));
}

/** Run `sparsekit eval acc`; 0 done, 1 unreadable file, 2 usage error. */
export function runAcc(arg: string, opts: AccCliOptions): Promise<number> {
  return reportErrors('eval acc', async () => {
    if (opts.split !== 'test' && opts.split !== 'train')
      throw new UsageError(`--split takes test or train, got "${opts.split}"`);
    const dir = resolveModelDir(arg);
    if (!isVisionFolder(dir))
      throw new UsageError(
        `<model> ${arg} is not an image classifier (no config.json with model_type sparsekit_mlp or sparsekit_cnn); ` +
          'give fmnist-mlp, fmnist-cnn or such a folder (language models: sparsekit eval ppl)',
      );
    useThreads(opts.threads);
    const model = loadVisionModel(dir);
    const set = loadFashionMnist(opts.split);
    const n = Math.min(set.count, opts.limit ?? set.count);
    const t0 = performance.now();
    const r = evaluateVision(
      model,
      set,
      Uint32Array.from({ length: n }, (_, i) => i),
    );
    const seconds = (performance.now() - t0) / 1000;
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ model: dir, split: opts.split, images: n, accuracy: r.accuracy, loss: r.loss, seconds })}\n`,
      );
    } else {
      process.stdout.write(
        `accuracy ${(100 * r.accuracy).toFixed(2)}% over ${n} Fashion-MNIST ${opts.split} images ` +
          `(mean cross-entropy ${r.loss.toFixed(4)} nats) · ${dir} · ${seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  });
}

/**
 * zoo: the reference models sparsekit trains with its own code (`sparsekit zoo build`), their recipes,
 * the on-disk layout, and loading a zoo model by name.
 */
import { BROWN_GPT2, BROWN_LLAMA } from './brown-lm.js';
import { FMNIST_CNN, FMNIST_MLP } from './fmnist.js';
import type { ZooRecipe } from './recipe.js';

export * from './brown-lm.js';
export * from './fmnist.js';
export * from './recipe.js';
export * from './vision.js';
export * from './zoo.js';

/** Every recipe, in build order. */
export const ZOO_RECIPES: readonly ZooRecipe[] = [FMNIST_MLP, FMNIST_CNN, BROWN_GPT2, BROWN_LLAMA];

/** The recipe called `name`, or an error listing the names. */
export function zooRecipe(name: string): ZooRecipe {
  const r = ZOO_RECIPES.find((x) => x.name === name);
  if (!r)
    throw new RangeError(
      `zoo: no recipe "${name}"; the zoo has ${ZOO_RECIPES.map((x) => x.name).join(', ')}`,
    );
  return r;
}

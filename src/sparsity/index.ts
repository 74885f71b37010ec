/** sparsity layer: the shared vocabulary of masks, selectors and budgets every sparsity site reuses. */
export * from './budget.js';
export * from './mask.js';
export * from './select.js';

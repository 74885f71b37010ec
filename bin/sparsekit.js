#!/usr/bin/env node
// The `sparsekit` command: loads the compiled CLI (dist/src/cli/main.js) and exits with its code.
let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/src/cli/main.js')) throw e;
  process.stderr.write(
    `sparsekit: the compiled CLI is missing (${e.message.split('\n')[0]}); run \`npm run build\` in the sparsekit folder first\n`,
  );
  process.exit(2);
}
process.exit(await main(process.argv));

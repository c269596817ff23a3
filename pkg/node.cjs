// @ts-check
// Node CommonJS entry: `require('headless-imports')`. It requires the ES module entry instead of
// shipping a second build, so CJS and ESM users share one module instance, one wasm instance and
// the same error classes (no dual-package hazard: an error thrown for one passes `instanceof` in
// the other). require(esm) is on by default since Node 20.19 and, in Node 20, prints no
// ExperimentalWarning (only `--trace-require-module` shows one).
'use strict';

try {
  module.exports = require('./node.js');
} catch (err) {
  // Node 20.0-20.18 cannot require() an ES module: say what to do instead of ERR_REQUIRE_ESM.
  if (err && /** @type {{ code?: string }} */ (err).code === 'ERR_REQUIRE_ESM') {
    throw new Error(
      "require('headless-imports') needs Node >= 20.19 (require of ES modules); use import or upgrade Node.",
      { cause: err },
    );
  }
  throw err;
}

// @ts-check
// `require('headless-imports/lazy')` in Node: the CommonJS entry plus `ready()` (see node-lazy.js).
'use strict';

module.exports = { ...require('./node.cjs'), ready: async () => {} };

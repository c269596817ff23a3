// @ts-check
// A CommonJS user in Node or Bun: `require('headless-imports')`, then the same flows.
'use strict';
const hi = require('headless-imports');

import('./flows.js').then(async ({ flows }) => {
  console.log(JSON.stringify(await flows(hi, JSON.parse(process.env.HI_ENV ?? ''))));
});

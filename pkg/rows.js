// @ts-check
// Async-iterator sugar over Rust's streamed result reader (src/rows.rs): `dromo.imports.rows(id)`
// is `rowStream(start)`. Rust downloads, splits and parses; it hands each chunk's rows to `sink`
// and waits for the promise it returns before reading on, so a slow consumer slows the download
// instead of filling memory. Leaving the loop early stops the download.

/**
 * What Rust is given: `sink(rows)` resolves `true` once every row was taken, `false` once the
 * consumer stopped; `stop` fires when it stopped (the download may be waiting on the network).
 * Rust sets `signal`: the caller's signal and `stop` in one, so that an abort also stops the
 * rows of a batch already handed over.
 * @typedef {{ sink: (rows: unknown[]) => Promise<boolean>, stop: AbortSignal, signal?: AbortSignal }} Control
 */

/**
 * @param {(control: Control) => Promise<unknown>} start runs Rust's reader; settles at its end
 * @returns {AsyncGenerator<any, void, undefined>}
 */
export async function* rowStream(start) {
  const stop = new AbortController();
  /** @type {[unknown[], (more: boolean) => void][]} */
  const batches = [];
  /** The current batch's answer, until all its rows were taken. */
  let answer = (/** @type {boolean} */ _more) => {};
  let wake = () => {};
  let ended = false;
  /** @type {{ error: unknown } | undefined} */
  let failed;
  /** @type {Control['sink']} */
  const sink = (rows) =>
    new Promise((resolve) => {
      if (stop.signal.aborted) return resolve(false);
      batches.push([rows, resolve]);
      wake();
    });
  /** @type {Control} */
  const control = { sink, stop: stop.signal };
  // Nothing starts before the first `next()`: an async generator's body runs on demand.
  const running = start(control).then(
    () => {
      ended = true;
      wake();
    },
    (error) => {
      failed = { error };
      wake();
    },
  );
  try {
    for (;;) {
      const batch = batches.shift();
      if (batch) {
        answer = batch[1];
        for (const row of batch[0]) {
          // Aborted: no more rows; Rust, answered, reports the abort.
          if (control.signal?.aborted) break;
          yield row;
        }
        answer(true);
      } else if (failed) {
        throw failed.error;
      } else if (ended) {
        return;
      } else {
        await new Promise((resolve) => {
          wake = () => resolve(undefined);
        });
      }
    }
  } finally {
    if (!ended && !failed) {
      // Left early (break, return, a throw in the loop's body): stop the download, and wait for
      // it to let go of its connection. Its rejection (an abort we caused) is of no interest.
      stop.abort();
      answer(false);
      for (const [, more] of batches.splice(0)) more(false);
      await running;
    }
  }
}

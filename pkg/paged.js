// @ts-check
// Promise + async-iterator sugar over a page fetcher written in Rust. `dromo.imports.list()` returns
// `pagedList(fetchPage, params)`; Rust does the HTTP and computes the next page's params from
// offset/limit/count (it never follows the wire `next` URL, which may point at another origin).

import { HeadlessImportsError } from './errors.js';

/**
 * What `fetchPage(params)` resolves to.
 * @typedef {{ page: Record<string, unknown>, items: unknown[], next?: unknown }} RawPage
 */

/**
 * Fetches one page (Rust's list-page operation).
 * @typedef {(params: unknown) => Promise<RawPage>} PageFetcher
 */

/**
 * Calls the fetcher so that a synchronous throw becomes a rejection, like an async function would.
 * @param {PageFetcher} owner
 * @param {unknown} params
 * @returns {Promise<RawPage>}
 */
function fetchRaw(owner, params) {
  try {
    return Promise.resolve(owner(params));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Whether a page has a successor. An empty page ends the walk even if a successor was computed:
 * that keeps `for await` finite should the total shrink while we walk (imports deleted meanwhile).
 * @param {RawPage} raw
 */
function hasNext(raw) {
  return raw.next !== undefined && raw.next !== null && Array.isArray(raw.items) && raw.items.length > 0;
}

/**
 * Yields the items of `raw` and of every page after it, fetching one page at a time and only
 * when the consumer asks for more (a `break` stops the fetching).
 * @param {PageFetcher} owner
 * @param {RawPage} raw
 * @returns {AsyncGenerator<unknown, void, undefined>}
 */
async function* itemsFrom(owner, raw) {
  for (;;) {
    yield* raw.items || [];
    if (!hasNext(raw)) return;
    raw = await fetchRaw(owner, raw.next);
  }
}

/**
 * The object users see for one page: a shallow copy of the wire page with the helpers added as
 * non-enumerable properties, so logging or serialising a page shows exactly the wire fields.
 * @param {PageFetcher} owner
 * @param {RawPage} raw
 */
function makePage(owner, raw) {
  const page = { ...(raw.page || {}) };
  // `await list` resolves to this page: a `then` on it would make the await recurse into it.
  delete page.then;
  Object.defineProperties(page, {
    hasNextPage: {
      /** @returns {boolean} whether `nextPage()` will fetch something */
      value: () => hasNext(raw),
      configurable: true,
      writable: true,
    },
    nextPage: {
      /** @returns {Promise<object>} the following page */
      value: () =>
        hasNext(raw)
          ? fetchRaw(owner, raw.next).then((r) => makePage(owner, r))
          : Promise.reject(new HeadlessImportsError('No next page: this is the last page (check hasNextPage() first).', { code: 'no_next_page' })),
      configurable: true,
      writable: true,
    },
    [Symbol.asyncIterator]: {
      value: () => itemsFrom(owner, raw),
      configurable: true,
      writable: true,
    },
  });
  return page;
}

/**
 * A lazy list: nothing is fetched until it is awaited or iterated.
 * - `await list` (or `.then`/`.catch`/`.finally`) gives the first page, with `hasNextPage()`,
 *   `nextPage()` and `for await` over the items from that page on. The first page is fetched once
 *   and shared by every `then` and every iteration of this list object.
 * - `for await (const item of list)` yields every item across all pages, one fetch at a time.
 * @param {PageFetcher} owner fetches one page: `owner(params)`
 * @param {unknown} params the first page's params, handed to `owner` as they are
 */
export function pagedList(owner, params) {
  /** @type {Promise<RawPage> | undefined} */
  let first;
  const firstRaw = () => (first ??= fetchRaw(owner, params));
  /** @type {Promise<object> | undefined} */
  let firstPage;
  const page = () => (firstPage ??= firstRaw().then((raw) => makePage(owner, raw)));

  return {
    /**
     * @param {((page: object) => unknown) | null} [onFulfilled]
     * @param {((reason: unknown) => unknown) | null} [onRejected]
     */
    then(onFulfilled, onRejected) {
      return page().then(onFulfilled, onRejected);
    },
    /** @param {((reason: unknown) => unknown) | null} [onRejected] */
    catch(onRejected) {
      return page().catch(onRejected);
    },
    /** @param {(() => void) | null} [onFinally] */
    finally(onFinally) {
      return page().finally(onFinally);
    },
    async *[Symbol.asyncIterator]() {
      yield* itemsFrom(owner, await firstRaw());
    },
    get [Symbol.toStringTag]() {
      return 'PagedList';
    },
  };
}

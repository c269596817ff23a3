// The per-provider entries: each exports its own client (as a value), every type of the package,
// and not the other provider's client as a value. `tsc -p types` only type-checks this.

import { Exa, countCsvRecords, NotFoundError, HeadlessImportsError } from 'headless-imports/exa';
import type { ExaImport, Dromo as DromoType, DromoOptions } from 'headless-imports/exa';
import { Dromo, fileFromPath, ValidationError } from 'headless-imports/dromo';
import type { HeadlessImport, ExaOptions } from 'headless-imports/dromo';
import * as exaEntry from 'headless-imports/exa';
import * as dromoEntry from 'headless-imports/dromo';

export async function subpaths(file: File): Promise<void> {
  const exa = new Exa({ baseUrl: '/api/exa' });
  const imp: ExaImport = await exa.imports.retrieve('import_1');
  const records: number = await countCsvRecords(file);
  const dromo = new Dromo({ baseUrl: '/api/dromo' });
  const h: HeadlessImport = await dromo.imports.retrieve('id');
  const opts: DromoOptions & ExaOptions = { baseUrl: '/x' };
  let other: DromoType | undefined;
  void [imp, records, h, opts, other, fileFromPath];
  try {
    await exa.imports.delete('import_1');
  } catch (e) {
    if (e instanceof NotFoundError || e instanceof ValidationError || e instanceof HeadlessImportsError) void e.code;
  }
  // @ts-expect-error the Exa entry has no Dromo client at run time
  void exaEntry.Dromo;
  // @ts-expect-error the Dromo entry has no Exa client at run time
  void dromoEntry.Exa;
}

// headless-imports/lazy: the main entry's exports (the .wasm loads on first use), plus ready().
import { Dromo as LazyDromo, Exa as LazyExa, ready, APIUserAbortError } from 'headless-imports/lazy';
import type { WaitOptions } from 'headless-imports/lazy';

export async function lazy(file: File, wait: WaitOptions): Promise<void> {
  await ready();
  const dromo = new LazyDromo({ baseUrl: '/api/dromo' });
  const exa = new LazyExa({ baseUrl: '/api/exa' });
  try {
    await dromo.importFile(file, { schema_id: 'id', ...wait });
    await exa.imports.list({ limit: 1 });
  } catch (e) {
    if (e instanceof APIUserAbortError) void e.import;
  }
}

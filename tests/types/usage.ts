// Every public call with correct types, and `@ts-expect-error` lines proving that misuse is a
// compile error. Nothing here runs: `tsc -p types` (from tests/) only type-checks it.

import {
  Dromo,
  Exa,
  countCsvRecords,
  fileFromPath,
  HeadlessImportsError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIUserAbortError,
  ValidationError,
  UploadError,
  ImportFailedError,
  WaitTimeoutError,
} from 'headless-imports';
import type {
  CreateImportParams,
  ExaCreateImportResponse,
  ExaImport,
  ExaListPage,
  DromoImports,
  DromoOptions,
  DromoSchemas,
  ImportSchema,
  SavedSchema,
  Field,
  HeadlessImport,
  HeadlessImportFull,
  ImportFileOptions,
  ImportResult,
  StartedImport,
  ImportRowsOptions,
  ImportStatus,
  ListPage,
  PagedList,
  RequestOptions,
  Settings,
  UploadProgress,
  WaitOptions,
  ImportFilesEvent,
  ImportFilesSummary,
} from 'headless-imports';
import { importFiles } from 'headless-imports';

declare const signal: AbortSignal;
declare const file: File;
declare const blob: Blob;

type Contact = { first_name: string; email: string };

export async function usage(): Promise<void> {
  // --- client --------------------------------------------------------------------------------
  const options: DromoOptions = {
    apiKey: 'k',
    baseUrl: 'https://app.dromo.io/api/v1',
    maxRetries: 3,
    timeoutMs: 10_000,
    headers: { 'X-Trace': '1' },
    fetch: globalThis.fetch,
    dangerouslyAllowBrowser: false,
  };
  const dromo = new Dromo(options);
  new Dromo({ baseUrl: '/api/dromo' }); // keyless, through a proxy
  // @ts-expect-error unknown client option
  new Dromo({ apiKey: 'k', retries: 3 });
  const imports: DromoImports = dromo.imports;

  // --- streamed rows ---------------------------------------------------------------------------
  for await (const row of dromo.imports.rows<Contact>('id', { signal })) {
    const email: string = row.email;
    void email;
  }
  // @ts-expect-error rows() is iterated, not awaited for an array
  const notRows: Contact[] = await dromo.imports.rows<Contact>('id');
  void notRows;

  // --- saved schemas (Node) ---------------------------------------------------------------------
  const schemas: DromoSchemas = dromo.schemas;
  const draft: ImportSchema = { name: 'Contacts', fields: [{ key: 'email', label: 'Email', type: 'email' }] };
  const saved: SavedSchema = await schemas.create(draft, { signal });
  const all: SavedSchema[] = await schemas.list();
  await schemas.update(saved.id, { ...saved, name: 'Contacts v2' });
  const fetched: SavedSchema = await schemas.retrieve(all[0].id);
  const gone: void = await schemas.delete(fetched.id);
  void gone;
  // @ts-expect-error a schema needs a name
  await schemas.create({ fields: draft.fields });
  // @ts-expect-error update takes the id first
  await schemas.update(draft);

  // --- create ----------------------------------------------------------------------------------
  const fields: Field[] = [
    { key: 'first_name', type: 'string', label: 'First Name', validators: [{ validate: 'required' }] },
    {
      key: 'email',
      type: ['select', { selectOptions: [] }],
      label: 'Email',
      description: 'work email',
      alternateMatches: ['e-mail', 'mail'],
      validators: [{ validate: 'regex_match', regex: '@' }, { validate: 'unique' }],
      invalidValueMessage: 'bad email',
      readOnly: false,
      hidden: false,
      requireMapping: true,
      manyToOne: false,
    },
  ];
  const settings: Settings = {
    importIdentifier: 'contacts',
    title: 'Contacts',
    allowInvalidSubmit: true,
    invalidDataBehavior: 'BLOCK_SUBMIT',
    backendSync: true,
    backendSyncMode: 'FULL_DATA',
    manualInputDisabled: false,
    manualInputOnly: false,
    allowCustomFields: false,
    passThroughUnmappedColumns: false,
    maxRecords: null,
    developmentMode: true,
    displayEncoding: false,
    styleOverrides: { primaryColor: '#000' },
    maxFileSize: 1_000_000,
    webhookUrl: null,
    needsReviewWebhookUrl: 'https://example.test/hook',
    initialData: null,
  };
  const created: HeadlessImportFull = await imports.create(
    {
      schema_id: '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b',
      original_filename: 'contacts.csv',
      settings,
      hooks: {
        rowHooks: ['(record) => record'],
        bulkRowHooks: [],
        rowDeleteHooks: [],
        beforeFinishCallback: '() => {}',
        columnHooks: [{ fieldName: 'email', callback: '(values) => values' }],
        stepHooks: [{ type: 'UPLOAD_STEP', callback: '() => {}' }],
      },
      import_metadata: { user: { id: 'u1', name: 'Jeff', email: 'jeff@example.test', companyId: 'c', companyName: 'C' } },
    },
    { signal, timeoutMs: 5000, maxRetries: 0, headers: { 'X-Trace': '2' } } satisfies RequestOptions,
  );
  await imports.create({ fields, initial_data: [{ first_name: 'Zeph' }], import_metadata: null });
  await imports.create({ fields, original_filename: 'a.csv', import_metadata: { user: null } });
  const p: CreateImportParams = { schema_id: 's', initial_data: [] };

  // @ts-expect-error both schema_id and fields
  await imports.create({ schema_id: 's', fields, original_filename: 'a.csv' });
  // @ts-expect-error neither schema_id nor fields
  await imports.create({ original_filename: 'a.csv' });
  // @ts-expect-error neither original_filename nor initial_data
  await imports.create({ schema_id: 's' });
  // @ts-expect-error both original_filename and initial_data
  await imports.create({ schema_id: 's', original_filename: 'a.csv', initial_data: [] });
  // @ts-expect-error invalidDataBehavior is an enum
  await imports.create({ schema_id: 's', original_filename: 'a.csv', settings: { invalidDataBehavior: 'IGNORE' } });
  // @ts-expect-error settings reject unknown keys
  await imports.create({ schema_id: 's', original_filename: 'a.csv', settings: { colour: 'red' } });
  // @ts-expect-error fields reject unknown keys (additionalProperties: false)
  await imports.create({ fields: [{ key: 'a', type: 'string', label: 'A', requried: true }], original_filename: 'a.csv' });
  // @ts-expect-error a field needs a label
  await imports.create({ fields: [{ key: 'a', type: 'string' }], original_filename: 'a.csv' });
  // @ts-expect-error stepHooks types are an enum
  await imports.create({ schema_id: 's', initial_data: [], hooks: { stepHooks: [{ type: 'DONE', callback: '' }] } });
  // @ts-expect-error import_metadata.user needs an id
  await imports.create({ schema_id: 's', initial_data: [], import_metadata: { user: { name: 'x' } } });

  // --- wire shapes -----------------------------------------------------------------------------
  const status: ImportStatus = created.status;
  if (status === 'NEEDS_REVIEW' && created.review_url) console.log(created.review_url.length);
  const future: ImportStatus = 'ARCHIVED'; // an open set: new statuses still type-check
  const id: string = created.id;
  const schemaId: string | null = created.schema_id;
  const dates: string[] = [created.created_date, created.modified_date];
  const upload: string | null = created.upload;
  const meta: Record<string, unknown> | null = created.result_metadata;
  const errs: Array<Record<string, unknown>> | null = created.import_errors;
  // @ts-expect-error wire fields keep Dromo's snake_case
  created.reviewUrl;

  // --- retrieve, results ---------------------------------------------------------------------
  const again: HeadlessImportFull = await imports.retrieve(id, { signal });
  const url: string = await imports.resultUrl(id);
  const rows: Contact[] = await imports.results<Contact>(id, { timeoutMs: 1000 });
  const anyRows: Record<string, unknown>[] = await imports.results(id);
  // @ts-expect-error ids are strings
  await imports.retrieve(42);

  // --- list ------------------------------------------------------------------------------------
  const list: PagedList<HeadlessImport> = imports.list({ offset: 0, limit: 50 });
  const page: ListPage<HeadlessImport> = await list;
  const count: number = page.count;
  const next: string | null = page.next;
  const results: HeadlessImport[] = page.results;
  if (page.hasNextPage()) {
    const page2: ListPage<HeadlessImport> = await page.nextPage();
    for await (const imp of page2) console.log(imp.id);
  }
  for await (const imp of imports.list()) {
    const s: ImportStatus = imp.status;
    // @ts-expect-error listed imports are HeadlessImport, without the upload URL
    imp.upload;
  }
  await imports.list().catch(() => null);
  await imports.list().finally(() => {});
  imports.list().then((first) => first.results.length);
  // @ts-expect-error unknown list param
  imports.list({ page: 2 });

  // --- upload, wait ------------------------------------------------------------------------
  const onProgress = ({ loaded, total }: UploadProgress) => console.log(loaded / total);
  const none: void = await imports.upload(created, file, { onProgress, signal });
  await imports.upload('https://bucket.test/key?X-Amz-Signature=x', new Uint8Array(3));
  await imports.upload(created, new ArrayBuffer(3));
  await imports.upload(created, 'a,b\n1,2\n');
  await imports.upload(created, blob, {});
  // @ts-expect-error numbers are not bodies
  await imports.upload(created, 42);
  const waitOptions: WaitOptions = {
    intervalMs: 5000,
    timeoutMs: 60_000,
    signal,
    onStatus: (imp) => console.log(imp.status),
    waitForReview: false,
  };
  const done: HeadlessImportFull = await imports.waitForCompletion(id, waitOptions);

  // --- one-call flows --------------------------------------------------------------------------
  const fileOptions: ImportFileOptions = {
    schema_id: 's',
    settings: { invalidDataBehavior: 'REMOVE_INVALID_ROWS' },
    onProgress,
    onStatus: (imp) => console.log(imp.status),
    signal,
    wait: true,
    intervalMs: 5000,
    timeoutMs: 600_000,
    waitForReview: true,
  };
  const r1: ImportResult = await dromo.importFile(await fileFromPath('contacts.csv'), fileOptions);
  const imp1: HeadlessImportFull = r1.import;
  const rows1: Record<string, unknown>[] | undefined = r1.rows;
  const r2: ImportResult<Contact> = await dromo.importFile<Contact>(file, { fields, original_filename: 'renamed.csv' });
  const first: Contact | undefined = r2.rows?.[0];
  await dromo.importFile(blob, { schema_id: 's', original_filename: 'data.csv', wait: false });
  const noRows: StartedImport = await dromo.importFile(file, { schema_id: 's', rows: false, onCreated: (i) => i.id, onUploaded: (i) => i.upload });
  // @ts-expect-error rows: false resolves without rows
  (await dromo.importFile(file, { schema_id: 's', rows: false })).rows;
  await dromo.importFile('a,b\n1,2\n', { schema_id: 's', original_filename: 'data.csv' });
  await fileFromPath('contacts.csv', { name: 'c.csv', type: 'text/csv' });
  // @ts-expect-error a Blob has no name: original_filename is required
  await dromo.importFile(blob, { schema_id: 's' });
  // @ts-expect-error importFile takes no initial_data
  await dromo.importFile(file, { schema_id: 's', initial_data: [] });
  // @ts-expect-error importFile still needs a schema source
  await dromo.importFile(file, { onProgress });
  // @ts-expect-error a file name is not the file: fileFromPath reads it
  await dromo.importFile('contacts.csv', { schema_id: 's', original_filename: 'contacts.csv' });
  // @ts-expect-error the same for a path with directories
  await dromo.imports.upload('https://u.example/x', './data/leads.XLSX');

  const rowsOptions: ImportRowsOptions = { fields, waitForReview: false, signal };
  const r3: ImportResult<Contact> = await dromo.importRows<Contact>([{ first_name: 'Zeph', email: 'z@example.test' }], rowsOptions);
  await dromo.importRows([], { schema_id: 's', wait: false });
  // @ts-expect-error importRows takes no original_filename
  await dromo.importRows([], { schema_id: 's', original_filename: 'a.csv' });
  // @ts-expect-error importRows has no upload progress
  await dromo.importRows([], { schema_id: 's', onProgress });

  // --- errors ------------------------------------------------------------------------------
  try {
    await dromo.importFile(file, fileOptions);
  } catch (e) {
    if (e instanceof ValidationError) {
      const path: string = e.path;
      const code: string = e.code;
    } else if (e instanceof UploadError) {
      const s3: string | undefined = e.s3Code;
      const expired: boolean = e.expired;
      const st: number | undefined = e.status;
      const i: HeadlessImportFull | ExaCreateImportResponse | undefined = e.import;
      const deleted: boolean | undefined = e.deleted;
    } else if (e instanceof ImportFailedError || e instanceof WaitTimeoutError) {
      const i: HeadlessImportFull | ExaImport = e.import;
    } else if (e instanceof RateLimitError || e instanceof NotFoundError) {
      const st: number = e.status;
      const rid: string | undefined = e.requestId;
      const body: unknown = e.body;
      const headers: Record<string, string> | undefined = e.headers;
    } else if (e instanceof APIConnectionTimeoutError || e instanceof APIConnectionError) {
      const cause: unknown = e.cause;
    } else if (e instanceof APIUserAbortError) {
      // Every error raised after the import exists carries it: typed on each class.
      const id: string | undefined = e.import?.id;
      const reason: unknown = e.cause;
    } else if (e instanceof HeadlessImportsError) {
      const name: string = e.name;
      const message: string = e.message;
      const created: string | undefined = e.import?.id;
    }
  }
  const hierarchy: APIError[] = [
    new BadRequestError('x', { status: 400 }),
    new AuthenticationError('x'),
    new PermissionDeniedError('x'),
    new NotFoundError('x'),
    new ConflictError('x'),
    new UnprocessableEntityError('x'),
    new RateLimitError('x'),
    new InternalServerError('x', { status: 503, requestId: 'r' }),
  ];
  const base: HeadlessImportsError[] = [
    ...hierarchy,
    new APIConnectionTimeoutError('t'),
    new APIUserAbortError('a'),
    new ValidationError('v', { path: 'fields[0].label' }),
    new UploadError('u', { expired: true }),
    new ImportFailedError('f'),
    new WaitTimeoutError('w'),
  ];
  const asError: Error = base[0];
  // @ts-expect-error an upload error is not an API error
  const wrong: APIError = new UploadError('u');
  void [p, future, schemaId, dates, upload, meta, errs, again, url, rows, anyRows, count, next, results, none, done];
  void [imp1, rows1, first, r3, asError, wrong, noRows];
}

// --- Exa -------------------------------------------------------------------------------------
async function exaUsage(): Promise<void> {
  const exa = new Exa({ apiKey: 'k' });
  const created: ExaCreateImportResponse = await exa.imports.create({
    size: 10,
    count: 1,
    format: 'csv',
    entity: { type: 'custom', description: 'Local bakeries' },
    csv: { identifier: 0 },
  });
  const url: string = created.uploadUrl;
  await exa.imports.upload(created, 'url\nhttps://a.example\n', { onProgress: ({ loaded }) => loaded });
  const done: ExaImport = await exa.imports.waitForCompletion(created.id, { intervalMs: 1000, onStatus: (i) => i.status });
  const reason: 'invalid_format' | 'invalid_file_content' | 'missing_identifier' | null = done.failedReason;
  await exa.imports.update(done.id, { title: 't', metadata: { a: 'b' } });
  await exa.imports.delete(done.id);
  const page: ExaListPage = await exa.imports.list({ limit: 200 });
  const next: string | null = page.nextCursor;
  for await (const imp of exa.imports.list()) imp.status.toUpperCase();
  const { import: imp } = await exa.importFile(file, { entity: { type: 'company' }, title: 'Q3', onStatus: (i) => i.count });
  const n: number = await countCsvRecords(file, { header: false });
  // @ts-expect-error a file name is not the file
  await exa.importFile('leads.csv', { entity: { type: 'company' } });
  await exa.importFile('url\nhttps://a.example\n', { entity: { type: 'company' } });
  // @ts-expect-error size, count and format are computed by importFile
  await exa.importFile(file, { entity: { type: 'company' }, count: 3 });
  // @ts-expect-error a custom entity needs a description
  await exa.imports.create({ size: 1, count: 1, format: 'csv', entity: { type: 'custom' } });
  // @ts-expect-error unknown entity type
  await exa.importFile(file, { entity: { type: 'planet' } });
  void url; void reason; void next; void imp; void n;
}
void exaUsage;

/** Many files, journaled (Node). */
export async function bulkUsage(): Promise<void> {
  const dromo = new Dromo({ apiKey: 'k' });
  const exa = new Exa({ apiKey: 'k' });
  const seen: ImportFilesEvent[] = [];
  const summary: ImportFilesSummary = await importFiles(dromo, ['a.csv', 'b.csv'], {
    schema_id: 'id',
    journal: 'imports.journal',
    concurrency: 8,
    rows: true,
    signal,
    onEvent: (e) => {
      seen.push(e);
      if (e.event === 'done' && e.rows) return e.rows.length;
      if (e.event === 'abandoned') return e.reason === 'upload_url_expired' && e.deleted;
      if (e.event === 'left') return `${e.importId} ${e.name ?? ''} ${e.createdAt ?? ''}: ${e.message}`.length;
    },
  });
  await importFiles(dromo, ['a.csv'], { schema_id: 'id', journal: 'imports.journal', adoptUnmarkedOrphans: true });
  // @ts-expect-error a boolean
  await importFiles(dromo, ['a.csv'], { schema_id: 'id', journal: 'imports.journal', adoptUnmarkedOrphans: 'yes' });
  const first: 'succeeded' | 'needs_review' | 'failed' | 'uploaded' | 'error' | 'not_started' = summary.files[0].outcome;
  const left: string[] | undefined = summary.files[0].leftBehind;
  await importFiles(exa, ['leads.csv'], { entity: { type: 'company' }, journal: 'exa.journal', wait: false });
  // @ts-expect-error per-file hooks are importFiles' own: use onEvent
  await importFiles(dromo, ['a.csv'], { schema_id: 'id', onCreated: () => {} });
  // @ts-expect-error onCreating too (it journals each intent)
  await importFiles(dromo, ['a.csv'], { schema_id: 'id', onCreating: () => {} });
  await dromo.importFile(file, { schema_id: 's', onCreating: async ({ attempt }) => attempt === 0 });
  await exa.importFile(file, { entity: { type: 'company' }, onCreating: ({ attempt }) => attempt });
  // @ts-expect-error a Dromo client takes Dromo's options
  await importFiles(dromo, ['a.csv'], { entity: { type: 'company' } });
  // @ts-expect-error files are paths
  await importFiles(exa, [file], { entity: { type: 'company' } });
  void first; void left;
}
void bulkUsage;

// Types of the Dbify JavaScript client. `createClient<Database>()` accepts the types
// `dbify gen types --lang ts` writes (same layout as `supabase gen types`).

export declare class DbifyError extends Error {
  code: string
  details: unknown
  hint: string | null
  status: number
  constructor(message: string, init?: { code?: string; details?: unknown; hint?: string | null; status?: number })
}

export interface DbifyResult<T> {
  data: T
  count: number | null
  status: number
}

type CountMethod = 'exact' | 'planned' | 'estimated'
type Returning = 'representation' | 'minimal'
type Referenced = { referencedTable?: string }

export declare class QueryBuilder<Row = Record<string, unknown>, Result = Row[]>
  implements PromiseLike<DbifyResult<Result>> {
  select(columns?: string, options?: { count?: CountMethod; head?: boolean }): QueryBuilder<Row, Row[]>
  insert(rows: Partial<Row> | Partial<Row>[], options?: { returning?: Returning; count?: CountMethod }): QueryBuilder<Row, Row[]>
  upsert(rows: Partial<Row> | Partial<Row>[], options?: { onConflict?: string; ignoreDuplicates?: boolean; returning?: Returning }): QueryBuilder<Row, Row[]>
  update(values: Partial<Row>, options?: { returning?: Returning }): QueryBuilder<Row, Row[]>
  delete(options?: { returning?: Returning }): QueryBuilder<Row, Row[]>
  filter(column: string, operator: string, value: unknown): this
  eq(column: string, value: unknown): this
  neq(column: string, value: unknown): this
  gt(column: string, value: unknown): this
  gte(column: string, value: unknown): this
  lt(column: string, value: unknown): this
  lte(column: string, value: unknown): this
  like(column: string, pattern: string): this
  ilike(column: string, pattern: string): this
  is(column: string, value: boolean | null): this
  in(column: string, values: readonly unknown[]): this
  contains(column: string, value: unknown): this
  containedBy(column: string, value: unknown): this
  overlaps(column: string, value: unknown): this
  textSearch(column: string, query: string, options?: { type?: 'fts' | 'plfts' | 'phfts' | 'wfts'; config?: string }): this
  match(values: Record<string, unknown>): this
  not(column: string, operator: string, value: unknown): this
  or(conditions: string, options?: Referenced): this
  and(conditions: string, options?: Referenced): this
  order(column: string, options?: { ascending?: boolean; nullsFirst?: boolean } & Referenced): this
  limit(count: number, options?: Referenced): this
  offset(count: number): this
  range(from: number, to: number): this
  single(): QueryBuilder<Row, Row>
  maybeSingle(): QueryBuilder<Row, Row | null>
  csv(): QueryBuilder<Row, string>
  execute(): Promise<DbifyResult<Result>>
  then<A = DbifyResult<Result>, B = never>(
    onFulfilled?: ((value: DbifyResult<Result>) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B>
  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<DbifyResult<Result> | B>
  finally(onFinally?: (() => void) | null): Promise<DbifyResult<Result>>
}

export interface ClientOptions {
  jwt?: string
  schema?: string
  timeout?: number
  retries?: number
  backoff?: number
  fetch?: typeof fetch
}

type AnyDatabase = Record<string, { Tables: Record<string, { Row: unknown }>; Views: Record<string, { Row: unknown }>; Functions: Record<string, { Args: unknown; Returns: unknown }> }>
// The default schema is `public` when the database has one (as supabase-js assumes).
type Schema<D> = D extends { public: infer S } ? S : D extends AnyDatabase ? D[keyof D] : never
type RowOf<D, T extends string> = Schema<D> extends { Tables: infer Ts; Views: infer Vs }
  ? T extends keyof Ts ? (Ts[T] extends { Row: infer R } ? R : Record<string, unknown>)
    : T extends keyof Vs ? (Vs[T] extends { Row: infer R } ? R : Record<string, unknown>)
      : Record<string, unknown>
  : Record<string, unknown>

export declare class DbifyClient<Database = unknown> {
  constructor(restUrl: string, key?: string, options?: ClientOptions)
  from<T extends string>(table: T): QueryBuilder<RowOf<Database, T>>
  rpc<R = unknown>(fn: string, args?: Record<string, unknown>, options?: { get?: boolean; count?: CountMethod }): QueryBuilder<Record<string, unknown>, R>
  query<Row = Record<string, unknown>>(name: string, params?: Record<string, unknown>): QueryBuilder<Row>
  search<Row = Record<string, unknown>>(table: string, q: string, options?: { mode?: 'text' | 'semantic' | 'hybrid'; limit?: number; offset?: number }): QueryBuilder<Record<string, unknown>, SearchPage<Row>>
}

export interface SearchPage<Row> {
  mode: string
  offset: number
  limit: number
  has_more: boolean
  items: { row: Row; score: number; highlights: Record<string, unknown> }[]
}

export declare function createClient<Database = unknown>(restUrl: string, key?: string, options?: ClientOptions): DbifyClient<Database>

export interface Project { id: string; name: string; rest_url: string; schemas: string[]; paused: boolean }
export interface ApiKey { id: string; name: string; role: string; prefix: string; key?: string }

export declare class ManagementClient {
  constructor(apiUrl: string, token: string, options?: { timeout?: number; fetch?: typeof fetch })
  listProjects(): Promise<Project[]>
  getProject(id: string): Promise<Project>
  createProject(name: string, databaseUrl: string, schemas?: string[]): Promise<Project & { anon_key: string; service_key: string }>
  deleteProject(id: string): Promise<null>
  listKeys(projectId: string): Promise<ApiKey[]>
  createKey(projectId: string, name: string, role?: string): Promise<ApiKey>
  revokeKey(projectId: string, keyId: string): Promise<null>
  lint(projectId: string, options?: { openapi?: boolean }): Promise<{ findings: Array<{ rule: string; level: string; subject: string; message: string; remedy: string }> }>
  createSavedQuery(projectId: string, query: { name: string; sql: string; parameters?: Array<{ name: string; type: string; default?: unknown }>; description?: string }): Promise<Record<string, unknown>>
  listSavedQueries(projectId: string): Promise<Array<Record<string, unknown>>>
  createSearchIndex(projectId: string, index: { table: string; textColumns: Record<string, number>; schema?: string; wait?: boolean }): Promise<Record<string, unknown>>
  stats(projectId: string, options?: { from?: string; to?: string; bucket?: 'minute' | 'hour' | 'day' }): Promise<{ totals: Record<string, number>; series: Array<Record<string, unknown>>; [key: string]: unknown }>
  logs(projectId: string, options?: { from?: string; to?: string; status?: number; statusClass?: string; method?: string; table?: string; requestId?: string; cursor?: string; limit?: number }): Promise<{ items: Array<Record<string, unknown>>; next_cursor: string | null }>
  logEvent(projectId: string, eventId: string): Promise<Record<string, unknown>>
}

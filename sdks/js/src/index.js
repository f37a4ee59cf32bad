// Dbify's JavaScript client: ESM, zero runtime dependencies (global fetch), Node 18+ and
// browsers. A QueryBuilder accumulates one request over the PostgREST grammar and is
// thenable: `await client.from('books').select('id').eq('id', 1)`.

export class DbifyError extends Error {
  constructor(message, { code = '', details = null, hint = null, status = 0 } = {}) {
    super(message)
    this.name = 'DbifyError'
    this.code = code
    this.details = details
    this.hint = hint
    this.status = status
  }
}

const RETRY_STATUSES = new Set([502, 503, 504])
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function literal(value) {
  if (value === null || value === undefined) return 'null'
  return String(value)
}

function list(values) {
  return '(' + values.map((v) => {
    const text = literal(v)
    return /[,()"]/.test(text) ? `"${text.replace(/"/g, '\\"')}"` : text
  }).join(',') + ')'
}

function container(value) {
  if (Array.isArray(value)) return '{' + value.map(literal).join(',') + '}'
  if (value !== null && typeof value === 'object') return JSON.stringify(value)
  return literal(value)
}

async function send(http, request) {
  const url = new URL(http.baseUrl + request.path)
  for (const [k, v] of request.params) url.searchParams.append(k, v)
  const headers = { ...http.headers, ...request.headers }
  if (request.prefer.length) headers.Prefer = request.prefer.join(',')
  let body
  if (request.body !== undefined) {
    body = JSON.stringify(request.body)
    headers['Content-Type'] = 'application/json'
  }
  const idempotent = request.method === 'GET' || request.method === 'HEAD'
  for (let attempt = 0; ; attempt++) {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), http.timeout)
    let response
    let failure
    try {
      response = await http.fetch(url, { method: request.method, headers, body, signal: controller.signal })
    } catch (error) {
      failure = controller.signal.aborted
        ? new DbifyError(`Request timed out after ${http.timeout} ms`, { code: 'TIMEOUT' })
        : new DbifyError(`Connection failed: ${error.message}`, { code: 'CONNECTION' })
    } finally {
      clearTimeout(timer)
    }
    const retry = idempotent && (failure || RETRY_STATUSES.has(response.status))
    if (retry && attempt < http.retries) {
      await sleep(http.backoff * 2 ** attempt)
      continue
    }
    if (failure) throw failure
    return response
  }
}

async function decode(request, response) {
  const text = await response.text()
  if (response.status >= 400) {
    let payload = null
    try { payload = JSON.parse(text) } catch { /* not JSON */ }
    if (payload && typeof payload === 'object') {
      throw new DbifyError(payload.message || `HTTP ${response.status}`, {
        code: payload.code || '', details: payload.details ?? null, hint: payload.hint ?? null,
        status: response.status,
      })
    }
    throw new DbifyError(text || `HTTP ${response.status}`, { status: response.status })
  }
  const range = response.headers.get('content-range') || ''
  const total = range.split('/')[1]
  const count = total && /^\d+$/.test(total) ? Number(total) : null
  let data = null
  if (request.expect === 'csv') data = text
  else if (text) data = JSON.parse(text)
  if (request.expect === 'maybeSingle' && Array.isArray(data)) {
    if (data.length > 1) {
      throw new DbifyError('JSON object requested, multiple (or no) rows returned', {
        code: 'PGRST116', details: `The result contains ${data.length} rows`, status: 406,
      })
    }
    data = data.length ? data[0] : null
  }
  return { data, count, status: response.status }
}

export class QueryBuilder {
  constructor(http, request) {
    this.http = http
    this.request = { params: [], headers: {}, prefer: [], expect: 'many', ...request }
  }

  select(columns = '*', { count, head } = {}) {
    const r = this.request
    if (r.method === 'GET' || r.method === 'HEAD') r.method = head ? 'HEAD' : 'GET'
    else {
      r.prefer = r.prefer.filter((p) => !p.startsWith('return='))
      r.prefer.push('return=representation')
    }
    r.params.push(['select', columns])
    if (count) r.prefer.push(`count=${count}`)
    return this
  }

  insert(rows, { returning = 'representation', count } = {}) {
    Object.assign(this.request, { method: 'POST', body: rows })
    this.request.prefer.push(`return=${returning}`)
    if (count) this.request.prefer.push(`count=${count}`)
    if (Array.isArray(rows) && rows.length) {
      const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))].sort()
      this.request.params.push(['columns', keys.join(',')])
    }
    return this
  }

  upsert(rows, { onConflict, ignoreDuplicates = false, returning = 'representation' } = {}) {
    this.insert(rows, { returning })
    this.request.prefer.push(`resolution=${ignoreDuplicates ? 'ignore' : 'merge'}-duplicates`)
    if (onConflict) this.request.params.push(['on_conflict', onConflict])
    return this
  }

  update(values, { returning = 'representation' } = {}) {
    Object.assign(this.request, { method: 'PATCH', body: values })
    this.request.prefer.push(`return=${returning}`)
    return this
  }

  delete({ returning = 'representation' } = {}) {
    this.request.method = 'DELETE'
    this.request.prefer.push(`return=${returning}`)
    return this
  }

  filter(column, operator, value) {
    this.request.params.push([column, `${operator}.${literal(value)}`])
    return this
  }

  eq(c, v) { return this.filter(c, 'eq', v) }
  neq(c, v) { return this.filter(c, 'neq', v) }
  gt(c, v) { return this.filter(c, 'gt', v) }
  gte(c, v) { return this.filter(c, 'gte', v) }
  lt(c, v) { return this.filter(c, 'lt', v) }
  lte(c, v) { return this.filter(c, 'lte', v) }
  like(c, pattern) { return this.filter(c, 'like', pattern) }
  ilike(c, pattern) { return this.filter(c, 'ilike', pattern) }
  is(c, v) { return this.filter(c, 'is', v) }
  in(c, values) { return this.filter(c, 'in', list(values)) }
  contains(c, v) { return this.filter(c, 'cs', container(v)) }
  containedBy(c, v) { return this.filter(c, 'cd', container(v)) }
  overlaps(c, v) { return this.filter(c, 'ov', container(v)) }
  textSearch(c, query, { type = 'fts', config } = {}) {
    return this.filter(c, config ? `${type}(${config})` : type, query)
  }
  match(values) {
    for (const [c, v] of Object.entries(values)) this.eq(c, v)
    return this
  }
  not(c, operator, v) { return this.filter(c, `not.${operator}`, v) }
  or(conditions, { referencedTable } = {}) {
    this.request.params.push([referencedTable ? `${referencedTable}.or` : 'or', `(${conditions})`])
    return this
  }
  and(conditions, { referencedTable } = {}) {
    this.request.params.push([referencedTable ? `${referencedTable}.and` : 'and', `(${conditions})`])
    return this
  }

  order(column, { ascending = true, nullsFirst, referencedTable } = {}) {
    let term = `${column}.${ascending ? 'asc' : 'desc'}`
    if (nullsFirst !== undefined) term += nullsFirst ? '.nullsfirst' : '.nullslast'
    const key = referencedTable ? `${referencedTable}.order` : 'order'
    const existing = this.request.params.find(([k]) => k === key)
    if (existing) existing[1] += `,${term}`
    else this.request.params.push([key, term])
    return this
  }

  limit(count, { referencedTable } = {}) {
    this.request.params.push([referencedTable ? `${referencedTable}.limit` : 'limit', String(count)])
    return this
  }
  offset(count) {
    this.request.params.push(['offset', String(count)])
    return this
  }
  range(from, to) { return this.offset(from).limit(to - from + 1) }

  single() {
    this.request.headers.Accept = 'application/vnd.pgrst.object+json'
    this.request.expect = 'single'
    return this
  }
  maybeSingle() {
    this.request.expect = 'maybeSingle'
    return this
  }
  csv() {
    this.request.headers.Accept = 'text/csv'
    this.request.expect = 'csv'
    return this
  }

  async execute() {
    return decode(this.request, await send(this.http, this.request))
  }

  then(onFulfilled, onRejected) {
    return this.execute().then(onFulfilled, onRejected)
  }

  catch(onRejected) { return this.execute().catch(onRejected) }

  finally(onFinally) { return this.execute().finally(onFinally) }
}

export class DbifyClient {
  constructor(restUrl, key, { jwt, schema, timeout = 10000, retries = 2, backoff = 200, fetch: f } = {}) {
    const headers = {}
    if (key) headers.apikey = key
    if (jwt) headers.Authorization = `Bearer ${jwt}`
    if (schema) Object.assign(headers, { 'Accept-Profile': schema, 'Content-Profile': schema })
    this.http = {
      baseUrl: restUrl.replace(/\/+$/, ''), headers, timeout, retries, backoff,
      fetch: f || globalThis.fetch.bind(globalThis),
    }
  }

  from(table) { return new QueryBuilder(this.http, { method: 'GET', path: `/${encodeURIComponent(table)}` }) }

  rpc(fn, args = {}, { get = false, count } = {}) {
    const request = { method: get ? 'GET' : 'POST', path: `/rpc/${encodeURIComponent(fn)}`, params: [], prefer: [] }
    if (get) request.params = Object.entries(args).map(([k, v]) => [k, literal(v)])
    else request.body = args
    if (count) request.prefer.push(`count=${count}`)
    return new QueryBuilder(this.http, request)
  }

  /** A saved query (`/q/{name}`) with its parameters; filter, order and page it like a table. */
  query(name, params = {}) {
    const request = { method: 'GET', path: `/q/${encodeURIComponent(name)}`, params: [], prefer: [] }
    request.params = Object.entries(params).map(([k, v]) => [k, literal(v)])
    return new QueryBuilder(this.http, request)
  }

  /** Ranked search beside the REST API (`/search/v1/{table}`); filters narrow the hits. */
  search(table, q, { mode = 'text', limit, offset } = {}) {
    const http = { ...this.http, baseUrl: this.http.baseUrl.replace(/\/rest\/v1$/, '') + '/search/v1' }
    const params = [['q', q], ['mode', mode]]
    if (limit !== undefined) params.push(['limit', String(limit)])
    if (offset !== undefined) params.push(['offset', String(offset)])
    return new QueryBuilder(http, { method: 'GET', path: `/${encodeURIComponent(table)}`, params, prefer: [] })
  }
}

export function createClient(restUrl, key, options) {
  return new DbifyClient(restUrl, key, options)
}

export class ManagementClient {
  constructor(apiUrl, token, { timeout = 30000, fetch: f } = {}) {
    this.http = {
      baseUrl: apiUrl.replace(/\/+$/, ''), headers: { Authorization: `Bearer ${token}` },
      timeout, retries: 0, backoff: 0, fetch: f || globalThis.fetch.bind(globalThis),
    }
  }

  async call(method, path, body, params = {}) {
    const given = Object.entries(params).filter(([, v]) => v !== undefined && v !== null)
    const request = { method, path, params: given.map(([k, v]) => [k, String(v)]), headers: {}, prefer: [], expect: 'many', body }
    return (await decode(request, await send(this.http, request))).data
  }

  async listProjects() { return (await this.call('GET', '/projects')).items }
  getProject(id) { return this.call('GET', `/projects/${id}`) }
  createProject(name, databaseUrl, schemas = ['public']) {
    return this.call('POST', '/projects', { name, database_url: databaseUrl, schemas })
  }
  deleteProject(id) { return this.call('DELETE', `/projects/${id}`) }
  async listKeys(id) { return (await this.call('GET', `/projects/${id}/keys`)).items }
  createKey(id, name, role = 'anon') { return this.call('POST', `/projects/${id}/keys`, { name, role }) }
  revokeKey(id, keyId) { return this.call('DELETE', `/projects/${id}/keys/${keyId}`) }
  lint(id, { openapi = false } = {}) { return this.call('GET', `/projects/${id}/lint`, undefined, openapi ? { openapi: 'true' } : {}) }
  createSavedQuery(id, { name, sql, parameters = [], description = '' }) {
    return this.call('POST', `/projects/${id}/queries`, { name, sql, parameters, description })
  }
  listSavedQueries(id) { return this.call('GET', `/projects/${id}/queries`) }
  createSearchIndex(id, { table, textColumns, schema = 'public', wait = true }) {
    return this.call('POST', `/projects/${id}/search-indexes`, { table, schema, text_columns: textColumns }, wait ? { wait: 'true' } : {})
  }
  /** Totals, percentiles, series and breakdowns over [from, to). */
  stats(id, { from, to, bucket = 'hour' } = {}) { return this.call('GET', `/projects/${id}/stats`, undefined, { from, to, bucket }) }
  /** One page of the request log, newest first: `{ items, next_cursor }`. */
  logs(id, { from, to, status, statusClass, method, table, requestId, cursor, limit = 50 } = {}) {
    return this.call('GET', `/projects/${id}/logs`, undefined,
      { from, to, status, status_class: statusClass, method, table, request_id: requestId, cursor, limit })
  }
  logEvent(id, eventId) { return this.call('GET', `/projects/${id}/logs/${eventId}`) }
}

// Runs against a real Dbify started by tests/sdks/test_sdks.py (DBIFY_TEST_* variables).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createClient, DbifyClient, DbifyError, ManagementClient } from '../src/index.js'

const REST = process.env.DBIFY_TEST_REST_URL
const skip = REST ? false : 'needs DBIFY_TEST_REST_URL (run through tests/sdks)'
const client = REST ? createClient(REST, process.env.DBIFY_TEST_SERVICE_KEY) : null

test('select with embeds, filters, order, range and count', { skip }, async () => {
  const { data, count } = await client.from('books').select('id,title,author:authors(name)', { count: 'exact' })
    .gte('id', 10).lt('id', 20).order('id', { ascending: false }).range(0, 2)
  assert.deepEqual(data.map((r) => r.id), [19, 18, 17])
  assert.match(data[0].author.name, /^Author/)
  assert.equal(count, 10)
  assert.deepEqual((await client.from('books').select('id').in('id', [1, 2, 3])).data, [{ id: 1 }, { id: 2 }, { id: 3 }])
  const ors = await client.from('books').select('id').or('id.eq.1,id.eq.2').order('id')
  assert.deepEqual(ors.data, [{ id: 1 }, { id: 2 }])
  const nulls = await client.from('authors').select('id').is('birth_date', null).not('id', 'gt', 8)
  assert.deepEqual(nulls.data, [{ id: 4 }, { id: 8 }])
  const tagged = await client.from('books').select('id').contains('keywords', ['rare']).eq('id', 3)
  assert.deepEqual(tagged.data, [{ id: 3 }])
})

test('single, maybeSingle and CSV', { skip }, async () => {
  assert.deepEqual((await client.from('books').select('id').eq('id', 5).single()).data, { id: 5 })
  assert.equal((await client.from('books').select('id').eq('id', -1).maybeSingle()).data, null)
  await assert.rejects(client.from('books').select('id').lt('id', 3).single(), (e) =>
    e instanceof DbifyError && e.code === 'PGRST116' && e.status === 406)
  const csv = await client.from('tags').select('id,name').order('id').limit(2).csv()
  assert.equal(csv.data.split('\n')[0], 'id,name')
})

test('insert, upsert, update and delete with returning', { skip }, async () => {
  const inserted = await client.from('tags').insert({ name: 'js-sdk' })
  assert.equal(inserted.status, 201)
  const id = inserted.data[0].id
  const updated = await client.from('tags').update({ name: 'js-sdk-2' }).eq('id', id)
  assert.deepEqual(updated.data, [{ id, name: 'js-sdk-2' }])
  const upserted = await client.from('tags').upsert({ id, name: 'js-sdk-3' })
  assert.equal(upserted.data[0].name, 'js-sdk-3')
  const minimal = await client.from('tags').insert([{ name: 'js-a' }, { name: 'js-b' }], { returning: 'minimal' })
  assert.equal(minimal.data, null)
  const deleted = await client.from('tags').delete().in('name', ['js-sdk-3', 'js-a', 'js-b'])
  assert.equal(deleted.data.length, 3)
  await assert.rejects(client.from('tags').insert({ name: 'fiction' }), (e) => e.code === '23505' && e.status === 409)
})

test('rpc and typed errors', { skip }, async () => {
  assert.equal((await client.rpc('add_numbers', { a: 2, b: 3 })).data, 5)
  assert.deepEqual((await client.rpc('numbers_up_to', { n: 4 }, { get: true })).data, [1, 2, 3, 4])
  const books = await client.rpc('search_books', { query: 'sea' }).select('id').order('id').limit(2)
  assert.equal(books.data.length, 2)
  await assert.rejects(client.rpc('refuse', { reason: 'no' }), (e) =>
    e.message === 'refused: no' && e.details === 'a detail' && e.hint === 'a hint')
  await assert.rejects(client.from('nope').select(), (e) => e.status === 404 && e.code.startsWith('PGRST'))
})

test('retries idempotent calls only, and times out', async () => {
  const calls = []
  const flaky = async (url, init) => {
    calls.push(init.method)
    return calls.length < 3 ? new Response('{"message":"busy"}', { status: 503 }) : new Response('[{"id":1}]', { status: 200 })
  }
  const fake = createClient('http://x/rest/v1', 'k', { fetch: flaky, backoff: 0 })
  assert.deepEqual((await fake.from('t').select()).data, [{ id: 1 }])
  assert.deepEqual(calls, ['GET', 'GET', 'GET'])
  calls.length = 0
  await assert.rejects(fake.from('t').insert({ a: 1 }), (e) => e.status === 503)
  assert.deepEqual(calls, ['POST'])
  const hang = (url, init) => new Promise((resolve, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))))
  const slow = createClient('http://x', 'k', { fetch: hang, timeout: 20, retries: 1, backoff: 0 })
  await assert.rejects(slow.from('t').select(), (e) => e.code === 'TIMEOUT')
})

test('management client: projects and keys', { skip }, async () => {
  const management = new ManagementClient(process.env.DBIFY_TEST_API_URL, process.env.DBIFY_TEST_TOKEN)
  const id = process.env.DBIFY_TEST_PROJECT_ID
  assert.ok((await management.listProjects()).some((p) => p.id === id))
  assert.equal((await management.getProject(id)).id, id)
  const created = await management.createKey(id, 'js-sdk', 'anon')
  assert.ok(created.key)
  assert.ok((await management.listKeys(id)).some((k) => k.id === created.id))
  const anon = createClient(REST, created.key)
  assert.ok((await anon.from('tags').select('id').limit(1)).data.length === 1)
  await management.revokeKey(id, created.id)
  await assert.rejects(management.getProject('missing'), (e) => e.status === 404)
})

test('saved queries, search, logs and stats', { skip }, async () => {
  const management = new ManagementClient(process.env.DBIFY_TEST_API_URL, process.env.DBIFY_TEST_TOKEN)
  const id = process.env.DBIFY_TEST_PROJECT_ID
  const client = new DbifyClient(process.env.DBIFY_TEST_REST_URL, process.env.DBIFY_TEST_SERVICE_KEY)
  await management.createSavedQuery(id, {
    name: 'js_books_of_author', sql: 'SELECT id, title FROM books WHERE author_id = :author ORDER BY id',
    parameters: [{ name: 'author', type: 'integer' }],
  })
  assert.ok((await management.listSavedQueries(id)).some((q) => q.name === 'js_books_of_author'))
  const { data: rows } = await client.query('js_books_of_author', { author: 1 })
  assert.ok(rows.length > 0)
  const { data: top } = await client.query('js_books_of_author', { author: 1 }).select('id').order('id', { ascending: false }).limit(1)
  assert.deepEqual(top, [{ id: Math.max(...rows.map((r) => r.id)) }])

  try { await management.createSearchIndex(id, { table: 'books', textColumns: { title: 1 } }) } catch (error) {
    if (error.status !== 409) throw error // another SDK's suite made it first
  }
  const found = (await client.search('books', '003', { limit: 5 })).data
  assert.equal(found.mode, 'text')
  assert.ok(found.items.some((item) => item.row.id === 3))
  const narrowed = (await client.search('books', '003').eq('id', 3)).data
  assert.deepEqual(narrowed.items.map((item) => item.row.id), [3])

  await client.from('tags').select('id').eq('id', 2)
  const deadline = Date.now() + 20000
  while ((await management.logs(id, { table: 'tags', limit: 5 })).items.length === 0) {
    assert.ok(Date.now() < deadline, 'no request-log event arrived')
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  const page = await management.logs(id, { table: 'tags', statusClass: '2xx', limit: 1 })
  assert.equal((await management.logEvent(id, page.items[0].event_id)).target, 'tags')
  assert.ok((await management.stats(id, { bucket: 'minute' })).totals.requests >= 1)
})

/* Dbify dashboard: the project screens added by later features (members, webhooks,
 * cron jobs, saved queries, search indexes, linter, audit log).
 *
 * Loaded after dashboard.js, whose helpers it uses through window.Dbify; each screen
 * registers under a sidebar section. Same rules as dashboard.js: DOM built with h(),
 * never innerHTML; secrets (webhook signing secrets) shown once, right after creation.
 */
'use strict';
(() => {
  const D = window.Dbify;
  const { h, replace, api, optional, errorBox, emptyState, copyField, codeBlock, toast, fmtTime, fmtNum } = D;

  function head(title, text, ...extra) {
    return h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, title), h('p', { class: 'muted' }, text)), extra);
  }
  function table(label, columns, rows, empty) {
    return h('div', { class: 'table-wrap' }, h('table', { 'aria-label': label },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: String(columns.length) }, empty)))));
  }
  function badge(text, kind) { return h('span', { class: `badge ${kind || ''}` }, text); }
  // A form whose submit runs `action`; errors land in its feedback box.
  function form(fields, label, action, attrs = {}) {
    const feedback = h('div', { 'aria-live': 'polite' });
    const submit = h('button', { type: 'submit', class: 'primary' }, label);
    const el = h('form', { class: attrs.class || 'stack', onsubmit: async (event) => {
      event.preventDefault(); submit.disabled = true; replace(feedback);
      try { await action(feedback); } catch (error) { replace(feedback, errorBox(error)); }
      submit.disabled = false;
    } }, fields, h('div', { class: 'actions' }, submit), feedback);
    return el;
  }
  function button(label, onclick, cls) {
    return h('button', { type: 'button', class: `small ${cls || ''}`, onclick: async (event) => {
      event.target.disabled = true;
      try { await onclick(); } catch (error) { toast(error.message || 'Failed'); }
      event.target.disabled = false;
    } }, label);
  }
  const refresh = () => D.render();

  // ---- Members -----------------------------------------------------------------
  async function membersScreen(project) {
    const members = await api('GET', `/projects/${project.id}/members`);
    const email = h('input', { type: 'email', name: 'member-email', required: true, placeholder: 'colleague@example.com' });
    const role = h('select', { name: 'member-role' }, ['viewer', 'admin', 'owner'].map((r) => h('option', { value: r }, r)));
    const add = form([h('label', {}, 'Email', email), h('label', {}, 'Role', role)], 'Add or change member', async () => {
      await api('PUT', `/projects/${project.id}/members`, { email: email.value.trim(), role: role.value });
      toast('Member saved'); refresh();
    }, { class: 'inline' });
    const rows = members.map((m) => h('tr', {}, h('td', {}, m.email), h('td', {}, badge(m.role, m.role === 'owner' ? 'warn' : 'info')),
      h('td', { class: 'muted' }, fmtTime(m.created_at)),
      h('td', {}, button('Remove', async () => {
        if (!confirm(`Remove ${m.email} from “${project.name}”?`)) return;
        await api('DELETE', `/projects/${project.id}/members/${m.user_id}`); refresh();
      }, 'danger'))));
    return [head('Members', 'Who can see and change this project. Viewers read; admins change settings and keys; owners also manage members. The user must have a Dbify account.'),
      h('div', { class: 'panel' }, h('h2', {}, 'Add a member'), add),
      table('Members', ['Email', 'Role', 'Since', ''], rows, emptyState('No members', 'Add someone above.'))];
  }

  // ---- Webhooks ----------------------------------------------------------------
  const EVENTS = ['row.inserted', 'row.updated', 'row.deleted', 'schema.changed'];
  async function deliveriesPanel(project, endpoint) {
    const page = await api('GET', `/projects/${project.id}/webhooks/${endpoint.id}/deliveries?limit=20`);
    const kind = { succeeded: 'ok', dead: 'bad', pending: 'warn' };
    const rows = page.items.map((d) => h('tr', { 'data-delivery-id': d.id },
      h('td', { class: 'muted' }, fmtTime(d.created_at)), h('td', { class: 'mono' }, d.event_type),
      h('td', {}, badge(d.status, kind[d.status])), h('td', { class: 'num' }, d.attempts),
      h('td', { class: 'muted' }, d.last_status_code ? String(d.last_status_code) : (d.last_error || '—')),
      h('td', {}, button('Redeliver', async () => {
        await api('POST', `/projects/${project.id}/webhooks/${endpoint.id}/deliveries/${d.id}/redeliver`);
        toast('Redelivery queued'); refresh();
      }))));
    return h('section', { class: 'panel', 'aria-label': `Deliveries to ${endpoint.url}` },
      h('h3', {}, 'Recent deliveries ', h('span', { class: 'muted small' }, `(${fmtNum(page.total)})`)),
      table(`Deliveries of ${endpoint.url}`, ['Created', 'Event', 'Status', 'Attempts', 'Last response', ''], rows,
        emptyState('No deliveries yet', 'Send a test event, or change a row through the data API.')));
  }
  async function webhooksScreen(project) {
    const endpoints = await api('GET', `/projects/${project.id}/webhooks`);
    const shown = h('div', { 'aria-live': 'polite' });
    const url = h('input', { type: 'url', name: 'webhook-url', required: true, placeholder: 'https://example.com/hooks/dbify', class: 'mono' });
    const tables = h('input', { name: 'webhook-tables', placeholder: 'all tables' });
    const boxes = EVENTS.map((e) => h('input', { type: 'checkbox', value: e, checked: e !== 'schema.changed' }));
    const create = form([h('label', {}, 'Endpoint URL', url),
      h('fieldset', { class: 'inline' }, h('legend', {}, 'Events'), boxes.map((b) => h('label', { class: 'inline' }, h('span', {}, b, ' ', b.value)))),
      h('label', {}, 'Tables', h('span', { class: 'hint' }, 'Comma-separated; empty: every table'), tables)], 'Add endpoint', async () => {
      const body = { url: url.value.trim(), events: boxes.filter((b) => b.checked).map((b) => b.value) };
      const only = tables.value.split(',').map((t) => t.trim()).filter(Boolean);
      if (only.length) body.tables = only;
      const created = await api('POST', `/projects/${project.id}/webhooks`, body);
      url.value = '';
      replace(shown, h('div', { class: 'panel', id: 'webhook-secret' }, h('h2', {}, 'Endpoint added'),
        h('div', { class: 'alert warn', role: 'note' }, h('strong', {}, 'Copy the signing secret now. '), 'It is shown only once; receivers verify the webhook-signature header with it.'),
        copyField(created.secret, 'signing secret'), h('p', {}, h('button', { type: 'button', onclick: refresh }, 'Done'))));
    });
    const cards = await Promise.all(endpoints.map(async (e) => h('section', { class: 'panel', 'data-endpoint-id': e.id },
      h('div', { class: 'page-head' }, h('div', {}, h('h2', { class: 'mono' }, e.url),
        h('p', { class: 'muted small' }, e.events.join(', '), ' · ', e.tables ? `tables: ${e.tables.join(', ')}` : 'all tables', ' · ',
          e.enabled ? badge('enabled', 'ok') : badge('disabled'))),
      h('div', { class: 'actions' },
        button('Send test event', async () => { await api('POST', `/projects/${project.id}/webhooks/${e.id}/test`); toast('Test event queued'); setTimeout(refresh, 800); }),
        button(e.enabled ? 'Disable' : 'Enable', async () => { await api('PATCH', `/projects/${project.id}/webhooks/${e.id}`, { enabled: !e.enabled }); refresh(); }),
        button('Delete', async () => {
          if (!confirm(`Delete the endpoint ${e.url}?`)) return;
          await api('DELETE', `/projects/${project.id}/webhooks/${e.id}`); refresh();
        }, 'danger'))),
      await deliveriesPanel(project, e))));
    return [head('Webhooks', 'Dbify POSTs signed events (Standard Webhooks) when rows change through the data API or the schema changes; failures are retried with backoff.'),
      h('div', { class: 'panel' }, h('h2', {}, 'Add an endpoint'), create), shown,
      cards.length ? cards : h('div', { class: 'panel' }, emptyState('No endpoints yet', 'Add one above to receive events.'))];
  }

  // ---- Cron jobs ---------------------------------------------------------------
  function describeAction(a) {
    if (a.kind === 'sql') return a.sql;
    if (a.kind === 'function') return `${a.function}(${Object.keys(a.arguments || {}).join(', ')})`;
    return `${a.method} ${a.url}`;
  }
  async function cronScreen(project, rest) {
    const jobs = await api('GET', `/projects/${project.id}/cron/jobs`);
    const name = h('input', { name: 'job-name', required: true, placeholder: 'nightly cleanup' });
    const schedule = h('input', { name: 'job-schedule', required: true, value: '0 3 * * *', class: 'mono', size: '14' });
    const timezone = h('input', { name: 'job-timezone', value: 'UTC', size: '14' });
    const kind = h('select', { name: 'job-kind' }, h('option', { value: 'sql' }, 'SQL'), h('option', { value: 'function' }, 'Function'), h('option', { value: 'http' }, 'HTTP request'));
    const target = h('textarea', { name: 'job-target', required: true, rows: '3', class: 'mono', placeholder: 'DELETE FROM sessions WHERE expires_at < now()' });
    kind.addEventListener('change', () => {
      target.placeholder = { sql: 'DELETE FROM sessions WHERE expires_at < now()', function: 'refresh_totals', http: 'https://example.com/ping' }[kind.value];
    });
    const create = form([h('div', { class: 'inline' }, h('label', {}, 'Name', name), h('label', {}, 'Schedule (cron)', schedule), h('label', {}, 'Time zone', timezone), h('label', {}, 'Action', kind)),
      h('label', {}, 'SQL, function name or URL', target)], 'Create job', async () => {
      const value = target.value.trim();
      const action = { sql: { kind: 'sql', sql: value }, function: { kind: 'function', function: value }, http: { kind: 'http', url: value } }[kind.value];
      await api('POST', `/projects/${project.id}/cron/jobs`, { name: name.value.trim(), schedule: schedule.value.trim(), timezone: timezone.value.trim(), action });
      toast('Job created'); refresh();
    });
    const selected = jobs.find((j) => j.id === rest) || jobs[0];
    const rows = jobs.map((j) => h('tr', { 'data-job-id': j.id, 'aria-current': selected && j.id === selected.id ? 'true' : null },
      h('td', {}, h('a', { href: `#/p/${project.id}/cron/${j.id}` }, j.name)), h('td', { class: 'mono' }, j.schedule),
      h('td', { class: 'mono cell' }, describeAction(j.action)), h('td', {}, j.enabled ? badge('enabled', 'ok') : badge('paused')),
      h('td', { class: 'muted' }, fmtTime(j.next_run_at)),
      h('td', {}, h('div', { class: 'actions' },
        button('Run now', async () => { await api('POST', `/projects/${project.id}/cron/jobs/${j.id}/run`); toast('Run queued'); setTimeout(() => { location.hash = `#/p/${project.id}/cron/${j.id}`; refresh(); }, 1200); }),
        button(j.enabled ? 'Pause' : 'Enable', async () => { await api('PATCH', `/projects/${project.id}/cron/jobs/${j.id}`, { enabled: !j.enabled }); refresh(); }),
        button('Delete', async () => {
          if (!confirm(`Delete the job “${j.name}”?`)) return;
          await api('DELETE', `/projects/${project.id}/cron/jobs/${j.id}`); location.hash = `#/p/${project.id}/cron`;
        }, 'danger')))));
    let history = null;
    if (selected) {
      const runs = await api('GET', `/projects/${project.id}/cron/jobs/${selected.id}/runs?limit=20`);
      const kinds = { succeeded: 'ok', failed: 'bad', running: 'info', queued: 'warn' };
      history = h('section', { class: 'panel' }, h('h2', {}, `Run history: ${selected.name}`),
        table('Run history', ['Scheduled for', 'Trigger', 'Status', 'Started', 'Finished', 'Output or error'], runs.items.map((r) => h('tr', {},
          h('td', { class: 'muted' }, fmtTime(r.scheduled_for)), h('td', {}, r.trigger), h('td', {}, badge(r.status, kinds[r.status])),
          h('td', { class: 'muted' }, fmtTime(r.started_at)), h('td', { class: 'muted' }, fmtTime(r.finished_at)),
          h('td', { class: 'mono cell' }, r.error || r.output || '—'))), emptyState('No runs yet', 'Runs appear here when the schedule fires or you press Run now.')));
    }
    return [head('Cron jobs', 'Run SQL, a database function or an HTTP request on a schedule. One scheduler runs each occurrence once.'),
      h('div', { class: 'panel' }, h('h2', {}, 'New job'), create),
      table('Cron jobs', ['Name', 'Schedule', 'Action', 'State', 'Next run', 'Actions'], rows, emptyState('No jobs yet', 'Create one above.')), history];
  }

  // ---- Saved queries -----------------------------------------------------------
  async function queriesScreen(project) {
    const queries = await api('GET', `/projects/${project.id}/queries`);
    const name = h('input', { name: 'query-name', required: true, pattern: '[A-Za-z0-9_\\-]{1,100}', placeholder: 'top_customers' });
    const description = h('input', { name: 'query-description', placeholder: 'What it answers' });
    const sql = h('textarea', { name: 'query-sql', required: true, rows: '4', class: 'mono', placeholder: 'SELECT id, name FROM customers WHERE id > :after ORDER BY id' });
    const create = form([h('div', { class: 'inline' }, h('label', {}, 'Name', h('span', { class: 'hint' }, 'The URL segment'), name), h('label', {}, 'Description', description)),
      h('label', {}, 'SQL', h('span', { class: 'hint' }, 'One read-only SELECT; :name marks a parameter (text unless changed through the API)'), sql)], 'Save query', async () => {
      const text = sql.value.trim();
      const parameters = [...new Set([...text.matchAll(/(?<!:):([a-z_][a-z0-9_]*)/g)].map((m) => m[1]))].map((p) => ({ name: p, type: 'text' }));
      await api('POST', `/projects/${project.id}/queries`, { name: name.value.trim(), description: description.value.trim(), sql: text, parameters });
      toast('Query saved'); refresh();
    });
    const cards = queries.map((q) => h('section', { class: 'panel', 'data-query': q.name },
      h('div', { class: 'page-head' }, h('div', {}, h('h2', { class: 'mono' }, q.name), h('p', { class: 'muted small' }, q.description || 'No description')),
        h('div', { class: 'actions' }, button('Delete', async () => {
          if (!confirm(`Delete the saved query “${q.name}”?`)) return;
          await api('DELETE', `/projects/${project.id}/queries/${encodeURIComponent(q.name)}`); refresh();
        }, 'danger'))),
      h('pre', { 'aria-label': `SQL of ${q.name}` }, h('code', {}, q.sql)),
      q.columns.length ? h('p', { class: 'muted small' }, 'Returns ', q.columns.map((c) => `${c.name} ${c.type}`).join(', ')) : null,
      codeBlock(`curl -H "apikey: $DBIFY_KEY" \\\n  "${q.url}${q.parameters.length ? '?' + q.parameters.map((p) => `${p.name}=…`).join('&') : ''}"`, `curl for ${q.name}`)));
    return [head('Saved queries', 'Named, parameterised read-only SQL served as an endpoint with the project’s keys.'),
      h('div', { class: 'panel' }, h('h2', {}, 'New saved query'), create),
      cards.length ? cards : h('div', { class: 'panel' }, emptyState('No saved queries yet', 'Save one above; it gets its own URL.'))];
  }

  // ---- Search indexes ----------------------------------------------------------
  async function searchScreen(project) {
    const [indexes, summary] = await Promise.all([api('GET', `/projects/${project.id}/search-indexes`), optional(api('GET', `/projects/${project.id}/schema`))]);
    const relations = summary.relations || [];
    const tableSelect = h('select', { name: 'index-table', required: true }, relations.map((r) => h('option', { value: `${r.schema_name}.${r.name}` }, `${r.schema_name}.${r.name}`)));
    const columns = h('input', { name: 'index-columns', required: true, placeholder: 'title:2, body', class: 'mono' });
    const semantic = h('input', { type: 'checkbox', name: 'index-semantic' });
    const create = form([h('div', { class: 'inline' }, h('label', {}, 'Table', tableSelect),
      h('label', {}, 'Text columns', h('span', { class: 'hint' }, 'column or column:weight, comma-separated'), columns)),
    h('label', { class: 'inline' }, h('span', {}, semantic, ' Also embed rows for semantic search'))], 'Create index', async () => {
      const [schema, ...rest] = tableSelect.value.split('.');
      const text = Object.fromEntries(columns.value.split(',').map((c) => c.trim()).filter(Boolean).map((c) => {
        const [col, weight] = c.split(':'); return [col.trim(), weight ? Number(weight) : 1];
      }));
      await api('POST', `/projects/${project.id}/search-indexes`, { schema, table: rest.join('.'), text_columns: text, semantic: semantic.checked });
      toast('Index created; building'); refresh();
    });
    const states = { ready: 'ok', building: 'warn', failed: 'bad' };
    // A building index shows a progress bar (rows read of the total); the table polls
    // every second while any index builds, and stops when none does or on leaving.
    function stateCell(i) {
      const p = i.progress;
      const bar = i.state === 'building' ? h('div', { class: 'progress-row' },
        h('progress', { max: '100', value: p ? String(p.percent) : '0', 'aria-label': `Backfill of ${i.table}` }),
        h('span', { class: 'muted small' }, p ? `${p.percent.toFixed(0)} % · ${fmtNum(p.rows_done)} / ${fmtNum(p.rows_total)} rows` : 'counting rows…')) : null;
      return h('td', {}, badge(i.state, states[i.state]), bar, i.last_error ? h('div', { class: 'muted small' }, i.last_error) : null);
    }
    const row = (i) => h('tr', { 'data-index-id': i.id },
      h('td', { class: 'mono' }, `${i.schema}.${i.table}`), h('td', { class: 'mono cell' }, Object.entries(i.text_columns).map(([c, w]) => `${c}:${w}`).join(', ')),
      stateCell(i),
      h('td', { class: 'num' }, fmtNum(i.rows_indexed)), h('td', { class: 'muted' }, i.lag_seconds === null ? '—' : `${Math.round(i.lag_seconds)} s`),
      h('td', {}, i.semantic ? 'yes' : 'no'),
      h('td', {}, h('div', { class: 'actions' },
        button('Reindex', async () => { await api('POST', `/projects/${project.id}/search-indexes/${i.id}/reindex`); toast('Reindexing'); refresh(); }),
        button('Delete', async () => {
          if (!confirm(`Delete the search index on ${i.table}?`)) return;
          await api('DELETE', `/projects/${project.id}/search-indexes/${i.id}`); refresh();
        }, 'danger'))));
    const body = h('tbody');
    let timer = null;
    let left = false;  // a poll answered after leaving the screen must not start another
    D.onCleanup(() => { left = true; clearTimeout(timer); });
    function fill(list) {
      if (left) return;
      replace(body, list.length ? list.map(row) : h('tr', {}, h('td', { colspan: '7' }, emptyState('No search indexes', 'Create one above.'))));
      if (list.some((i) => i.state === 'building')) {
        timer = setTimeout(async () => {
          try { fill(await api('GET', `/projects/${project.id}/search-indexes`)); } catch (_) { timer = setTimeout(() => fill(list), 3000); }
        }, 1000);
      }
    }
    fill(indexes);
    // Search has its own endpoint beside the data API: /p/{id}/search/v1/{table}.
    const searchUrl = project.rest_url.replace(/\/rest\/v1\/?$/, '/search/v1');
    const example = indexes[0] ? codeBlock(`curl -H "apikey: $DBIFY_KEY" \\\n  "${searchUrl}/${indexes[0].table}?q=search+words&limit=10"`, 'search curl example') : null;
    return [head('Search', 'Full-text (and optionally semantic) search over a table, kept in sync with writes.'),
      h('div', { class: 'panel' }, h('h2', {}, 'New index'), create),
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Search indexes' },
        h('thead', {}, h('tr', {}, ['Table', 'Text columns', 'State', 'Rows', 'Lag', 'Semantic', 'Actions'].map((c) => h('th', {}, c)))), body)),
      example ? h('div', { class: 'panel' }, h('h2', {}, 'Query it'), example) : null];
  }

  // ---- Linter ------------------------------------------------------------------
  async function lintScreen(project) {
    const report = await api('GET', `/projects/${project.id}/lint`);
    const levels = { error: 'bad', warning: 'warn', info: 'info' };
    const counts = Object.entries(report.counts).map(([level, n]) => h('div', { class: 'card' }, h('div', { class: 'label' }, level), h('div', { class: 'value' }, fmtNum(n))));
    const rows = report.findings.map((f) => h('tr', {},
      h('td', {}, badge(f.level, levels[f.level])), h('td', {}, f.category), h('td', { class: 'mono' }, f.subject),
      h('td', { class: 'wide' }, f.message, h('div', { class: 'muted small' }, f.remedy)), h('td', { class: 'mono muted' }, f.rule)));
    return [head('Linter', `What in ${report.schemas.join(', ')} will surprise API clients, leak data or be slow, and how to fix it.`),
      h('div', { class: 'cards' }, counts),
      table('Linter findings', ['Level', 'Category', 'Object', 'Finding and remedy', 'Rule'], rows, emptyState('No findings', 'The exposed schemas look good.'))];
  }

  // ---- Audit log ---------------------------------------------------------------
  async function auditScreen(project) {
    const body = h('tbody');
    const more = h('div', { class: 'actions' });
    async function load(cursor) {
      const page = await api('GET', `/projects/${project.id}/audit?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const rows = page.items.map((e) => h('tr', {}, h('td', { class: 'muted' }, fmtTime(e.at)), h('td', {}, e.email || '—'),
        h('td', { class: 'mono' }, e.method), h('td', { class: 'mono cell' }, e.path), h('td', { class: D.statusClass(e.status) }, e.status),
        h('td', { class: 'mono muted' }, e.client_ip)));
      if (cursor) rows.forEach((r) => body.append(r));
      else replace(body, rows.length ? rows : h('tr', {}, h('td', { colspan: '6' }, emptyState('Nothing audited yet', 'Changes made through the dashboard, CLI or management API appear here.'))));
      replace(more, page.next_cursor ? h('button', { type: 'button', onclick: () => load(page.next_cursor) }, 'Load older') : null);
    }
    await load(null);
    return [head('Audit log', 'Every management call that changed this project: who, what and when (never the bodies).'),
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Audit log' }, h('thead', {}, h('tr', {},
        ['Time', 'User', 'Method', 'Path', 'Status', 'Client'].map((c) => h('th', {}, c)))), body)), more];
  }

  const screens = {
    members: ['Members', membersScreen], webhooks: ['Webhooks', webhooksScreen], cron: ['Cron jobs', cronScreen],
    queries: ['Saved queries', queriesScreen], search: ['Search', searchScreen], lint: ['Linter', lintScreen], audit: ['Audit log', auditScreen],
  };
  for (const [key, [label, screen]] of Object.entries(screens)) {
    D.sections.push([key, label]);
    D.screens[key] = (project, rest) => screen(project, rest ? decodeURIComponent(rest) : '');
  }
})();

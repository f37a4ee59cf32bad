/* Dbify dashboard: every screen, drawn from the management API (/api/v1).
 *
 * Hash routes (#/projects, #/p/{id}/keys, ...) so the server only ever serves "/".
 * DOM is built with h(): text always goes through text nodes, never innerHTML, so
 * nothing from the API or the user's database can inject markup. State-changing calls
 * send the X-CSRF-Token header read from the dbify_csrf cookie.
 */
'use strict';
(() => {
  const main = document.getElementById('main');
  const sidebar = document.getElementById('sidebar');
  const crumbs = document.getElementById('crumbs');
  const accountBox = document.getElementById('account');
  const drawer = document.getElementById('drawer');
  const state = { user: null, csrf: null, cleanups: [], renderId: 0 };

  // ---- DOM helpers -----------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else if (name === 'class') el.className = value;
      else if (name === 'value') el.value = value;
      else el.setAttribute(name, value === true ? '' : value);
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  function replace(el, ...children) { el.replaceChildren(); return append(el, children); }
  function toast(text) {
    const t = document.getElementById('toast');
    t.textContent = text; t.classList.add('show');
    clearTimeout(toast.timer); toast.timer = setTimeout(() => t.classList.remove('show'), 1800);
  }
  function fmtTime(value) {
    if (!value) return '—';
    const d = typeof value === 'number' ? new Date(value) : new Date(value);
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  }
  function fmtNum(n) { return n === null || n === undefined ? '—' : Number(n).toLocaleString(); }
  function fmtMs(n) { return n === null || n === undefined ? '—' : `${Number(n).toFixed(Number(n) < 10 ? 2 : 1)} ms`; }
  function statusClass(code) { return `status-${String(code)[0]}`; }
  function emptyState(title, text, ...extra) { return h('div', { class: 'empty' }, h('strong', {}, title), text, extra); }
  function errorBox(error) {
    const body = error && error.body && typeof error.body === 'object' ? error.body : {};
    const details = Array.isArray(body.details)
      ? body.details.map((d) => `${d.location}: ${d.message}`).join('; ')
      : body.details;
    return h('div', { class: 'alert error', role: 'alert' },
      h('strong', {}, body.message || (error && error.message) || 'Something went wrong'),
      details ? h('div', {}, String(details)) : null,
      body.hint ? h('div', { class: 'muted' }, body.hint) : null,
      body.code ? h('div', { class: 'muted small' }, `Code ${body.code}`) : null);
  }
  async function copy(text) {
    try { await navigator.clipboard.writeText(text); }
    catch (_) {
      const area = h('textarea', {}, text); document.body.append(area); area.select();
      document.execCommand('copy'); area.remove();
    }
    toast('Copied to clipboard');
  }
  function copyField(value, label) {
    return h('div', { class: 'secret' },
      h('input', { value, readonly: true, 'aria-label': label, onfocus: (e) => e.target.select() }),
      h('button', { type: 'button', onclick: () => copy(value), 'aria-label': `Copy ${label}` }, 'Copy'));
  }
  function codeBlock(text, label) {
    return h('div', {}, h('pre', { 'aria-label': label }, h('code', {}, text)),
      h('div', { class: 'actions', style: null }, h('button', { type: 'button', class: 'small', onclick: () => copy(text) }, 'Copy snippet')));
  }
  function onCleanup(fn) { state.cleanups.push(fn); }

  // ---- API -------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) { super(body && body.message ? body.message : `HTTP ${status}`); this.status = status; this.body = body; }
  }
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)dbify_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : state.csrf;
  }
  async function api(method, path, body, options = {}) {
    const headers = { accept: 'application/json', ...(options.headers || {}) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') { const token = csrfToken(); if (token) headers['x-csrf-token'] = token; }
    const response = await fetch(`/api/v1${path}`, {
      method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (_) { data = { message: text }; } }
    if (response.status === 401 && !options.allow401) {
      state.user = null; renderAccount();
      if (!location.hash.startsWith('#/sign-')) location.hash = '#/sign-in';
      throw new ApiError(401, data);
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return options.withHeaders ? { data, headers: response.headers, status: response.status } : data;
  }
  async function optional(promise) { try { return await promise; } catch (error) { return { error }; } }

  // ---- Chrome (top bar, sidebar) ----------------------------------------------
  function renderAccount() {
    if (!state.user) { replace(accountBox); return; }
    replace(accountBox,
      h('a', { href: '#/account', title: 'Account' }, state.user.email),
      h('button', { type: 'button', class: 'small', onclick: signOut }, 'Sign out'));
  }
  async function signOut() {
    await optional(api('POST', '/auth/sign-out'));
    state.user = null; state.csrf = null; renderAccount(); location.hash = '#/sign-in';
  }
  const SECTIONS = [
    ['', 'Overview'], ['explorer', 'Table explorer'], ['keys', 'API keys'], ['docs', 'API docs'],
    ['logs', 'Logs'], ['analytics', 'Analytics'], ['schema', 'Schema changes'], ['settings', 'Settings'],
  ];
  const EXTRA_SCREENS = {}; // section key -> async (project, rest) => content
  function renderSidebar(project, section) {
    if (!project) { sidebar.hidden = true; replace(sidebar); return; }
    sidebar.hidden = false;
    replace(sidebar, h('div', { class: 'project-name', title: project.name }, project.name),
      SECTIONS.map(([key, label]) => h('a', {
        href: `#/p/${project.id}${key ? '/' + key : ''}`, 'aria-current': key === section ? 'page' : null,
      }, label)));
  }
  function renderCrumbs(...parts) {
    replace(crumbs, parts.map((p, i) => [i ? h('span', { 'aria-hidden': 'true' }, '/') : null,
      Array.isArray(p) ? h('a', { href: p[1] }, p[0]) : h('span', {}, p)]));
  }

  // ---- Sign-in / sign-up ------------------------------------------------------
  function authForm(mode) {
    const isUp = mode === 'up';
    const feedback = h('div', { 'aria-live': 'polite' });
    const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'username', autofocus: true });
    const password = h('input', { type: 'password', name: 'password', required: true, minlength: isUp ? '8' : null,
      autocomplete: isUp ? 'new-password' : 'current-password' });
    const submit = h('button', { type: 'submit', class: 'primary' }, isUp ? 'Create account' : 'Sign in');
    const form = h('form', { class: 'stack', onsubmit: async (event) => {
      event.preventDefault(); submit.disabled = true; replace(feedback);
      const body = { email: email.value.trim(), password: password.value };
      try {
        if (isUp) await api('POST', '/auth/sign-up', body, { allow401: true });
        const signed = await api('POST', '/auth/sign-in', body, { allow401: true });
        state.user = signed.user; state.csrf = signed.csrf_token; renderAccount();
        location.hash = '#/projects';
      } catch (error) { replace(feedback, errorBox(error)); submit.disabled = false; }
    } },
    h('label', {}, 'Email', email),
    h('label', {}, 'Password', isUp ? h('span', { class: 'hint' }, 'At least 8 characters') : null, password),
    feedback, submit);
    return h('div', { class: 'auth-box panel' },
      h('h1', {}, isUp ? 'Create your Dbify account' : 'Sign in to Dbify'),
      h('p', { class: 'muted' }, isUp ? 'The first account on a new instance becomes its administrator.'
        : 'Instant REST APIs for your PostgreSQL databases.'),
      form,
      h('p', { class: 'muted small' }, isUp ? ['Already have an account? ', h('a', { href: '#/sign-in' }, 'Sign in')]
        : ['No account yet? ', h('a', { href: '#/sign-up' }, 'Create one')]));
  }

  // ---- Projects list ------------------------------------------------------------
  function startOfToday() { const d = new Date(); d.setHours(0, 0, 0, 0); return d.toISOString(); }
  function statusBadge(status) {
    if (!status || status.error) return h('span', { class: 'badge' }, 'unknown');
    if (status.paused) return h('span', { class: 'badge warn' }, 'paused');
    if (status.reachable === false) return h('span', { class: 'badge bad', title: status.last_error || '' }, 'unreachable');
    if (status.reachable) return h('span', { class: 'badge ok' }, 'reachable');
    return h('span', { class: 'badge' }, 'not checked');
  }
  async function projectsScreen() {
    renderCrumbs('Projects');
    const page = await api('GET', '/projects?limit=200');
    const head = h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, 'Projects'), h('p', { class: 'muted' }, 'Each project serves one PostgreSQL database as a REST API.')),
      h('a', { class: 'button primary', href: '#/projects/new' }, '+ New project'));
    if (!page.items.length) {
      return [head, h('div', { class: 'panel' }, emptyState('No projects yet',
        'Connect a PostgreSQL database and get a REST API for every table, view and function.',
        h('p', {}, h('a', { class: 'button primary', href: '#/projects/new' }, 'Create your first project'))))];
    }
    const rows = page.items.map((p) => {
      const status = h('td', {}, h('span', { class: 'muted' }, '…'));
      const requests = h('td', { class: 'num' }, '…');
      const errors = h('td', { class: 'num' }, '…');
      optional(api('GET', `/projects/${p.id}/status`)).then((s) => replace(status, statusBadge(s)));
      optional(api('GET', `/projects/${p.id}/stats?from=${encodeURIComponent(startOfToday())}&bucket=hour`)).then((s) => {
        replace(requests, s.error ? '—' : fmtNum(s.totals.requests));
        replace(errors, s.error ? '—' : fmtNum(s.totals.errors));
      });
      return h('tr', {},
        h('td', {}, h('a', { href: `#/p/${p.id}` }, p.name)),
        h('td', { class: 'mono muted' }, p.id), status, requests, errors,
        h('td', { class: 'muted' }, p.role || 'admin'),
        h('td', { class: 'muted' }, fmtTime(p.created_at)));
    });
    return [head, h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Projects' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'ID'), h('th', {}, 'Status'),
        h('th', { class: 'num' }, 'Requests today'), h('th', { class: 'num' }, 'Errors today'),
        h('th', {}, 'Your role'), h('th', {}, 'Created'))),
      h('tbody', {}, rows)))];
  }

  // ---- Create project -----------------------------------------------------------
  function curlExample(restUrl, key, table) {
    return `curl -H "apikey: ${key}" \\\n  "${restUrl}/${table || ''}${table ? '?limit=5' : ''}"`;
  }
  function keysShownOnce(created, table) {
    return h('div', { class: 'panel', id: 'keys-once' },
      h('h2', {}, `Project “${created.name}” is ready`),
      h('div', { class: 'alert warn', role: 'note' }, h('strong', {}, 'Copy these keys now. '),
        'They are shown only once; Dbify stores only their hashes. You can create more keys later.'),
      h('dl', { class: 'kv', style: null },
        h('dt', {}, 'REST URL'), h('dd', {}, copyField(created.rest_url, 'REST URL')),
        h('dt', {}, 'anon key'), h('dd', {}, copyField(created.anon_key, 'anon key')),
        h('dt', {}, 'service key'), h('dd', {}, copyField(created.service_key, 'service key'),
          h('div', { class: 'muted small' }, 'Bypasses row-level restrictions of the anon role: keep it on servers.'))),
      h('h3', {}, 'Try it'),
      codeBlock(curlExample(created.rest_url, created.anon_key, table), 'curl example'),
      h('p', {}, h('a', { class: 'button primary', href: `#/p/${created.id}` }, 'Open the project →')));
  }
  function newProjectScreen() {
    renderCrumbs(['Projects', '#/projects'], 'New project');
    const out = h('div', { 'aria-live': 'polite' });
    const name = h('input', { name: 'name', required: true, maxlength: '200', placeholder: 'shop', autofocus: true });
    const url = h('input', { name: 'database_url', required: true, autocomplete: 'off', spellcheck: 'false',
      placeholder: 'postgresql://user:password@host:5432/dbname', class: 'mono' });
    const schemas = h('input', { name: 'schemas', value: 'public', placeholder: 'public' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Test connection and create');
    const schemaList = () => schemas.value.split(',').map((s) => s.trim()).filter(Boolean);
    const check = h('button', { type: 'button', onclick: async () => {
      check.disabled = true; replace(out, h('p', { class: 'muted' }, 'Connecting…'));
      try {
        const found = await api('POST', '/projects/test-connection', { database_url: url.value.trim(), schemas: schemaList() });
        const major = Math.floor(found.server_version / 10000);
        replace(out, h('div', { class: 'alert ok', role: 'status' }, h('strong', {}, 'Connected. '),
          `PostgreSQL ${major}: ${found.tables} tables, ${found.views} views and ${found.functions} functions would be exposed.`));
      } catch (error) { replace(out, h('h2', {}, 'Could not connect'), errorBox(error)); }
      check.disabled = false;
    } }, 'Test connection');
    const form = h('form', { class: 'stack panel', onsubmit: async (event) => {
      event.preventDefault(); submit.disabled = true; submit.textContent = 'Connecting…'; replace(out);
      try {
        const created = await api('POST', '/projects', {
          name: name.value.trim(), database_url: url.value.trim(),
          schemas: schemaList(),
        });
        url.value = '';
        const summary = await optional(api('GET', `/projects/${created.id}/schema`));
        const table = summary.relations && summary.relations.length ? summary.relations[0].name : '';
        form.replaceWith(keysShownOnce(created, table));
      } catch (error) {
        replace(out, h('h2', {}, 'Could not create the project'), errorBox(error));
        submit.disabled = false; submit.textContent = 'Test connection and create';
      }
    } },
    h('label', {}, 'Project name', name),
    h('label', {}, 'Database URL', h('span', { class: 'hint' }, 'Dbify connects, checks privileges and reads the schema before saving. The URL is stored encrypted and never shown again.'), url),
    h('label', {}, 'Schemas to expose', h('span', { class: 'hint' }, 'Comma-separated'), schemas),
    out, h('div', { class: 'actions' }, submit, check, h('a', { class: 'button', href: '#/projects' }, 'Cancel')));
    return [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'New project'),
      h('p', { class: 'muted' }, 'Point Dbify at an existing PostgreSQL database.'))), form];
  }

  // ---- Project overview ---------------------------------------------------------
  function statCards(totals) {
    const card = (label, value) => h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
    if (!totals) return h('div', { class: 'cards' }, card('Requests (24 h)', '—'), card('Errors', '—'), card('Avg latency', '—'), card('p95 latency', '—'));
    return h('div', { class: 'cards' }, card('Requests', fmtNum(totals.requests)), card('Errors', `${fmtNum(totals.errors)} (${(totals.error_rate * 100).toFixed(1)}%)`),
      card('Avg latency', fmtMs(totals.avg_ms)), card('p95 latency', fmtMs(totals.p95_ms)), card('p99 latency', fmtMs(totals.p99_ms)));
  }
  async function overviewScreen(id, projectLoad) {
    const [project, status, summary, stats] = await Promise.all([
      projectLoad,
      optional(api('GET', `/projects/${id}/status`)),
      optional(api('GET', `/projects/${id}/schema`)),
      optional(api('GET', `/projects/${id}/stats?bucket=hour`)),
    ]);
    const feedback = h('div', { 'aria-live': 'polite' });
    const relations = summary.relations || [];
    const count = (kind) => relations.filter((r) => kind(r.kind)).length;
    const act = (label, fn) => h('button', { type: 'button', onclick: async (e) => {
      e.target.disabled = true;
      try { await fn(); render(); } catch (error) { replace(feedback, errorBox(error)); e.target.disabled = false; }
    } }, label);
    return [
      h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, project.name), h('p', { class: 'muted' }, 'Project overview')),
        h('div', { class: 'actions' },
          act('Test connection', () => api('POST', `/projects/${project.id}/test-connection`)),
          project.paused ? act('Resume', () => api('POST', `/projects/${project.id}/resume`))
            : act('Pause', () => api('POST', `/projects/${project.id}/pause`)))),
      feedback,
      h('h3', {}, 'Last 24 hours'),
      statCards(stats.error ? null : stats.totals),
      h('div', { class: 'panel' }, h('dl', { class: 'kv' },
        h('dt', {}, 'REST URL'), h('dd', {}, copyField(project.rest_url, 'REST URL')),
        h('dt', {}, 'Project ID'), h('dd', { class: 'mono' }, project.id),
        h('dt', {}, 'Connection'), h('dd', {}, statusBadge(status), status.last_error ? h('span', { class: 'muted' }, ` ${status.last_error}`) : null),
        h('dt', {}, 'Schema loaded at'), h('dd', {}, fmtTime(status.schema_loaded_at)),
        h('dt', {}, 'Exposed schemas'), h('dd', { class: 'mono' }, project.schemas.join(', ')),
        h('dt', {}, 'Tables'), h('dd', {}, summary.error ? '—' : fmtNum(count((k) => k.includes('table')))),
        h('dt', {}, 'Views'), h('dd', {}, summary.error ? '—' : fmtNum(count((k) => k.includes('view')))),
        h('dt', {}, 'Functions'), h('dd', {}, summary.error ? '—' : fmtNum((summary.functions || []).length)),
        h('dt', {}, 'Created'), h('dd', {}, fmtTime(project.created_at)))),
      h('div', { class: 'panel' }, h('h2', {}, 'Quick start'),
        codeBlock(`curl -H "apikey: $DBIFY_KEY" "${project.rest_url}/${relations[0] ? relations[0].name + '?limit=5' : ''}"`, 'curl example'),
        h('p', { class: 'muted small' }, 'Use an anon or service key from ', h('a', { href: `#/p/${project.id}/keys` }, 'API keys'),
          '. Supabase and PostgREST client libraries work with the REST URL unchanged.')),
    ];
  }

  // ---- API keys -----------------------------------------------------------------
  async function keysScreen(id, projectLoad) {
    const [project, page] = await Promise.all([projectLoad, api('GET', `/projects/${id}/keys?limit=200`)]);
    const shown = h('div', { 'aria-live': 'polite' });
    const showSecret = (created, verb) => replace(shown, h('div', { class: 'panel', id: 'key-once' },
      h('h2', {}, `Key “${created.name}” ${verb}`),
      h('div', { class: 'alert warn', role: 'note' }, h('strong', {}, 'Copy this key now. '), 'It will not be shown again.'),
      copyField(created.key, `${created.name} key`),
      h('h3', {}, 'Try it'), codeBlock(curlExample(project.rest_url, created.key, ''), 'curl example')));
    const name = h('input', { name: 'key-name', required: true, maxlength: '200', placeholder: 'backend' });
    const custom = h('input', { name: 'key-custom-role', placeholder: 'database role', hidden: true, 'aria-label': 'Database role' });
    const role = h('select', { name: 'key-role', onchange: () => { custom.hidden = role.value !== 'custom'; } },
      h('option', { value: 'anon' }, 'anon'), h('option', { value: 'service' }, 'service'), h('option', { value: 'custom' }, 'database role…'));
    const expires = h('input', { type: 'datetime-local', name: 'key-expires' });
    const formError = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'inline', onsubmit: async (event) => {
      event.preventDefault(); replace(formError);
      const body = { name: name.value.trim(), role: role.value === 'custom' ? custom.value.trim() : role.value };
      if (expires.value) body.expires_at = new Date(expires.value).toISOString();
      try {
        const created = await api('POST', `/projects/${project.id}/keys`, body);
        await refresh(); showSecret(created, 'created'); name.value = '';
      } catch (error) { replace(formError, errorBox(error)); }
    } },
    h('label', {}, 'Name', name), h('label', {}, 'Role', role), custom,
    h('label', {}, 'Expires (optional)', expires),
    h('button', { type: 'submit', class: 'primary' }, 'Create key'));
    const body = h('tbody');
    async function refresh() {
      const items = (await api('GET', `/projects/${project.id}/keys?limit=200`)).items;
      fill(items);
    }
    function fill(items) {
      if (!items.length) { replace(body, h('tr', {}, h('td', { colspan: '7' }, emptyState('No active keys', 'Create one above.')))); return; }
      replace(body, items.map((k) => h('tr', { 'data-key-id': k.id },
        h('td', {}, k.name), h('td', {}, h('span', { class: `badge ${k.role === 'service' ? 'warn' : 'info'}` }, k.role)),
        h('td', { class: 'mono' }, `${k.prefix}…`), h('td', { class: 'muted' }, fmtTime(k.created_at)),
        h('td', { class: 'muted' }, k.expires_at ? fmtTime(k.expires_at) : 'never'),
        h('td', { class: 'muted' }, k.last_used_at ? fmtTime(k.last_used_at) : 'never'),
        h('td', {}, h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'small', onclick: async () => {
            if (!confirm(`Rotate “${k.name}”? The old secret keeps working for one hour.`)) return;
            try { const created = await api('POST', `/projects/${project.id}/keys/${k.id}/rotate`, { grace_seconds: 3600 }); await refresh(); showSecret(created, 'rotated'); }
            catch (error) { replace(shown, errorBox(error)); }
          } }, 'Rotate'),
          h('button', { type: 'button', class: 'small danger', onclick: async () => {
            if (!confirm(`Revoke “${k.name}”? Requests with this key will fail immediately.`)) return;
            try { await api('DELETE', `/projects/${project.id}/keys/${k.id}`); await refresh(); toast(`Key “${k.name}” revoked`); }
            catch (error) { replace(shown, errorBox(error)); }
          } }, 'Revoke'))))));
    }
    fill(page.items);
    return [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'API keys'),
      h('p', { class: 'muted' }, 'Send a key as the apikey header or as Authorization: Bearer. anon keys run as the anon role; service keys have full access.'))),
    h('div', { class: 'panel' }, h('h2', {}, 'Create a key'), form, formError), shown,
    h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'API keys' }, h('thead', {}, h('tr', {},
      h('th', {}, 'Name'), h('th', {}, 'Role'), h('th', {}, 'Prefix'), h('th', {}, 'Created'), h('th', {}, 'Expires'), h('th', {}, 'Last used'), h('th', {}, 'Actions'))), body))];
  }

  // ---- Table explorer -------------------------------------------------------------
  const OPERATORS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'is', 'in'];
  function cellValue(value) {
    if (value === null || value === undefined) return h('span', { class: 'null' }, 'NULL');
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  function snippets(restUrl, path, schema, defaultSchema) {
    const url = `${restUrl}/${path}`;
    const profile = schema !== defaultSchema;
    return {
      curl: `curl -H "apikey: $DBIFY_KEY"${profile ? ` -H "Accept-Profile: ${schema}"` : ''} \\\n  "${url}"`,
      JavaScript: `const response = await fetch(\n  ${JSON.stringify(url)},\n  { headers: { apikey: process.env.DBIFY_KEY${profile ? `, 'Accept-Profile': ${JSON.stringify(schema)}` : ''} } },\n);\nconst rows = await response.json();`,
      Python: `import os\nimport httpx\n\nrows = httpx.get(\n    ${JSON.stringify(url)},\n    headers={"apikey": os.environ["DBIFY_KEY"]${profile ? `, "Accept-Profile": ${JSON.stringify(schema)}` : ''}},\n).json()`,
    };
  }
  function snippetTabs(getSnippets) {
    let current = 'curl';
    const box = h('div');
    const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Snippet language' });
    function draw() {
      const all = getSnippets();
      replace(tabs, Object.keys(all).map((name) => h('button', { type: 'button', role: 'tab', class: 'small',
        'aria-selected': String(name === current), 'aria-pressed': String(name === current),
        onclick: () => { current = name; draw(); } }, name)));
      replace(box, tabs, codeBlock(all[current], `${current} snippet`));
    }
    draw();
    return { element: box, redraw: draw };
  }
  async function explorerScreen(id, projectLoad, selected) {
    const [project, summary] = await Promise.all([projectLoad, api('GET', `/projects/${id}/schema`)]);
    const defaultSchema = summary.schemas[0];
    const qualified = (o) => (o.schema_name === defaultSchema ? o.name : `${o.schema_name}.${o.name}`);
    const search = h('input', { type: 'search', placeholder: 'Filter…', 'aria-label': 'Filter tables, views and functions' });
    const list = h('div');
    const groups = [
      ['Tables', summary.relations.filter((r) => r.kind.includes('table')), ''],
      ['Views', summary.relations.filter((r) => r.kind.includes('view')), ''],
      ['Functions', summary.functions, 'rpc/'],
    ];
    function drawList() {
      const needle = search.value.trim().toLowerCase();
      replace(list, groups.map(([title, items, prefix]) => {
        const shown = items.filter((o) => qualified(o).toLowerCase().includes(needle));
        const seen = new Set();
        return [h('h3', {}, `${title} (${items.length})`), shown.length ? shown.filter((o) => {
          const id = prefix + qualified(o); if (seen.has(id)) return false; seen.add(id); return true;
        }).map((o) => h('a', {
          href: `#/p/${project.id}/explorer/${prefix}${qualified(o)}`,
          'aria-current': selected === prefix + qualified(o) ? 'true' : null,
        }, h('span', {}, qualified(o)), o.columns ? h('span', { class: 'muted' }, String(o.columns.length)) : null))
          : h('p', { class: 'muted small' }, 'None')];
      }));
    }
    search.addEventListener('input', drawList);
    drawList();
    const aside = h('nav', { class: 'objects', 'aria-label': 'Tables, views and functions' }, search, list);
    let detail;
    if (!selected) {
      detail = h('div', { class: 'panel' }, emptyState('Pick a table, view or function',
        `${summary.relations.length} relations and ${summary.functions.length} functions are exposed from ${summary.schemas.join(', ')}.`));
    } else if (selected.startsWith('rpc/')) {
      const name = selected.slice(4);
      const overloads = summary.functions.filter((f) => qualified(f) === name);
      detail = overloads.length ? functionDetail(project, overloads, defaultSchema) : h('div', { class: 'panel' }, emptyState('Not found', `No function ${name}.`));
    } else {
      const relation = summary.relations.find((r) => qualified(r) === selected);
      detail = relation ? relationDetail(project, relation, defaultSchema) : h('div', { class: 'panel' }, emptyState('Not found', `No table or view ${selected}.`));
    }
    return [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Table explorer'),
      h('p', { class: 'muted' }, 'The schema as the API serves it now, and its rows through the data API.'))),
    h('div', { class: 'explorer' }, aside, detail)];
  }
  function functionDetail(project, overloads, defaultSchema) {
    return h('div', {}, overloads.map((f) => {
      const args = f.parameters.filter((p) => ['in', 'inout', 'variadic'].includes(p.mode));
      const body = JSON.stringify(Object.fromEntries(args.map((p) => [p.name || 'arg', p.data_type.includes('int') || p.data_type === 'numeric' ? 1 : 'value'])));
      const url = `${project.rest_url}/rpc/${f.name}`;
      return h('div', { class: 'panel' },
        h('h2', {}, h('span', { class: 'mono' }, `${f.schema_name}.${f.name}(${args.map((p) => `${p.name} ${p.data_type}`).join(', ')})`)),
        h('p', {}, 'Returns ', h('code', {}, `${f.returns_set ? 'SETOF ' : ''}${f.return_type}`), ' · ',
          h('span', { class: 'badge' }, f.volatility), f.description ? h('span', { class: 'muted' }, ` ${f.description}`) : null),
        f.parameters.length ? h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Parameters' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Parameter'), h('th', {}, 'Type'), h('th', {}, 'Mode'), h('th', {}, 'Default'))),
          h('tbody', {}, f.parameters.map((p) => h('tr', {}, h('td', { class: 'mono' }, p.name || '(unnamed)'),
            h('td', { class: 'mono' }, p.data_type), h('td', {}, p.mode), h('td', {}, p.has_default ? 'yes' : '')))))) : null,
        h('h3', {}, 'Call it'),
        codeBlock(`curl -X POST -H "apikey: $DBIFY_KEY" -H "Content-Type: application/json"${f.schema_name !== defaultSchema ? ` -H "Content-Profile: ${f.schema_name}"` : ''} \\\n  "${url}" -d '${body}'`, 'curl example'));
    }));
  }
  function relationDetail(project, relation, defaultSchema) {
    const foreign = new Map();
    for (const r of relation.relationships) if (r.cardinality === 'many_to_one' || r.cardinality === 'one_to_one') for (const [source] of r.columns) if (!foreign.has(source)) foreign.set(source, r.target);
    const columnsTable = h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Columns' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Column'), h('th', {}, 'Type'), h('th', {}, 'Nullable'), h('th', {}, 'Default'), h('th', {}, 'Keys'))),
      h('tbody', {}, relation.columns.map((c) => h('tr', {}, h('td', { class: 'mono' }, c.name), h('td', { class: 'mono' }, c.data_type),
        h('td', {}, c.nullable ? 'yes' : 'no'), h('td', { class: 'mono muted' }, c.default || ''),
        h('td', {}, c.primary_key ? h('span', { class: 'badge info' }, 'PK') : null,
          foreign.has(c.name) ? h('span', { class: 'badge', title: `references ${foreign.get(c.name)}` }, `FK → ${foreign.get(c.name)}`) : null))))));
    const relationships = relation.relationships.length ? h('ul', {}, relation.relationships.map((r) => h('li', {},
      h('code', {}, r.target), ' ', h('span', { class: 'badge' }, r.cardinality.replaceAll('_', ' ')),
      r.junction ? h('span', { class: 'muted' }, ` via ${r.junction}`) : h('span', { class: 'muted' }, ` on ${r.columns.map(([a, b]) => `${a} = ${b}`).join(', ')}`))))
      : h('p', { class: 'muted' }, 'No foreign-key relationships.');
    return h('div', {},
      h('div', { class: 'panel' },
        h('h2', {}, h('span', { class: 'mono' }, `${relation.schema_name}.${relation.name}`), ' ', h('span', { class: 'badge info' }, relation.kind.replaceAll('_', ' '))),
        relation.description ? h('p', { class: 'muted' }, relation.description) : null,
        columnsTable, h('h3', {}, 'Relationships (embed with select=*,target(*))'), relationships),
      rowBrowser(project, relation, defaultSchema));
  }
  function rowBrowser(project, relation, defaultSchema) {
    const columns = relation.columns.map((c) => c.name);
    const view = { filters: [], order: relation.primary_key[0] || columns[0] || '', direction: 'asc', limit: 25, offset: 0 };
    const filterBox = h('div');
    const grid = h('div', { 'aria-live': 'polite' });
    const pager = h('div', { class: 'actions' });
    const orderSelect = h('select', { 'aria-label': 'Order by', onchange: () => { view.order = orderSelect.value; view.offset = 0; load(); } },
      h('option', { value: '' }, '(no order)'), columns.map((c) => h('option', { value: c }, c)));
    orderSelect.value = view.order;
    const dirSelect = h('select', { 'aria-label': 'Direction', onchange: () => { view.direction = dirSelect.value; view.offset = 0; load(); } },
      h('option', { value: 'asc' }, 'ascending'), h('option', { value: 'desc' }, 'descending'));
    const limitSelect = h('select', { 'aria-label': 'Rows per page', onchange: () => { view.limit = Number(limitSelect.value); view.offset = 0; load(); } },
      [10, 25, 50, 100].map((n) => h('option', { value: String(n) }, `${n} rows`)));
    limitSelect.value = '25';
    function query() {
      const params = ['select=*'];
      for (const f of view.filters) {
        if (!f.column || f.value === '') continue;
        const value = f.op === 'in' ? `(${f.value})` : f.value;
        params.push(`${encodeURIComponent(f.column)}=${f.op}.${encodeURIComponent(value)}`);
      }
      if (view.order) params.push(`order=${encodeURIComponent(view.order)}.${view.direction}`);
      params.push(`limit=${view.limit}`);
      if (view.offset) params.push(`offset=${view.offset}`);
      return params.join('&');
    }
    const snippetsBox = snippetTabs(() => snippets(project.rest_url, `${relation.name}?${query()}`, relation.schema_name, defaultSchema));
    function drawFilters() {
      replace(filterBox, view.filters.map((f, i) => {
        const col = h('select', { 'aria-label': 'Filter column', onchange: () => { f.column = col.value; } }, columns.map((c) => h('option', { value: c }, c)));
        col.value = f.column;
        const op = h('select', { 'aria-label': 'Operator', onchange: () => { f.op = op.value; } }, OPERATORS.map((o) => h('option', { value: o }, o)));
        op.value = f.op;
        const value = h('input', { 'aria-label': 'Filter value', value: f.value, placeholder: 'value', oninput: () => { f.value = value.value; },
          onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); view.offset = 0; load(); } } });
        return h('div', { class: 'filter-row' }, col, op, value,
          h('button', { type: 'button', class: 'small', 'aria-label': 'Remove filter', onclick: () => { view.filters.splice(i, 1); drawFilters(); view.offset = 0; load(); } }, '✕'));
      }));
    }
    // Changing order, direction and filters in quick succession starts several loads;
    // only the latest may draw, or a slower earlier answer would show stale rows.
    let latestLoad = 0;
    async function load() {
      const ticket = ++latestLoad;
      snippetsBox.redraw();
      replace(grid, h('p', { class: 'muted' }, 'Loading rows…'));
      const headers = relation.schema_name !== defaultSchema ? { 'accept-profile': relation.schema_name } : {};
      let result;
      try { result = await api('GET', `/projects/${project.id}/rows/${encodeURIComponent(relation.name)}?${query()}`, undefined, { withHeaders: true, headers }); }
      catch (error) { if (ticket === latestLoad) { replace(grid, errorBox(error)); replace(pager); } return; }
      if (ticket !== latestLoad) return;
      const rows = result.data || [];
      const range = result.headers.get('content-range') || '';
      const total = Number(range.split('/')[1]);
      const shownColumns = rows.length ? Object.keys(rows[0]) : columns;
      replace(grid, rows.length ? h('div', { class: 'table-wrap' }, h('table', { 'aria-label': `Rows of ${relation.name}` },
        h('thead', {}, h('tr', {}, shownColumns.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.map((row) => h('tr', {}, shownColumns.map((c) => h('td', { class: 'cell mono', title: row[c] === null ? 'NULL' : (typeof row[c] === 'object' ? JSON.stringify(row[c]) : String(row[c])) }, cellValue(row[c]))))))))
        : emptyState('No rows', view.filters.length ? 'No rows match these filters.' : 'This relation is empty.'));
      const first = rows.length ? view.offset + 1 : 0;
      replace(pager,
        h('button', { type: 'button', disabled: view.offset === 0, onclick: () => { view.offset = Math.max(0, view.offset - view.limit); load(); } }, '← Previous'),
        h('span', { class: 'muted', id: 'row-range' }, Number.isFinite(total) ? `Rows ${first}–${view.offset + rows.length} of ${fmtNum(total)}` : `${rows.length} rows`),
        h('button', { type: 'button', disabled: Number.isFinite(total) ? view.offset + rows.length >= total : rows.length < view.limit,
          onclick: () => { view.offset += view.limit; load(); } }, 'Next →'));
    }
    drawFilters();
    load();
    return h('div', { class: 'panel' }, h('h2', {}, 'Rows'),
      h('div', { class: 'filter-row' },
        h('button', { type: 'button', class: 'small', onclick: () => { view.filters.push({ column: columns[0], op: 'eq', value: '' }); drawFilters(); } }, '+ Filter'),
        h('button', { type: 'button', class: 'small primary', onclick: () => { view.offset = 0; load(); } }, 'Apply'),
        h('span', { class: 'muted small' }, 'Order'), orderSelect, dirSelect, limitSelect),
      filterBox, grid, pager,
      h('h3', {}, 'The same query from your code'), snippetsBox.element);
  }

  // ---- API docs --------------------------------------------------------------------
  function docsScreen(project) {
    return [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'API docs'),
      h('p', { class: 'muted' }, 'Interactive OpenAPI docs generated from the live schema. Use “Authorize” with one of your keys to try requests.')),
    h('a', { class: 'button', href: `/p/${project.id}/docs`, target: '_blank', rel: 'noopener' }, 'Open in a new tab ↗')),
    h('iframe', { class: 'docs', src: `/p/${project.id}/docs`, title: `${project.name} API docs` })];
  }

  // ---- Logs --------------------------------------------------------------------------
  const RANGES = { '15m': 900, '1h': 3600, '24h': 86400, '7d': 604800, '30d': 2592000 };
  function sinceIso(seconds) { return new Date(Date.now() - seconds * 1000).toISOString(); }
  function keyNames(id) {
    return optional(api('GET', `/projects/${id}/keys?limit=200`)).then((p) => new Map((p.items || []).map((k) => [k.id, k.name])));
  }
  function openDrawer(title, content) {
    const close = h('button', { type: 'button', class: 'small', 'aria-label': 'Close details', onclick: closeDrawer }, '✕ Close');
    replace(drawer, h('header', {}, h('h2', { id: 'drawer-title' }, title), close), content);
    // Keyboard users land on Close, and go back to what opened the drawer on closing.
    drawerOpener = document.activeElement;
    drawer.hidden = false;
    close.focus();
  }
  let drawerOpener = null;
  function closeDrawer() {
    drawer.hidden = true; replace(drawer);
    // A live table may have redrawn the opening row meanwhile: find its successor.
    let back = drawerOpener;
    if (back && !back.isConnected && back.dataset && back.dataset.requestId) {
      back = document.querySelector(`tr[data-request-id="${CSS.escape(back.dataset.requestId)}"]`);
    }
    if (back && back.isConnected) back.focus();
    drawerOpener = null;
  }
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !drawer.hidden) closeDrawer(); });
  async function logsScreen(id, projectLoad) {
    const namesLoad = keyNames(id); // in parallel with the first page of logs
    let project = { id };
    let names = new Map();
    const filters = { range: '1h', status: '', method: '', table: '', key_id: '', request_id: '' };
    const body = h('tbody');
    const note = h('div', { 'aria-live': 'polite' });
    const more = h('div', { class: 'actions' });
    let cursor = null;
    const live = h('input', { type: 'checkbox', checked: true, id: 'logs-live' });
    function params() {
      const p = new URLSearchParams({ from: sinceIso(RANGES[filters.range]), limit: '50' });
      for (const name of ['method', 'table', 'key_id', 'request_id']) if (filters[name]) p.set(name, filters[name]);
      if (filters.status) p.set(filters.status.endsWith('xx') ? 'status_class' : 'status', filters.status);
      return p;
    }
    function rowFor(e) {
      const open = () => showEvent(project, e, names);
      return h('tr', { class: 'clickable', tabindex: '0', 'data-request-id': e.request_id, onclick: open,
        onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } } },
        h('td', { class: 'muted' }, new Date(e.timestamp_us / 1000).toLocaleTimeString()),
        h('td', { class: 'mono' }, e.method), h('td', { class: 'mono cell' }, e.path),
        h('td', { class: statusClass(e.status) }, e.status),
        h('td', { class: 'num' }, fmtMs(e.duration_us / 1000)),
        h('td', {}, names.get(e.key_id) || e.role || (e.key_id ? e.key_id.slice(0, 8) : '—')),
        h('td', { class: 'mono muted cell' }, e.request_id));
    }
    async function load(older) {
      const p = params(); if (older && cursor) p.set('cursor', cursor);
      let page;
      try { page = await api('GET', `/projects/${id}/logs?${p}`); }
      catch (error) { replace(note, errorBox(error)); return; }
      names = await namesLoad;
      replace(note);
      cursor = page.next_cursor;
      const rows = page.items.map(rowFor);
      if (older) append(body, rows);
      else replace(body, rows.length ? rows : h('tr', {}, h('td', { colspan: '7' }, emptyState('No requests in this range',
        'Requests to the data API appear here within a few seconds.'))));
      replace(more, cursor ? h('button', { type: 'button', onclick: () => load(true) }, 'Load older') : null);
    }
    function field(name, label, input) {
      input.addEventListener('change', () => { filters[name] = input.value.trim(); load(false); });
      return h('label', {}, label, input);
    }
    const timer = setInterval(() => { if (live.checked && document.visibilityState === 'visible' && !cursorPaged()) load(false); }, 3000);
    const cursorPaged = () => body.children.length > 50;
    onCleanup(() => clearInterval(timer));
    [project] = await Promise.all([projectLoad, load(false)]);
    names = await namesLoad;
    const range = h('select', { name: 'range' }, Object.keys(RANGES).map((r) => h('option', { value: r }, `Last ${r}`)));
    range.value = filters.range;
    const method = h('select', { name: 'method' }, ['', 'GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE'].map((m) => h('option', { value: m }, m || 'any')));
    const status = h('select', { name: 'status' }, ['', '2xx', '4xx', '5xx', '200', '201', '204', '206', '400', '401', '403', '404', '406', '409', '429', '500', '503']
      .map((s) => h('option', { value: s }, s || 'any')));
    return [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Logs'), h('p', { class: 'muted' }, 'Every data API request, newest first. Click a row for details.')),
      h('label', { class: 'inline' }, h('span', {}, live, ' Live (refresh every 3 s)'))),
    h('div', { class: 'panel' }, h('form', { class: 'inline', onsubmit: (e) => e.preventDefault() },
      field('range', 'Time range', range), field('status', 'Status', status), field('method', 'Method', method),
      field('table', 'Table', h('input', { name: 'table', placeholder: 'books', size: '12' })),
      field('key_id', 'Key', h('select', { name: 'key_id' }, h('option', { value: '' }, 'any'), [...names].map(([id, n]) => h('option', { value: id }, n)))),
      field('request_id', 'Request ID', h('input', { name: 'request_id', class: 'mono', size: '24' })))),
    note,
    h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Request log' }, h('thead', {}, h('tr', {},
      h('th', {}, 'Time'), h('th', {}, 'Method'), h('th', {}, 'Path'), h('th', {}, 'Status'), h('th', { class: 'num' }, 'Duration'), h('th', {}, 'Key'), h('th', {}, 'Request ID'))), body)),
    more];
  }
  async function showEvent(project, e, names) {
    let event = e;
    const fresh = await optional(api('GET', `/projects/${project.id}/logs/${encodeURIComponent(e.event_id)}`));
    if (!fresh.error) event = fresh;
    const rows = [
      ['Time', new Date(event.timestamp_us / 1000).toISOString()], ['Request ID', event.request_id],
      ['Method', event.method], ['Path', event.path], ['Target', event.target || '—'], ['Query shape', event.query_shape || '—'],
      ['Status', event.status], ['Error code', event.error_code || '—'], ['Duration', fmtMs(event.duration_us / 1000)],
      ['Database time', fmtMs(event.db_us / 1000)], ['Waiting for a connection', fmtMs((event.queue_us || 0) / 1000)], ['Rows', fmtNum(event.rows)], ['Response bytes', fmtNum(event.response_bytes)],
      ['Key', names.get(event.key_id) ? `${names.get(event.key_id)} (${event.key_id})` : (event.key_id || '—')], ['Role', event.role || '—'],
      ['Client IP', event.client_ip || '—'], ['User agent', event.user_agent || '—'], ['Event ID', event.event_id],
    ];
    openDrawer(`${event.method} ${event.status}`, h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, String(v))])));
  }

  // ---- Analytics --------------------------------------------------------------------
  const ANALYTICS_RANGES = [['1h', 3600, 'minute'], ['24h', 86400, 'hour'], ['7d', 604800, 'hour'], ['30d', 2592000, 'day']];
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function timeChart(target, series, lines) {
    if (!window.uPlot) { replace(target, h('p', { class: 'muted' }, 'Charts unavailable.')); return; }
    const xs = series.map((p) => Date.parse(p.time) / 1000);
    const data = [xs, ...lines.map((l) => series.map((p) => l.value(p)))];
    const width = Math.max(280, target.clientWidth || 600);
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--border'), width: 1 }, ticks: { stroke: cssVar('--border') } };
    const chart = new window.uPlot({
      width, height: 220,
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, fill: l.fill, points: { show: xs.length < 25 }, spanGaps: true }))],
      axes: [axis, { ...axis, size: 56 }],
      scales: { x: { time: true } },
    }, data, target);
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(280, target.clientWidth), height: 220 }));
    observer.observe(target);
    onCleanup(() => { observer.disconnect(); chart.destroy(); });
  }
  function bars(items, label, classFor) {
    if (!items.length) return h('p', { class: 'muted' }, 'No data.');
    const max = Math.max(...items.map((i) => i.requests));
    return h('div', { class: 'bars', role: 'list', 'aria-label': label }, items.slice(0, 10).map((i) => {
      const fill = h('div', { class: `fill ${classFor ? classFor(i) : ''}` });
      fill.style.width = `${Math.max(2, (i.requests / max) * 100)}%`;
      return h('div', { class: 'bar-row', role: 'listitem' }, h('span', { class: 'mono cell', title: i.value }, i.value || '(root)'),
        h('div', { class: 'track' }, fill), h('span', { class: 'num' }, fmtNum(i.requests)));
    }));
  }
  async function analyticsScreen(id, projectLoad, rangeName) {
    const [name, seconds, bucket] = ANALYTICS_RANGES.find((r) => r[0] === rangeName) || ANALYTICS_RANGES[1];
    const picker = h('div', { class: 'actions', role: 'group', 'aria-label': 'Time range' }, ANALYTICS_RANGES.map(([n]) =>
      h('a', { class: 'button', href: `#/p/${id}/analytics/${n}`, 'aria-pressed': String(n === name), role: 'button' }, n)));
    const head = h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Analytics'), h('p', { class: 'muted' }, `Data API traffic over the last ${name}.`)), picker);
    const statsLoad = optional(api('GET', `/projects/${id}/stats?from=${encodeURIComponent(sinceIso(seconds))}&bucket=${bucket}`));
    const [project, stats] = await Promise.all([projectLoad, statsLoad]);
    if (stats.error) return [head, errorBox(stats.error)];
    if (!stats.totals.requests) {
      return [head, statCards(stats.totals), h('div', { class: 'panel' }, emptyState('No requests in this range',
        'Make a call to the data API and it will show up here.', codeBlock(`curl -H "apikey: $DBIFY_KEY" "${project.rest_url}/"`, 'curl example')))];
    }
    // One point per bucket over the whole range (the API returns only non-empty buckets).
    const step = { minute: 60, hour: 3600, day: 86400 }[bucket];
    const byTime = new Map(stats.series.map((p) => [Math.floor(Date.parse(p.time) / 1000 / step), p]));
    const firstBucket = Math.floor(Date.parse(stats.from_) / 1000 / step);
    const lastBucket = Math.floor((Date.parse(stats.to) / 1000 - 1) / step);
    const series = [];
    for (let b = firstBucket; b <= lastBucket; b++) {
      series.push(byTime.get(b) || { time: new Date(b * step * 1000).toISOString(), requests: 0, errors: 0, avg_ms: null, p95_ms: null });
    }
    stats.series = series;
    const requestsChart = h('div', { class: 'chart', id: 'chart-requests' });
    const latencyChart = h('div', { class: 'chart', id: 'chart-latency' });
    const accent = cssVar('--accent'), bad = cssVar('--bad'), warn = cssVar('--warn');
    requestAnimationFrame(() => {
      timeChart(requestsChart, stats.series, [
        { label: 'Requests', value: (p) => p.requests, color: accent },
        { label: 'Errors', value: (p) => p.errors, color: bad },
      ]);
      timeChart(latencyChart, stats.series, [
        { label: 'Avg latency (ms)', value: (p) => p.avg_ms, color: warn },
        ...(byTime.size && 'p95_ms' in byTime.values().next().value ? [{ label: 'p95 latency (ms)', value: (p) => p.p95_ms, color: bad }] : []),
      ]);
    });
    return [head, statCards(stats.totals),
      h('div', { class: 'two-col' },
        h('section', { class: 'panel', 'aria-label': 'Requests over time' }, h('h2', {}, 'Requests over time'), requestsChart),
        h('section', { class: 'panel', 'aria-label': 'Latency over time' }, h('h2', {}, 'Latency over time'), latencyChart,
          h('p', { class: 'muted small' }, `p95 over the range: ${fmtMs(stats.totals.p95_ms)} · p99: ${fmtMs(stats.totals.p99_ms)}`)),
        h('section', { class: 'panel' }, h('h2', {}, 'Status codes'), bars(stats.by_status, 'Status codes', (i) => `s${String(i.value)[0]}`)),
        h('section', { class: 'panel' }, h('h2', {}, 'Top tables and endpoints'), bars(stats.by_table, 'Top tables')),
        h('section', { class: 'panel' }, h('h2', {}, 'Methods'), bars(stats.by_method, 'Methods'))),
      h('section', { class: 'panel' }, h('h2', {}, 'Slowest endpoints'), h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Slowest endpoints' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Method'), h('th', {}, 'Target'), h('th', { class: 'num' }, 'Requests'), h('th', { class: 'num' }, 'Avg'), h('th', { class: 'num' }, 'p95'))),
        h('tbody', {}, stats.slowest.map((s) => h('tr', {}, h('td', { class: 'mono' }, s.method), h('td', { class: 'mono' }, s.target || '(root)'),
          h('td', { class: 'num' }, fmtNum(s.requests)), h('td', { class: 'num' }, fmtMs(s.avg_ms)), h('td', { class: 'num' }, fmtMs(s.p95_ms)))))))),
    ];
  }

  // ---- Schema changes -----------------------------------------------------------------
  function watcherPanel(project, watcher) {
    const panel = h('section', { class: 'panel', 'aria-label': 'Schema watcher' });
    const draw = (w) => {
      if (w.error) { replace(panel, h('h2', {}, 'Schema watcher'), errorBox(w.error)); return; }
      const running = w.watcher && w.watcher.running;
      const mode = running ? (w.watcher.mode || 'connecting') : 'not running';
      const feedback = h('div', { 'aria-live': 'polite' });
      const toggle = h('button', { type: 'button', class: w.installed ? '' : 'primary', onclick: async () => {
        toggle.disabled = true; replace(feedback);
        try { draw(await api(w.installed ? 'DELETE' : 'POST', `/projects/${project.id}/schema-watcher`)); }
        catch (error) { replace(feedback, errorBox(error)); toggle.disabled = false; }
      } }, w.installed ? 'Uninstall event triggers' : 'Install event triggers');
      replace(panel, h('h2', {}, 'Schema watcher'),
        h('dl', { class: 'kv' },
          h('dt', {}, 'Event triggers'), h('dd', { id: 'watcher-installed' }, w.installed
            ? h('span', { class: 'badge ok' }, 'installed') : h('span', { class: 'badge' }, 'not installed')),
          h('dt', {}, 'Watcher'), h('dd', { id: 'watcher-mode' }, h('span', { class: `badge ${running ? 'info' : ''}` }, mode),
            w.watcher && w.watcher.last_error ? h('span', { class: 'muted' }, ` ${w.watcher.last_error}`) : null)),
        h('p', { class: 'muted small' }, w.installed
          ? 'Changes are noticed at once (LISTEN). Uninstalling falls back to polling the catalog.'
          : 'Without event triggers Dbify polls the catalog. Installing them (needs a role allowed to create event triggers, usually a superuser) makes changes visible at once.'),
        feedback, h('div', { class: 'actions' }, toggle));
    };
    draw(watcher);
    return panel;
  }
  async function schemaChangesScreen(id, projectLoad) {
    const [project, page, status, watcher] = await Promise.all([
      projectLoad,
      api('GET', `/projects/${id}/schema-changes?limit=100`),
      optional(api('GET', `/projects/${id}/status`)),
      optional(api('GET', `/projects/${id}/schema-watcher`)),
    ]);
    const head = [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Schema changes'),
      h('p', { class: 'muted' }, 'Dbify watches the database and reloads the API when its schema changes. Breaking changes are highlighted.')),
    h('div', { class: 'muted small' }, 'Schema loaded at ', fmtTime(status.schema_loaded_at))), watcherPanel(project, watcher)];
    if (!page.items.length) return [head, h('div', { class: 'panel' }, emptyState('No schema changes yet', 'When someone alters a table, view or function, the change appears here with its diff.'))];
    return [head, h('p', { class: 'muted' }, `${fmtNum(page.total)} change sets`), h('ol', { class: 'timeline panel' }, page.items.map((c) => h('li', { class: c.breaking ? 'breaking' : '' },
      h('div', {}, h('strong', {}, fmtTime(c.detected_at)), ' ',
        c.breaking ? h('span', { class: 'badge bad' }, `${c.breaking} breaking`) : h('span', { class: 'badge ok' }, 'non-breaking'), ' ',
        h('span', { class: 'muted small' }, `detected by ${c.detected_by} · ${c.changes.length} change${c.changes.length === 1 ? '' : 's'}`)),
      c.changes.map((x) => h('div', { class: `change ${x.breaking ? 'breaking' : ''}` },
        h('span', { class: `badge ${x.breaking ? 'bad' : 'info'}` }, x.kind.replaceAll('_', ' ')),
        h('span', {}, h('code', {}, x.subject),
          x.before !== null && x.before !== undefined ? h('div', { class: 'mono small diff-before' }, `− ${x.before}`) : null,
          x.after !== null && x.after !== undefined ? h('div', { class: 'mono small diff-after' }, `+ ${x.after}`) : null))))))];
  }

  // ---- Settings ------------------------------------------------------------------------
  function settingsScreen(project) {
    const c = project.config;
    const feedback = h('div', { 'aria-live': 'polite' });
    const maxRows = h('input', { type: 'number', min: '1', name: 'max_rows', value: c.max_rows === null ? '' : String(c.max_rows), placeholder: 'no limit' });
    const timeout = h('input', { type: 'number', min: '0', name: 'statement_timeout_ms', value: String(c.statement_timeout_ms) });
    const pool = h('input', { type: 'number', min: '1', max: '100', name: 'pool_size', value: String(c.pool_size) });
    const cors = h('input', { name: 'cors_origins', value: c.cors_origins.join(', ') });
    const unfiltered = h('input', { type: 'checkbox', name: 'allow_unfiltered_writes', checked: c.allow_unfiltered_writes });
    const anonRole = h('input', { name: 'anon_role', value: c.anon_role || '', placeholder: '(read-only, connecting role)' });
    // Rate limits: empty means the instance's default (sent as null, which clears it).
    const rate = (field, step) => h('input', { type: 'number', min: step, step, name: field, value: c[field] === null ? '' : String(c[field]), placeholder: 'instance default' });
    const perKey = rate('rate_limit_per_key', '0.1');
    const perIp = rate('rate_limit_per_ip', '0.1');
    const burst = rate('rate_limit_burst', '1');
    // Empty: the instance's analytics.retention_days (the API refuses more than that).
    const logDays = h('input', { type: 'number', min: '1', step: '1', name: 'log_retention_days', value: c.log_retention_days == null ? '' : String(c.log_retention_days), placeholder: 'instance default' });
    const numberOrNull = (input) => (input.value ? Number(input.value) : null);
    const name = h('input', { name: 'name', value: project.name, required: true });
    const form = h('form', { class: 'stack panel', onsubmit: async (event) => {
      event.preventDefault(); replace(feedback);
      try {
        await api('PATCH', `/projects/${project.id}`, {
          name: name.value.trim(), max_rows: maxRows.value ? Number(maxRows.value) : null,
          statement_timeout_ms: Number(timeout.value), pool_size: Number(pool.value),
          cors_origins: cors.value.split(',').map((s) => s.trim()).filter(Boolean),
          allow_unfiltered_writes: unfiltered.checked, anon_role: anonRole.value.trim() || null,
          rate_limit_per_key: numberOrNull(perKey), rate_limit_per_ip: numberOrNull(perIp), rate_limit_burst: numberOrNull(burst),
          log_retention_days: numberOrNull(logDays),
        });
        replace(feedback, h('div', { class: 'alert ok' }, 'Saved.'));
      } catch (error) { replace(feedback, errorBox(error)); }
    } },
    h('h2', {}, 'Data API'),
    h('label', {}, 'Project name', name),
    h('label', {}, 'Max rows per read', h('span', { class: 'hint' }, 'Empty: no limit'), maxRows),
    h('label', {}, 'Statement timeout (ms)', h('span', { class: 'hint' }, '0 disables'), timeout),
    h('label', {}, 'Connection pool size', pool),
    h('label', {}, 'CORS origins', h('span', { class: 'hint' }, 'Comma-separated; * allows any'), cors),
    h('label', {}, 'Role of the anon key', anonRole),
    h('label', { class: 'inline' }, h('span', {}, unfiltered, ' Allow PATCH and DELETE without a filter')),
    h('h2', {}, 'Rate limits'),
    h('div', { class: 'inline' },
      h('label', {}, 'Per key (requests/s)', h('span', { class: 'hint' }, 'Empty: instance default'), perKey),
      h('label', {}, 'Per client IP (requests/s)', h('span', { class: 'hint' }, 'Empty: instance default'), perIp),
      h('label', {}, 'Burst (requests)', h('span', { class: 'hint' }, 'Token bucket size'), burst)),
    h('h2', {}, 'Request logs'),
    h('label', {}, 'Keep logs for (days)', h('span', { class: 'hint' }, 'Empty: instance default; older logs are deleted hourly'), logDays),
    h('p', { class: 'muted small' }, 'Email notifications (schema changes) are chosen by each member on their ',
      h('a', { href: '#/account' }, 'account page'), '.'),
    feedback, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save settings')));
    const danger = h('div', { class: 'panel' }, h('h2', {}, 'Danger zone'),
      h('p', { class: 'muted' }, 'Deleting the project revokes its keys and stops its API. The database itself is not touched.'),
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!confirm(`Delete project “${project.name}”? This cannot be undone.`)) return;
        try { await api('DELETE', `/projects/${project.id}`); location.hash = '#/projects'; } catch (error) { append(danger, errorBox(error)); }
      } }, 'Delete project'));
    return [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Settings'), h('p', { class: 'muted' }, 'Limits and behaviour of this project’s data API.'))),
      form, danger];
  }

  // ---- Account ---------------------------------------------------------------------------
  const SCHEMA_CHANGE_EMAILS = [
    ['owned', 'Projects I own', 'The default.'],
    ['all', 'Every project I am a member of', null],
    ['none', 'None', 'No schema-change email at all.'],
  ];
  function notificationsForm(preferences) {
    const note = h('div', { 'aria-live': 'polite' });
    const radios = SCHEMA_CHANGE_EMAILS.map(([value]) => h('input', { type: 'radio', name: 'schema_changes', value,
      checked: preferences.schema_changes === value, onchange: () => replace(note) }));
    return h('form', { class: 'stack', onsubmit: async (event) => {
      event.preventDefault(); replace(note);
      const chosen = radios.find((r) => r.checked);
      try {
        await api('PUT', '/users/me/notifications', { schema_changes: chosen ? chosen.value : 'owned' });
        replace(note, h('div', { class: 'alert ok', role: 'status' }, 'Notification preferences saved.'));
      } catch (error) { replace(note, errorBox(error)); }
    } },
    h('fieldset', { class: 'choices' }, h('legend', {}, 'Email me when a project’s schema changes, for'),
      SCHEMA_CHANGE_EMAILS.map(([, label, hint], i) => h('label', { class: 'inline' },
        h('span', {}, radios[i], ' ', label, hint ? h('span', { class: 'hint' }, ` ${hint}`) : null)))),
    note, h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Save notifications')));
  }
  async function accountScreen() {
    renderCrumbs('Account');
    const tokens = h('tbody');
    const shown = h('div', { 'aria-live': 'polite' });
    async function refresh() {
      const items = await api('GET', '/users/me/tokens');
      replace(tokens, items.length ? items.map((t) => h('tr', {}, h('td', {}, t.name), h('td', { class: 'mono' }, `${t.prefix}…`),
        h('td', { class: 'muted' }, fmtTime(t.created_at)), h('td', { class: 'muted' }, t.expires_at ? fmtTime(t.expires_at) : 'never'),
        h('td', { class: 'muted' }, t.last_used_at ? fmtTime(t.last_used_at) : 'never'),
        h('td', {}, h('button', { type: 'button', class: 'small danger', onclick: async () => {
          if (!confirm(`Delete token “${t.name}”?`)) return;
          await api('DELETE', `/users/me/tokens/${t.id}`); refresh();
        } }, 'Delete'))))
        : h('tr', {}, h('td', { colspan: '6' }, emptyState('No tokens', 'Tokens let scripts and the dbify CLI use the management API.'))));
    }
    // The user, their email preferences and their tokens, in one round trip.
    const [user, preferences] = await Promise.all([api('GET', '/users/me'), api('GET', '/users/me/notifications'), refresh()]);
    const tokenName = h('input', { name: 'token-name', required: true, placeholder: 'ci' });
    const tokenForm = h('form', { class: 'inline', onsubmit: async (event) => {
      event.preventDefault();
      try {
        const created = await api('POST', '/users/me/tokens', { name: tokenName.value.trim() });
        tokenName.value = ''; await refresh();
        replace(shown, h('div', { class: 'alert warn' }, h('strong', {}, 'Copy this token now; it is shown only once.')), copyField(created.token, 'personal access token'),
          codeBlock(`curl -H "Authorization: Bearer ${created.token}" "${location.origin}/api/v1/projects"`, 'curl example'));
      } catch (error) { replace(shown, errorBox(error)); }
    } }, h('label', {}, 'Token name', tokenName), h('button', { type: 'submit', class: 'primary' }, 'Create token'));
    const current = h('input', { type: 'password', name: 'current_password', required: true, autocomplete: 'current-password' });
    const next = h('input', { type: 'password', name: 'new_password', required: true, minlength: '8', autocomplete: 'new-password' });
    const passwordNote = h('div', { 'aria-live': 'polite' });
    const passwordForm = h('form', { class: 'stack', onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api('POST', '/users/me/password', { current_password: current.value, new_password: next.value }, { allow401: true });
        current.value = ''; next.value = ''; replace(passwordNote, h('div', { class: 'alert ok' }, 'Password changed.'));
      } catch (error) { replace(passwordNote, errorBox(error)); }
    } }, h('label', {}, 'Current password', current), h('label', {}, 'New password', h('span', { class: 'hint' }, 'At least 8 characters'), next),
    passwordNote, h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Change password')));
    return [h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Account'), h('p', { class: 'muted' }, user.email,
      user.is_admin ? [' · ', h('span', { class: 'badge info' }, 'instance admin')] : null))),
    h('div', { class: 'two-col' },
      h('section', { class: 'panel' }, h('h2', {}, 'Password'), passwordForm),
      h('section', { class: 'panel' }, h('h2', {}, 'Email notifications'), notificationsForm(preferences))),
    h('section', { class: 'panel' }, h('h2', {}, 'Personal access tokens'), tokenForm, shown),
    h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Personal access tokens' }, h('thead', {}, h('tr', {},
      h('th', {}, 'Name'), h('th', {}, 'Prefix'), h('th', {}, 'Created'), h('th', {}, 'Expires'), h('th', {}, 'Last used'), h('th', {}, ''))), tokens))];
  }

  // ---- Router ------------------------------------------------------------------------------
  async function projectScreen(rawId, section, rest) {
    // The project and the screen's own data are fetched at the same time: screens that
    // take (id, projectLoad) start their requests with the ID from the URL.
    const id = encodeURIComponent(decodeURIComponent(rawId));
    const projectLoad = api('GET', `/projects/${id}`);
    const renderId = state.renderId;
    projectLoad.then((project) => {
      if (renderId !== state.renderId) return;
      const label = (SECTIONS.find(([key]) => key === (section || '')) || [null, section])[1];
      renderCrumbs(['Projects', '#/projects'], [project.name, `#/p/${project.id}`], label);
      renderSidebar(project, section || '');
    }, () => {});
    switch (section || '') {
      case '': return overviewScreen(id, projectLoad);
      case 'keys': return keysScreen(id, projectLoad);
      case 'explorer': return explorerScreen(id, projectLoad, rest ? decodeURIComponent(rest) : '');
      case 'logs': return logsScreen(id, projectLoad);
      case 'analytics': return analyticsScreen(id, projectLoad, rest);
      case 'schema': return schemaChangesScreen(id, projectLoad);
      default: break;
    }
    const project = await projectLoad;
    if (section === 'docs') return docsScreen(project);
    if (section === 'settings') return settingsScreen(project);
    if (EXTRA_SCREENS[section]) return EXTRA_SCREENS[section](project, rest);
    return emptyState('Not found', 'There is no such page.');
  }
  async function route(hash) {
    let m;
    if (hash === '#/sign-in') return authForm('in');
    if (hash === '#/sign-up') return authForm('up');
    if (hash === '#/projects/new') return newProjectScreen();
    if (hash === '#/account') return accountScreen();
    if ((m = hash.match(/^#\/p\/([^/]+)(?:\/([a-z-]+))?(?:\/(.+))?$/))) return projectScreen(m[1], m[2], m[3]);
    return projectsScreen();
  }
  async function render() {
    const id = ++state.renderId;
    for (const fn of state.cleanups.splice(0)) { try { fn(); } catch (_) { /* already gone */ } }
    closeDrawer();
    const hash = location.hash || '#/projects';
    const isPublic = hash === '#/sign-in' || hash === '#/sign-up';
    // Who is signed in is asked at the same time as the screen's data, not before it:
    // one round trip less on a page load (a signed-out screen's calls get 401s, ignored).
    const signedIn = !state.user && !isPublic ? optional(api('GET', '/users/me', undefined, { allow401: true })) : null;
    if (isPublic) { renderSidebar(null); renderCrumbs(); }
    else if (!hash.startsWith('#/p/')) renderSidebar(null);
    main.setAttribute('aria-busy', 'true');
    const screen = route(hash).then((content) => ({ content }), (error) => ({ error }));
    if (signedIn) {
      const me = await signedIn;
      if (id !== state.renderId) return;
      if (me.error) { location.hash = '#/sign-in'; return; }
      state.user = me; renderAccount();
    }
    let { content, error } = await screen;
    if (error) {
      if (error.status === 401) return;
      content = [h('h1', {}, 'Could not load this page'), errorBox(error)];
    }
    if (id !== state.renderId) return;
    replace(main, content);
    main.removeAttribute('aria-busy');
    const title = main.querySelector('h1');
    document.title = title ? `${title.textContent} · Dbify` : 'Dbify';
  }
  // Screens in other files (project-tools.js) register here before the first render.
  window.Dbify = {
    h, append, replace, api, optional, errorBox, emptyState, copyField, codeBlock, toast,
    fmtTime, fmtNum, fmtMs, statusClass, onCleanup, render, sections: SECTIONS, screens: EXTRA_SCREENS,
  };
  window.addEventListener('hashchange', () => { render(); main.focus({ preventScroll: true }); });
  document.addEventListener('DOMContentLoaded', () => render());
})();

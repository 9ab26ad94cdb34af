// SPDX-License-Identifier: GPL-3.0-or-later
//
// `/`: the organization's PRDs (title, updated, who is in it now), create,
// import a Markdown file, rename / archive / delete where the hub allows it
// (PATCH and DELETE /api/prds/{id}; hidden when the hub answers 404/405).
// The list is read again every 15 s and after each change; a row that did
// not change is the same node as before (its control keeps the focus, and
// a screen reader hears nothing). When the focused control's row changed,
// the focus goes to the same control of its new row (found by PRD id and
// action), or to the next row (the status line after the last) when its
// row left.

import { activityFeed } from './notify.js';
import { clear, formatTime, h, uid } from './dom.js';

function titleFromMarkdown(text, fileName) {
  const m = /^#\s+(.+?)\s*#*\s*$/m.exec(text);
  const title = (m ? m[1] : fileName.replace(/\.(md|markdown|txt)$/i, '')).trim();
  return title.slice(0, 200) || 'Imported PRD';
}

export async function listPage(root, { api, session, notifications, announce }) {
  const canCreate = session.role !== 'viewer';
  // tabindex -1: focus lands here when the row it was on has left the list.
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', tabindex: '-1' });
  const tbody = h('tbody');
  const table = h('table', { class: 'prd-list' },
    h('caption', {}, `PRDs of ${session.org}`),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Title'), h('th', { scope: 'col' }, 'Version'),
      h('th', { scope: 'col' }, 'Updated'), h('th', { scope: 'col' }, 'In it now'),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    tbody);
  let manage = { patch: null, del: null }; // null: unknown yet; false: the hub has no such route

  const titleId = uid('new-title');
  const createForm = h('form', { class: 'inline-form', 'aria-label': 'New PRD' },
    h('label', { for: titleId }, 'New PRD title'),
    h('input', { id: titleId, name: 'title', required: true, maxlength: 200, autocomplete: 'off' }),
    h('button', { type: 'submit' }, 'Create'));
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = createForm.elements.title.value.trim();
    if (!title) return;
    try {
      const prd = await api.createPrd(title);
      window.location.assign(`/prds/${encodeURIComponent(prd.id)}`);
    } catch (err) {
      announce(status, `Could not create the PRD: ${err.message}`, true);
    }
  });

  const fileId = uid('import');
  const importInput = h('input', { id: fileId, type: 'file', accept: '.md,.markdown,.txt,text/markdown,text/plain' });
  importInput.addEventListener('change', async () => {
    const file = importInput.files?.[0];
    if (!file) return;
    try {
      const text = await file.text();
      const prd = await api.createPrd(titleFromMarkdown(text, file.name), text);
      window.location.assign(`/prds/${encodeURIComponent(prd.id)}`);
    } catch (err) {
      announce(status, `Could not import ${file.name}: ${err.message}`, true);
    } finally {
      importInput.value = '';
    }
  });
  const importForm = h('div', { class: 'inline-form' },
    h('label', { for: fileId }, 'Import a Markdown file'), importInput);
  const archivedId = uid('show-archived');
  const showArchived = h('input', { id: archivedId, type: 'checkbox' });
  showArchived.addEventListener('change', () => load());
  const archivedToggle = h('div', { class: 'inline-form' }, showArchived, h('label', { for: archivedId }, 'Show archived PRDs'));

  const activity = h('ul', { class: 'activity-list', 'aria-label': 'Recent activity' });
  clear(root,
    h('div', { class: 'list-layout' },
      h('section', { class: 'list-main', 'aria-labelledby': 'list-heading' },
        h('h1', { id: 'list-heading' }, 'PRDs'),
        h('div', { class: 'toolbar' }, canCreate ? [createForm, importForm] : null, archivedToggle),
        status, table),
      h('aside', { class: 'list-side', 'aria-labelledby': 'activity-heading' },
        h('h2', { id: 'activity-heading' }, 'Activity'), activity)));
  activityFeed(api, session, notifications, activity);

  async function rename(prd) {
    const next = window.prompt('New title', prd.title);
    if (next === null || next.trim() === '' || next.trim() === prd.title) return;
    await manageCall(() => api.updatePrd(prd.id, { title: next.trim() }), 'patch', `Renamed to “${next.trim()}”.`);
  }

  async function archive(prd) {
    await manageCall(() => api.updatePrd(prd.id, { archived: !prd.archived }), 'patch',
      prd.archived ? `“${prd.title}” is back from the archive.` : `“${prd.title}” is archived.`);
  }

  async function remove(prd) {
    if (!window.confirm(`Delete “${prd.title}” for everyone? This cannot be undone.`)) return;
    await manageCall(() => api.deletePrd(prd.id), 'del', `“${prd.title}” is deleted.`);
  }

  async function manageCall(fn, kind, done) {
    try {
      await fn();
      announce(status, done);
    } catch (err) {
      if (err.status === 404 && err.code === 'NOT_FOUND' || err.status === 405) {
        manage[kind] = false;
        announce(status, 'This hub does not offer that yet.', true);
      } else {
        announce(status, err.message, true);
      }
    }
    await load();
  }

  function row(prd) {
    const users = Array.isArray(prd.activeUsers) ? prd.activeUsers : [];
    const actions = [];
    if (canCreate && manage.patch !== false) {
      actions.push(h('button', { type: 'button', class: 'small', onclick: () => rename(prd), 'aria-label': `Rename ${prd.title}`, dataset: { action: 'rename' } }, 'Rename'));
      actions.push(h('button', { type: 'button', class: 'small', onclick: () => archive(prd), 'aria-label': `${prd.archived ? 'Unarchive' : 'Archive'} ${prd.title}`, dataset: { action: 'archive' } }, prd.archived ? 'Unarchive' : 'Archive'));
    }
    if (canCreate && manage.del !== false)
      actions.push(h('button', { type: 'button', class: 'small danger', onclick: () => remove(prd), 'aria-label': `Delete ${prd.title}`, dataset: { action: 'delete' } }, 'Delete'));
    // data-label: the column's name, shown before each cell on narrow screens (style.css).
    return h('tr', { class: prd.archived ? 'archived' : null, dataset: { prdId: prd.id } },
      h('th', { scope: 'row' }, h('a', { href: `/prds/${encodeURIComponent(prd.id)}`, dataset: { action: 'open' } }, prd.title),
        prd.archived ? h('span', { class: 'badge' }, 'archived') : null),
      h('td', { dataset: { label: 'Version' } }, prd.version ?? ''),
      h('td', { dataset: { label: 'Updated' } }, h('time', { datetime: prd.updatedAt }, formatTime(prd.updatedAt))),
      h('td', { class: 'who', dataset: { label: 'In it now' } }, users.length === 0 ? h('span', { class: 'muted' }, '—')
        : users.map((u) => h('span', { class: 'who-chip', title: u.status ?? '' }, u.name ?? u.userId))),
      h('td', { class: 'actions' }, actions));
  }

  // The control of a row that has keyboard focus: its PRD, its action, and
  // the PRDs of the rows after it (where focus goes when its row leaves).
  function focusedControl() {
    const el = document.activeElement;
    const tr = el && tbody.contains(el) ? el.closest('tr[data-prd-id]') : null;
    if (!tr) return null;
    const rows = [...tbody.querySelectorAll('tr[data-prd-id]')];
    return {
      prdId: tr.dataset.prdId,
      action: el.closest('[data-action]')?.dataset.action ?? 'open',
      after: rows.slice(rows.indexOf(tr) + 1).map((r) => r.dataset.prdId),
    };
  }

  function rowOf(prdId) {
    return [...tbody.querySelectorAll('tr[data-prd-id]')].find((r) => r.dataset.prdId === prdId) ?? null;
  }

  function restoreFocus({ prdId, action, after }) {
    const control = (tr) => tr.querySelector(`[data-action="${action}"]`) ?? tr.querySelector('[data-action="open"]');
    const same = rowOf(prdId);
    if (same) {
      control(same)?.focus();
      return;
    }
    // Its row left (archived, deleted): the next row that is still there.
    for (const id of after) {
      const next = rowOf(id);
      if (next) {
        control(next)?.focus();
        return;
      }
    }
    status.focus();
  }

  // Puts @rows in the table, keeping each row that is drawn the same as
  // before (the same node: a control that has the focus keeps it, and a
  // screen reader hears nothing); rows move only when out of place.
  function render(rows) {
    const kept = new Map([...tbody.children].map((tr) => [tr.outerHTML, tr]));
    let prev = null;
    for (const fresh of rows) {
      const tr = kept.get(fresh.outerHTML) ?? fresh;
      kept.delete(fresh.outerHTML);
      const at = prev ? prev.nextElementSibling : tbody.firstElementChild;
      if (at !== tr) tbody.insertBefore(tr, at);
      prev = tr;
    }
    while (tbody.lastElementChild && tbody.lastElementChild !== prev) tbody.lastElementChild.remove();
  }

  async function load() {
    try {
      const { prds } = await api.listPrds(showArchived.checked ? 'all' : undefined);
      if (manage.patch === null && prds.length > 0 && canCreate) {
        const allowed = await api.allowedMethods(prds[0].id).catch(() => null);
        if (allowed) {
          manage = { patch: allowed.has('PATCH'), del: allowed.has('DELETE') };
        }
      }
      prds.sort((a, b) => String(b.updatedAt).localeCompare(String(a.updatedAt)));
      // Who is in each PRD now (GET /api/presence, 200 ids a call).
      for (let i = 0; i < prds.length; i += 200) {
        const chunk = prds.slice(i, i + 200);
        const present = await api.presence(chunk.map((p) => p.id)).catch(() => ({ prds: {} }));
        for (const p of chunk) p.activeUsers = present.prds?.[p.id] ?? [];
      }
      const focus = focusedControl();
      const focused = document.activeElement;
      render(prds.length === 0
        ? [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No PRDs yet.'))]
        : prds.map(row));
      // Focus given again only when its control is no longer on the page
      // (its row changed or left), or was moved (which blurs it).
      if (focus && (!focused.isConnected || document.activeElement !== focused)) {
        if (focused.isConnected) focused.focus();
        else restoreFocus(focus);
      }
    } catch (err) {
      announce(status, `Could not read the PRDs: ${err.message}`, true);
    }
  }
  await load();
  const timer = setInterval(load, 15000);
  return () => clearInterval(timer);
}

/* Dify Log Vault admin page: progressive enhancement only; every form also works without this file. */
(function () {
  'use strict';

  function text(el, value) { if (el) el.textContent = value; }
  function fmt(n) { return Number(n || 0).toLocaleString('en-US'); }

  /* ---------- live backup progress ---------- */

  var STATUS_LABEL = { skipped: 'Skipped', running: 'Running', pending: 'Waiting', succeeded: 'Succeeded', partial: 'Partly failed', failed: 'Failed', interrupted: 'Interrupted' };

  function percentOf(p, done) {
    if (done) return 100;
    if (!p.seen) return 0;
    return Math.max(0, Math.min(99, Math.floor(((p.saved + p.unchanged + p.failed) / p.seen) * 100)));
  }

  function totalsOf(perSource) {
    var t = { seen: 0, saved: 0, unchanged: 0, failed: 0 };
    Object.keys(perSource).forEach(function (k) {
      var p = perSource[k];
      t.seen += p.seen || 0; t.saved += p.saved || 0; t.unchanged += p.unchanged || 0; t.failed += p.failed || 0;
    });
    return t;
  }

  function countsText(p) {
    return fmt(p.seen) + ' seen · ' + fmt(p.saved) + ' saved · ' + fmt(p.unchanged) + ' unchanged · ' + fmt(p.failed) + ' failed';
  }

  function render(el, p, status, done, message) {
    var pct = percentOf(p, done);
    var fill = el.querySelector('.bar-fill');
    var bar = el.querySelector('[role="progressbar"]');
    if (fill) { fill.style.width = pct + '%'; fill.className = 'bar-fill status-' + status; }
    if (bar) bar.setAttribute('aria-valuenow', String(pct));
    text(el.querySelector('[data-role="percent"]'), pct + ' %');
    text(el.querySelector('[data-role="counts"]'), countsText(p));
    text(el.querySelector('.job-progress-label'), status === 'running' ? 'Backing up…' : STATUS_LABEL[status] || status);
    if (message !== undefined) text(el.querySelector('[data-role="message"]'), message);
    el.setAttribute('data-status', status);
  }

  /* a refusal because another backup holds the lock is shown as skipped, not failed (as the server renders it) */
  var LOCKED = 'BackupLockedError';
  function sourceStatus(s) { return s.status === 'failed' && s.error_kind === LOCKED ? 'skipped' : s.status; }
  function jobStatus(job) {
    var sources = job.sources || [];
    var refused = sources.length > 0 && sources.every(function (s) { return s.error_kind === LOCKED; });
    return job.status === 'failed' && refused ? 'skipped' : job.status;
  }

  /* the job's summary, then why each failed source failed (Dify unreachable, credentials refused…) */
  function describe(job) {
    var reasons = (job.sources || []).filter(function (s) { return s.error; }).map(function (s) { return s.error + '.'; });
    return [job.message + '.'].concat(reasons).join(' ');
  }

  function follow(el, onDone) {
    var id = el.getAttribute('data-job-id');
    if (!id || !window.EventSource) return;
    var perSource = {};
    var finished = false;
    var source = new EventSource('/api/jobs/' + encodeURIComponent(id) + '/events');
    function handle(event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (!data || typeof data !== 'object') return;
      var key = function (s) { return (s.organization_id || '') + '/' + s.app_id; };
      if (data.type === 'progress') {
        perSource[key(data)] = data.progress;
        render(el, totalsOf(perSource), 'running', false);
      } else if (data.type === 'source' && data.source) {
        perSource[key(data.source)] = data.source.progress;
        render(el, totalsOf(perSource), 'running', false);
      } else if (data.type === 'done' && data.job) {
        finished = true;
        source.close();
        (data.job.sources || []).forEach(function (s) { perSource[key(s)] = s.progress; });
        render(el, totalsOf(perSource), jobStatus(data.job), true, describe(data.job));
        if (onDone) onDone(data.job);
      }
    }
    source.onmessage = handle;
    ['progress', 'source', 'done'].forEach(function (name) { source.addEventListener(name, handle); });
    source.onerror = function () {
      if (finished) return;
      // the server closes the stream after `done`; anything else: fall back to the job's state
      source.close();
      fetch('/api/jobs/' + encodeURIComponent(id), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (job) {
          if (!job || finished) return;
          if (job.status === 'running') { setTimeout(function () { follow(el, onDone); }, 2000); return; }
          finished = true;
          (job.sources || []).forEach(function (s) { perSource[key(s)] = s.progress; });
          render(el, totalsOf(perSource), jobStatus(job), true, describe(job));
          if (onDone) onDone(job);
        })
        .catch(function () { text(el.querySelector('[data-role="message"]'), 'Lost contact with the service; reload the page to see the result.'); });
    };
  }

  function refreshTotals() {
    fetch('/admin/totals', { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (t) {
        if (!t) return;
        Object.keys(t).forEach(function (k) { text(document.querySelector('[data-stat="' + k + '"]'), t[k]); });
      })
      .catch(function () { /* totals stay as they were */ });
  }

  function markSources(job) {
    (job.sources || []).forEach(function (s) {
      var card = document.querySelector('.source[data-source="' + CSS.escape((s.organization_id || '') + '/' + s.app_id) + '"]');
      var pill = card && card.querySelector('.source-head .pill');
      if (!pill) return;
      pill.textContent = STATUS_LABEL[sourceStatus(s)] || s.status;
      pill.className = 'pill pill-' + sourceStatus(s);
    });
  }

  function reloadCharts() {
    var container = document.querySelector('[data-charts]');
    if (container) loadCharts(container, container.getAttribute('data-query') || '');
  }

  function progressElement(jobId) {
    var wrap = document.createElement('div');
    wrap.className = 'job-progress';
    wrap.setAttribute('data-job-id', jobId);
    wrap.setAttribute('data-status', 'running');
    wrap.innerHTML =
      '<div class="job-progress-head"><span class="job-progress-label">Backing up…</span><span class="job-progress-value" data-role="percent">0 %</span></div>' +
      '<div class="bar" role="progressbar" aria-label="Backup progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span class="bar-fill status-running"></span></div>' +
      '<p class="job-progress-counts" data-role="counts"></p>' +
      '<p class="job-progress-message" data-role="message" aria-live="polite"></p>' +
      '<a class="small" data-role="details">Details</a>';
    wrap.querySelector('[data-role="details"]').setAttribute('href', '/admin/jobs/' + encodeURIComponent(jobId));
    return wrap;
  }

  function enhanceBackupForm(form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var button = form.querySelector('button[type="submit"]');
      var target = document.querySelector(form.getAttribute('data-target')) || form.parentNode;
      if (button) button.disabled = true;
      fetch(form.action, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        credentials: 'same-origin',
        body: new URLSearchParams(new FormData(form)).toString(),
      })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (!res.ok || !res.body.job_id) throw new Error((res.body && res.body.message) || 'The backup could not be started.');
          target.innerHTML = '';
          var el = progressElement(res.body.job_id);
          target.appendChild(el);
          follow(el, function (job) {
            if (button) button.disabled = false;
            markSources(job);
            refreshTotals();
            reloadCharts();
          });
        })
        .catch(function (e) {
          if (button) button.disabled = false;
          target.innerHTML = '';
          var p = document.createElement('p');
          p.className = 'alert alert-error small';
          p.setAttribute('role', 'alert');
          p.textContent = e.message;
          target.appendChild(p);
        });
    });
  }

  /* ---------- archive check (verify) ---------- */

  /* the count of files checked while the check runs, then the page again with its result */
  function followVerify(el) {
    var id = el.getAttribute('data-run-id');
    fetch('/admin/verify/' + encodeURIComponent(id), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (run) {
        if (!run) throw new Error('gone');
        if (run.status !== 'running') { window.location.reload(); return; }
        text(el.querySelector('[data-role="verify-checked"]'), fmt(run.checked));
        setTimeout(function () { followVerify(el); }, 1000);
      })
      .catch(function () { text(el.querySelector('[data-role="verify-checked"]'), 'Lost contact with the service; reload the page to see how many'); });
  }

  /* ---------- charts ---------- */

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (v && v.trim()) || fallback;
  }

  var charts = [];

  /* every day of the chosen range (up to a year), so quiet days show as zero rather than vanish */
  function rangeDays(query) {
    var params = new URLSearchParams(query);
    var start = Date.parse(params.get('start_date') || '');
    var end = Date.parse(params.get('end_date') || '');
    var out = [];
    if (isNaN(start) || isNaN(end) || end < start || end - start > 366 * 864e5) return out;
    for (var t = start; t <= end; t += 864e5) out.push(new Date(t).toISOString().slice(0, 10));
    return out;
  }

  function byDay(rows, query) {
    var map = {};
    rangeDays(query).forEach(function (d) { map[d] = { conversations: 0, messages: 0, tokens: 0, likes: 0, dislikes: 0 }; });
    rows.forEach(function (r) {
      var d = map[r.day] || (map[r.day] = { conversations: 0, messages: 0, tokens: 0, likes: 0, dislikes: 0 });
      d.conversations += r.conversations || 0; d.messages += r.messages || 0; d.tokens += r.tokens || 0;
      d.likes += r.likes || 0; d.dislikes += r.dislikes || 0;
    });
    var days = Object.keys(map).sort();
    return { days: days, values: days.map(function (d) { return map[d]; }) };
  }

  function drawCharts(container, stats, query) {
    var Chart = window.Chart;
    var status = container.parentNode.querySelector('[data-role="chart-status"]');
    if (!Chart) { text(status, 'Charts could not be loaded.'); return; }
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var grouped = byDay(stats.days || [], query);
    text(status, (stats.days || []).length ? '' : 'Nothing archived in this range yet.');
    var ink = cssVar('--muted', '#5d6878');
    var grid = cssVar('--line', '#e2e6ec');
    Chart.defaults.color = ink;
    Chart.defaults.borderColor = grid;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    var common = { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: 'bottom' } } };
    var labels = grouped.days.map(function (d) { return d.slice(5); });
    var pick = function (k) { return grouped.values.map(function (v) { return v[k]; }); };
    var accent = cssVar('--accent', '#2f6feb');
    charts.push(new Chart(document.getElementById('chart-activity'), {
      type: 'bar',
      data: { labels: labels, datasets: [
        { label: 'Conversations', data: pick('conversations'), backgroundColor: accent, borderRadius: 4 },
        { label: 'Messages', data: pick('messages'), backgroundColor: '#9db8f5', borderRadius: 4 },
      ] },
      options: Object.assign({}, common, { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }),
    }));
    charts.push(new Chart(document.getElementById('chart-tokens'), {
      type: 'line',
      data: { labels: labels, datasets: [{ label: 'Tokens', data: pick('tokens'), borderColor: '#7c4dff', backgroundColor: 'rgba(124,77,255,0.15)', fill: true, tension: 0.3, pointRadius: 3 }] },
      options: Object.assign({}, common, { scales: { y: { beginAtZero: true } } }),
    }));
    var totals = stats.totals || { likes: 0, dislikes: 0 };
    charts.push(new Chart(document.getElementById('chart-feedback'), {
      type: 'bar',
      data: { labels: labels, datasets: [
        { label: 'Likes (' + fmt(totals.likes) + ')', data: pick('likes'), backgroundColor: cssVar('--ok', '#1a7f4b'), borderRadius: 4 },
        { label: 'Dislikes (' + fmt(totals.dislikes) + ')', data: pick('dislikes'), backgroundColor: cssVar('--bad', '#b42318'), borderRadius: 4 },
      ] },
      options: Object.assign({}, common, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }),
    }));
  }

  function loadCharts(container, query) {
    var status = container.parentNode.querySelector('[data-role="chart-status"]');
    text(status, 'Loading…');
    fetch('/api/conversation-logs/stats' + (query ? '?' + query : ''), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) throw new Error([].concat(res.body && res.body.message || 'The statistics could not be loaded.').join(' '));
        drawCharts(container, res.body, query);
        container.setAttribute('data-drawn', 'true');
      })
      .catch(function (e) { text(status, e.message); });
  }

  function enhanceStatsForm(form, container) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, name) { if (value !== '') params.set(name, String(value)); });
      var query = statsQueryFrom(params);
      history.replaceState(null, '', '/admin' + (params.toString() ? '?' + params.toString() : ''));
      container.setAttribute('data-query', query);
      var q = new URLSearchParams(query);
      if (q.get('start_date') && q.get('end_date')) text(document.querySelector('[data-role="range-label"]'), q.get('start_date') + ' → ' + q.get('end_date'));
      loadCharts(container, query);
    });
  }

  /* the overview's `source` choice is `<organization_id>/<app_id>` */
  function statsQueryFrom(params) {
    var out = new URLSearchParams();
    if (params.get('start_date')) out.set('start_date', params.get('start_date'));
    if (params.get('end_date')) out.set('end_date', params.get('end_date'));
    var src = params.get('source');
    if (src) {
      var cut = src.indexOf('/');
      if (cut > 0) out.set('organization_id', src.slice(0, cut));
      out.set('app_id', src.slice(cut + 1));
    }
    return out.toString();
  }

  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('.job-progress[data-status="running"]'), function (el) { follow(el, refreshTotals); });
    Array.prototype.forEach.call(document.querySelectorAll('form[data-enhance="backup"]'), enhanceBackupForm);
    Array.prototype.forEach.call(document.querySelectorAll('[data-role="verify-run"][data-status="running"]'), followVerify);
    var container = document.querySelector('[data-charts]');
    if (container) {
      loadCharts(container, container.getAttribute('data-query') || '');
      var form = document.querySelector('form[data-enhance="stats"]');
      if (form) enhanceStatsForm(form, container);
    }
  });
})();

/* mezzo web UI: plain JavaScript, no framework, no network beyond the master.
 *
 * Model: `M` holds the cluster as the operator API describes it (v1 JSON):
 * agents, frameworks and tasks, filled by SUBSCRIBED and kept current by
 * TASK_ADDED / TASK_UPDATED / AGENT_* / FRAMEWORK_* events read from a
 * streaming fetch() of POST /api/v1 {"type":"SUBSCRIBE"} (RecordIO records:
 * "<length>\n<json>"). The stream reconnects by itself. Resource figures that
 * no event carries (used and offered per agent and framework) are sampled from
 * /master/state-summary every SAMPLE_MS and drawn as charts on <canvas>.
 *
 * Views are chosen by the URL fragment (#/agents, #/tasks/...), rendered as
 * HTML strings (every value escaped with esc()), and re-rendered when the
 * model changes, at most once per animation frame. */
'use strict';

const SAMPLE_MS = 2000;
const HISTORY = 90;            /* samples kept for the charts */
const TAIL_MS = 1000;          /* sandbox file tail period */
const TAIL_CHUNK = 65536;      /* bytes per /files/read */
const TAIL_KEEP = 200000;      /* characters kept in a tail pane */
const SCALARS = ['cpus', 'mem', 'disk', 'gpus'];
const TERMINAL = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR',
  'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

const M = {
  connected: false,
  master: null,
  agents: new Map(),        /* agent id -> GetAgents.Agent */
  removedAgents: new Map(), /* agent id -> last known agent */
  frameworks: new Map(),    /* framework id -> GetFrameworks.Framework */
  completedFrameworks: new Map(),
  tasks: new Map(),         /* framework id + '/' + task id -> Task */
  summary: null,            /* last /master/state-summary */
  roles: null,              /* last /master/roles */
  history: [],              /* [{t, total, used, offered}] */
  events: 0,
};

/* ------------------------------------------------------------- helpers */

function esc(v) {
  return String(v === undefined || v === null ? '' : v).replace(/[&<>"']/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
function idv(x) { return x && typeof x === 'object' ? x.value : x; }
function taskKey(t) { return idv(t.framework_id) + '/' + idv(t.task_id); }
function agentId(a) { return idv(a.agent_info && a.agent_info.id); }
function frameworkId(f) { return idv(f.framework_info && f.framework_info.id); }
function enc(s) { return encodeURIComponent(s); }

/* Scalar sums of a v1 Resource list: {cpus, mem, disk, gpus}. */
function scalars(list) {
  const out = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  for (const r of list || []) {
    if ((r.type || 'SCALAR') === 'SCALAR' && r.name in out) out[r.name] += (r.scalar && r.scalar.value) || 0;
  }
  return out;
}
function ports(list) {
  const parts = [];
  for (const r of list || []) {
    if (r.name === 'ports' && r.ranges) for (const g of r.ranges.range || []) parts.push(g.begin + '-' + g.end);
  }
  return parts.join(', ');
}
function fmtNum(v, unit) {
  if (unit === 'MB') {
    if (v >= 1024 * 1024) return (v / 1024 / 1024).toFixed(1) + ' TB';
    if (v >= 1024) return (v / 1024).toFixed(1) + ' GB';
    return Math.round(v) + ' MB';
  }
  return (Math.round(v * 100) / 100).toString();
}
function fmtRes(name, v) { return fmtNum(v || 0, name === 'mem' || name === 'disk' ? 'MB' : ''); }
function fmtTime(secs) {
  if (!secs) return '-';
  const d = new Date(secs * 1000);
  return d.toLocaleDateString() + ' ' + d.toLocaleTimeString();
}
function ago(secs) {
  if (!secs) return '';
  const s = Math.max(0, Date.now() / 1000 - secs);
  if (s < 60) return Math.floor(s) + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}
function nanos(t) { return t && t.nanoseconds ? Number(t.nanoseconds) / 1e9 : 0; }
function stateBadge(s) { return `<span class="state state-${esc(s)}">${esc(String(s).replace(/^TASK_/, ''))}</span>`; }
function bar(used, offered, total) {
  const u = total > 0 ? Math.min(100, 100 * used / total) : 0;
  const o = total > 0 ? Math.min(100 - u, 100 * offered / total) : 0;
  return `<div class="bar" title="used ${u.toFixed(0)}%, offered ${o.toFixed(0)}%">` +
    `<i class="used" style="width:${u}%"></i><i class="offered" style="left:${u}%;width:${o}%"></i></div>`;
}
function taskTimes(t) {
  const st = t.statuses || [];
  const first = st.length ? st[0].timestamp : 0;
  const last = st.length ? st[st.length - 1].timestamp : 0;
  return { first, last };
}
function agentState(a, id) {
  if (!a) return M.removedAgents.has(id) ? 'removed' : 'unknown';
  if (a.drain_info && a.drain_info.state) return 'draining';
  if (a.draining) return 'draining';
  if (a.deactivated) return 'deactivated';
  if (!a.active) return 'disconnected';
  return 'active';
}
function agentName(id) {
  const a = M.agents.get(id) || M.removedAgents.get(id);
  return a && a.agent_info ? a.agent_info.hostname + ':' + (a.agent_info.port || '') : id;
}
function frameworkName(id) {
  const f = M.frameworks.get(id) || M.completedFrameworks.get(id);
  return f && f.framework_info ? f.framework_info.name : id;
}
async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  const text = await r.text();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}
async function operatorCall(call) {
  const r = await fetch('/api/v1', {
    method: 'POST', body: JSON.stringify(call),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${r.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/* ------------------------------------------------------- event stream */

/* RecordIO decoder: feed() bytes, get back whole records as strings. */
class RecordIO {
  constructor() { this.buf = new Uint8Array(0); this.dec = new TextDecoder(); }
  feed(chunk) {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf); b.set(chunk, this.buf.length);
    this.buf = b;
    const out = [];
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) {
        if (this.buf.length > 20) throw new Error('RecordIO: bad length prefix');
        break;
      }
      const len = parseInt(this.dec.decode(this.buf.subarray(0, nl)), 10);
      if (!(len >= 0)) throw new Error('RecordIO: bad length prefix');
      if (this.buf.length < nl + 1 + len) break;
      out.push(this.dec.decode(this.buf.subarray(nl + 1, nl + 1 + len)));
      this.buf = this.buf.slice(nl + 1 + len);
    }
    return out;
  }
}

let retryMs = 500;
async function subscribe() {
  try {
    const r = await fetch('/api/v1', {
      method: 'POST', body: JSON.stringify({ type: 'SUBSCRIBE' }),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    });
    if (!r.ok || !r.body) throw new Error('SUBSCRIBE answered ' + r.status);
    const reader = r.body.getReader();
    const rio = new RecordIO();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const rec of rio.feed(value)) onEvent(JSON.parse(rec));
    }
    throw new Error('stream ended');
  } catch (e) {
    setConnected(false, e.message);
    setTimeout(subscribe, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  }
}

function setConnected(up, why) {
  M.connected = up;
  const el = document.getElementById('conn');
  el.className = 'conn ' + (up ? 'conn-up' : 'conn-down');
  el.textContent = up ? 'live' : 'reconnecting…';
  el.title = up ? 'operator event stream connected' : 'event stream: ' + (why || 'down');
}

function putTask(t) { M.tasks.set(taskKey(t), t); }

function onEvent(ev) {
  M.events++;
  switch (ev.type) {
    case 'SUBSCRIBED': {
      retryMs = 500;
      setConnected(true);
      const st = ev.subscribed.get_state || {};
      M.agents.clear(); M.frameworks.clear(); M.completedFrameworks.clear(); M.tasks.clear();
      for (const a of (st.get_agents || {}).agents || []) M.agents.set(agentId(a), a);
      const gf = st.get_frameworks || {};
      for (const f of gf.frameworks || []) M.frameworks.set(frameworkId(f), f);
      for (const f of gf.completed_frameworks || []) M.completedFrameworks.set(frameworkId(f), f);
      const gt = st.get_tasks || {};
      for (const k of ['tasks', 'unreachable_tasks', 'completed_tasks', 'orphan_tasks']) for (const t of gt[k] || []) putTask(t);
      break;
    }
    case 'TASK_ADDED': putTask(ev.task_added.task); break;
    case 'TASK_UPDATED': {
      const u = ev.task_updated;
      const key = idv(u.framework_id) + '/' + idv(u.status.task_id);
      let t = M.tasks.get(key);
      if (!t) {
        t = { task_id: u.status.task_id, framework_id: u.framework_id, agent_id: u.status.agent_id, name: idv(u.status.task_id), statuses: [] };
        M.tasks.set(key, t);
      }
      t.state = u.state;
      t.statuses = (t.statuses || []).concat([{ state: u.status.state, timestamp: u.status.timestamp }]);
      break;
    }
    case 'AGENT_ADDED': {
      const a = ev.agent_added.agent;
      M.agents.set(agentId(a), a);
      M.removedAgents.delete(agentId(a));
      break;
    }
    case 'AGENT_REMOVED': {
      const id = idv(ev.agent_removed.agent_id);
      if (M.agents.has(id)) M.removedAgents.set(id, M.agents.get(id));
      M.agents.delete(id);
      break;
    }
    case 'FRAMEWORK_ADDED':
    case 'FRAMEWORK_UPDATED': {
      const f = (ev.framework_added || ev.framework_updated).framework;
      M.frameworks.set(frameworkId(f), f);
      break;
    }
    case 'FRAMEWORK_REMOVED': {
      const id = idv(ev.framework_removed.framework_info.id);
      const f = M.frameworks.get(id) || { framework_info: ev.framework_removed.framework_info };
      f.active = false; f.connected = false;
      M.frameworks.delete(id);
      M.completedFrameworks.set(id, f);
      break;
    }
    case 'HEARTBEAT': return;
    default: return;
  }
  scheduleRender();
}

/* ------------------------------------------------------------ sampling */

async function sample() {
  try {
    const s = await getJSON('/master/state-summary');
    M.summary = s;
    /* Maintenance (drain, deactivation) has no event on the stream: take it from the summary. */
    for (const sl of s.slaves || []) {
      const a = M.agents.get(sl.id);
      if (!a) continue;
      if (sl.drain_info) a.drain_info = sl.drain_info;
      else delete a.drain_info;
      a.deactivated = !!sl.deactivated;
    }
    const total = { cpus: 0, mem: 0, disk: 0, gpus: 0 }, used = { ...total }, offered = { ...total };
    for (const a of s.slaves || []) {
      for (const k of SCALARS) {
        total[k] += (a.resources || {})[k] || 0;
        used[k] += (a.used_resources || {})[k] || 0;
        offered[k] += (a.offered_resources || {})[k] || 0;
      }
    }
    M.history.push({ t: Date.now() / 1000, total, used, offered });
    if (M.history.length > HISTORY) M.history.shift();
    if (!M.master) {
      M.master = s.hostname;
      document.getElementById('master-info').textContent = 'master ' + location.host + (s.cluster ? ' · ' + s.cluster : '');
    }
    if (route().name === 'roles') M.roles = await getJSON('/master/roles');
    scheduleRender();
  } catch (e) {
    /* the stream indicator shows connectivity; keep sampling */
  }
}

function summaryOf(kind, id) {
  if (!M.summary) return null;
  for (const x of M.summary[kind] || []) if (x.id === id) return x;
  return null;
}
function latest() { return M.history.length ? M.history[M.history.length - 1] : null; }

/* -------------------------------------------------------------- charts */

function drawChart(canvas, name) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 400, h = canvas.clientHeight || 160;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const pad = { l: 34, r: 8, t: 8, b: 18 };
  const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
  g.strokeStyle = '#dde1e8'; g.fillStyle = '#6b7385'; g.font = '10px sans-serif'; g.lineWidth = 1;
  for (let p = 0; p <= 100; p += 25) {
    const y = pad.t + ph - ph * p / 100;
    g.beginPath(); g.moveTo(pad.l, y); g.lineTo(pad.l + pw, y); g.stroke();
    g.fillText(p + '%', 4, y + 3);
  }
  const hist = M.history;
  if (!hist.length) return;
  const x = i => pad.l + (HISTORY <= 1 ? 0 : pw * (i + HISTORY - hist.length) / (HISTORY - 1));
  const series = (pick, color, fill) => {
    g.beginPath();
    hist.forEach((s, i) => {
      const tot = s.total[name];
      const v = tot > 0 ? Math.min(1, pick(s) / tot) : 0;
      const y = pad.t + ph - ph * v;
      if (i === 0) g.moveTo(x(i), y); else g.lineTo(x(i), y);
    });
    g.strokeStyle = color; g.lineWidth = 2; g.stroke();
    if (fill) {
      g.lineTo(x(hist.length - 1), pad.t + ph); g.lineTo(x(0), pad.t + ph); g.closePath();
      g.fillStyle = fill; g.fill();
    }
  };
  series(s => s.used[name] + s.offered[name], '#e39b2d', 'rgba(227,155,45,0.15)');
  series(s => s.used[name], '#2b5797', 'rgba(43,87,151,0.18)');
  g.fillStyle = '#6b7385';
  g.fillText(`${Math.round((HISTORY - 1) * SAMPLE_MS / 1000)}s`, pad.l, h - 4);
  g.fillText('now', pad.l + pw - 18, h - 4);
}

function drawCharts() {
  for (const c of document.querySelectorAll('canvas[data-chart]')) drawChart(c, c.dataset.chart);
}

/* -------------------------------------------------------------- routing */

function route() {
  const parts = (location.hash.replace(/^#\/?/, '') || '').split('/').map(decodeURIComponent);
  return { name: parts[0] || 'overview', args: parts.slice(1) };
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(false); });
}

let viewGen = 0; /* bumped on every route change: stops the tails of the previous view */

function render(routeChanged) {
  const r = route();
  for (const a of document.querySelectorAll('header nav a')) {
    const nav = a.dataset.nav;
    a.classList.toggle('active', nav === r.name || (nav === 'tasks' && r.name === 'sandbox'));
  }
  const views = { overview, agents, frameworks, tasks, roles, maintenance, sandbox, log: logView };
  const fn = views[r.name] || notFound;
  fn(r.args, routeChanged);
  drawCharts();
}

function setView(html) { document.getElementById('view').innerHTML = html; }
/* Replaces the inner HTML of one element of the view (keeps inputs elsewhere intact). */
function setPart(id, html) { const el = document.getElementById(id); if (el) el.innerHTML = html; }

function notFound() { setView('<h1>Not found</h1><p><a href="#/">Back to the overview</a></p>'); }

/* ------------------------------------------------------------ overview */

function taskCounts() {
  const counts = {};
  for (const t of M.tasks.values()) counts[t.state] = (counts[t.state] || 0) + 1;
  return counts;
}

function resourceTable() {
  const s = latest();
  let rows = '';
  for (const k of SCALARS) {
    const tot = s ? s.total[k] : 0, used = s ? s.used[k] : 0, off = s ? s.offered[k] : 0;
    const idle = Math.max(0, tot - used - off);
    rows += `<tr data-resource="${k}"><td>${k}</td><td class="num">${fmtRes(k, tot)}</td><td class="num">${fmtRes(k, used)}</td>` +
      `<td class="num">${fmtRes(k, off)}</td><td class="num">${fmtRes(k, idle)}</td><td>${bar(used, off, tot)}</td></tr>`;
  }
  return `<table><thead><tr><th>resource</th><th class="num">total</th><th class="num">used</th><th class="num">offered</th>` +
    `<th class="num">idle</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

function overview() {
  const counts = taskCounts();
  const agentStates = {};
  for (const [id, a] of M.agents) { const s = agentState(a, id); agentStates[s] = (agentStates[s] || 0) + 1; }
  const live = [...M.tasks.values()].filter(t => !TERMINAL.has(t.state)).length;
  const stateRows = Object.keys(counts).sort().map(s =>
    `<tr data-task-state="${esc(s)}"><td>${stateBadge(s)}</td><td class="num">${counts[s]}</td></tr>`).join('') ||
    '<tr><td class="muted" colspan="2">no tasks yet</td></tr>';
  const agentRows = [...M.agents].map(([id, a]) => {
    const tot = scalars(a.total_resources), sum = summaryOf('slaves', id);
    const used = sum ? sum.used_resources || {} : scalars(a.allocated_resources);
    return `<tr data-agent-id="${esc(id)}"><td><a href="#/agents/${enc(id)}">${esc(a.agent_info.hostname)}:${esc(a.agent_info.port)}</a></td>` +
      `<td>${stateBadge(agentState(a, id))}</td><td class="num">${fmtRes('cpus', used.cpus)} / ${fmtRes('cpus', tot.cpus)}</td>` +
      `<td class="num">${fmtRes('mem', used.mem)} / ${fmtRes('mem', tot.mem)}</td></tr>`;
  }).join('') || '<tr><td class="muted" colspan="4">no agents</td></tr>';
  const recent = [...M.tasks.values()].sort((a, b) => taskTimes(b).last - taskTimes(a).last).slice(0, 12);
  const taskRows = recent.map(t => taskRow(t, true)).join('') || '<tr><td class="muted" colspan="5">no tasks yet</td></tr>';
  setView(`
    <h1>Cluster overview</h1>
    <div class="grid">
      <div class="card"><div class="stats">
        <div><span>agents</span><b class="stat" id="n-agents">${M.agents.size}</b></div>
        <div><span>frameworks</span><b class="stat" id="n-frameworks">${M.frameworks.size}</b></div>
        <div><span>live tasks</span><b class="stat" id="n-tasks">${live}</b></div>
        <div><span>events</span><b class="stat">${M.events}</b></div>
      </div>
      <p class="muted">${Object.entries(agentStates).map(([s, n]) => `${n} ${esc(s)}`).join(', ') || 'no agents'} · ${M.completedFrameworks.size} completed frameworks</p></div>
      <div class="card"><h2>Resources</h2>${resourceTable()}</div>
    </div>
    <div class="grid">
      <div class="card"><h2>CPUs <span class="legend"><b style="background:#2b5797"></b>used<b style="background:#e39b2d"></b>used + offered</span></h2><canvas data-chart="cpus" id="chart-cpus"></canvas></div>
      <div class="card"><h2>Memory <span class="legend"><b style="background:#2b5797"></b>used<b style="background:#e39b2d"></b>used + offered</span></h2><canvas data-chart="mem" id="chart-mem"></canvas></div>
    </div>
    <div class="grid">
      <div class="card"><h2>Tasks by state</h2><table id="task-states"><tbody>${stateRows}</tbody></table></div>
      <div class="card"><h2>Agents</h2><table id="overview-agents"><thead><tr><th>agent</th><th>state</th><th class="num">cpus</th><th class="num">mem</th></tr></thead><tbody>${agentRows}</tbody></table></div>
    </div>
    <div class="card"><h2>Recent tasks</h2><table id="recent-tasks"><thead><tr><th>task</th><th>state</th><th>framework</th><th>agent</th><th>updated</th></tr></thead><tbody>${taskRows}</tbody></table></div>`);
}

/* -------------------------------------------------------------- agents */

function attrText(at) {
  if (at.text) return at.text.value;
  if (at.scalar) return at.scalar.value;
  if (at.ranges) return (at.ranges.range || []).map(r => r.begin + '-' + r.end).join(',');
  if (at.set) return (at.set.item || []).join(',');
  return '';
}

function agents(args) {
  if (args[0]) return agentDetail(args[0]);
  const rows = [...M.agents].map(([id, a]) => {
    const tot = scalars(a.total_resources), sum = summaryOf('slaves', id);
    const used = sum ? sum.used_resources || {} : scalars(a.allocated_resources);
    const off = sum ? sum.offered_resources || {} : scalars(a.offered_resources);
    const ntasks = [...M.tasks.values()].filter(t => idv(t.agent_id) === id && !TERMINAL.has(t.state)).length;
    return `<tr data-agent-id="${esc(id)}"><td class="mono"><a href="#/agents/${enc(id)}">${esc(id)}</a></td>` +
      `<td>${esc(a.agent_info.hostname)}:${esc(a.agent_info.port)}</td><td>${stateBadge(agentState(a, id))}</td>` +
      `<td class="num">${ntasks}</td>` +
      SCALARS.slice(0, 3).map(k => `<td class="num">${fmtRes(k, used[k])} / ${fmtRes(k, tot[k])}${bar(used[k] || 0, off[k] || 0, tot[k])}</td>`).join('') +
      `<td class="wrap">${(a.agent_info.attributes || []).map(at => esc(at.name + ':' + attrText(at))).join('; ')}</td></tr>`;
  }).join('') || '<tr><td colspan="8" class="muted">no agents registered</td></tr>';
  setView(`<h1>Agents</h1><div class="card"><table id="agents-table"><thead><tr><th>id</th><th>host</th><th>state</th>` +
    `<th class="num">tasks</th><th class="num">cpus</th><th class="num">mem</th><th class="num">disk</th><th>attributes</th></tr></thead><tbody>${rows}</tbody></table></div>`);
}

function agentDetail(id) {
  const a = M.agents.get(id) || M.removedAgents.get(id);
  if (!a) return setView(`<h1>Agent ${esc(id)}</h1><p class="error">Unknown agent.</p>`);
  const tot = scalars(a.total_resources), sum = summaryOf('slaves', id);
  const used = sum ? sum.used_resources || {} : scalars(a.allocated_resources);
  const off = sum ? sum.offered_resources || {} : scalars(a.offered_resources);
  const tasks = [...M.tasks.values()].filter(t => idv(t.agent_id) === id);
  const info = a.agent_info;
  setView(`<h1>Agent ${esc(info.hostname)}:${esc(info.port)} ${stateBadge(agentState(M.agents.get(id), id))}</h1>
    <div class="grid">
      <div class="card"><table class="kv"><tbody>
        <tr><td>id</td><td class="mono">${esc(id)}</td></tr>
        <tr><td>pid</td><td class="mono">${esc(a.pid)}</td></tr>
        <tr><td>version</td><td>${esc(a.version)}</td></tr>
        <tr><td>log</td><td><a id="agent-log-link" href="#/log/agent/${enc(id)}">the agent's log</a></td></tr>
        <tr><td>registered</td><td>${esc(fmtTime(nanos(a.registered_time)))}</td></tr>
        <tr><td>ports</td><td>${esc(ports(a.total_resources))}</td></tr>
        <tr><td>attributes</td><td>${(info.attributes || []).map(at => esc(at.name + ': ' + attrText(at))).join('<br>') || '<span class="muted">none</span>'}</td></tr>
      </tbody></table></div>
      <div class="card"><h2>Resources</h2><table><thead><tr><th></th><th class="num">total</th><th class="num">used</th><th class="num">offered</th><th></th></tr></thead><tbody>
        ${SCALARS.map(k => `<tr><td>${k}</td><td class="num">${fmtRes(k, tot[k])}</td><td class="num">${fmtRes(k, used[k])}</td><td class="num">${fmtRes(k, off[k])}</td><td>${bar(used[k] || 0, off[k] || 0, tot[k])}</td></tr>`).join('')}
      </tbody></table></div>
    </div>
    <div class="card"><h2>Tasks</h2>${taskTable(tasks, 'agent-tasks')}</div>`);
}

/* ---------------------------------------------------------- frameworks */

function dominantShare(used) {
  const s = latest();
  if (!s) return 0;
  let best = 0;
  for (const k of SCALARS) if (s.total[k] > 0) best = Math.max(best, (used[k] || 0) / s.total[k]);
  return best;
}

function frameworkUsed(id, f) {
  const sum = summaryOf('frameworks', id);
  return { used: sum ? sum.used_resources || {} : scalars(f.allocated_resources), offered: sum ? sum.offered_resources || {} : scalars(f.offered_resources) };
}

function fwRoles(f) {
  const fi = f.framework_info || {};
  return (fi.roles && fi.roles.length ? fi.roles : [fi.role || '*']).join(', ');
}

function frameworks(args) {
  if (args[0]) return frameworkDetail(args[0]);
  const row = (id, f, done) => {
    const { used } = frameworkUsed(id, f);
    const tasks = [...M.tasks.values()].filter(t => idv(t.framework_id) === id);
    const live = tasks.filter(t => !TERMINAL.has(t.state)).length;
    const state = done ? 'completed' : f.active ? 'active' : 'inactive';
    return `<tr data-framework-id="${esc(id)}"><td class="mono"><a href="#/frameworks/${enc(id)}">${esc(id)}</a></td>` +
      `<td>${esc(f.framework_info.name)}</td><td>${esc(fwRoles(f))}</td><td>${stateBadge(state)}</td>` +
      `<td class="num">${(dominantShare(used) * 100).toFixed(1)}%</td><td class="num">${live}</td><td class="num">${tasks.length - live}</td>` +
      `<td class="num">${(f.offers || []).length}</td><td class="num">${fmtRes('cpus', used.cpus)}</td><td class="num">${fmtRes('mem', used.mem)}</td>` +
      `<td>${esc(fmtTime(nanos(f.registered_time)))}</td></tr>`;
  };
  const rows = [...M.frameworks].map(([id, f]) => row(id, f, false)).join('') || '<tr><td colspan="11" class="muted">no frameworks</td></tr>';
  const done = [...M.completedFrameworks].map(([id, f]) => row(id, f, true)).join('') || '<tr><td colspan="11" class="muted">none</td></tr>';
  const head = '<thead><tr><th>id</th><th>name</th><th>roles</th><th>state</th><th class="num">share</th><th class="num">live tasks</th>' +
    '<th class="num">done</th><th class="num">offers</th><th class="num">cpus</th><th class="num">mem</th><th>registered</th></tr></thead>';
  setView(`<h1>Frameworks</h1><div class="card"><table id="frameworks-table">${head}<tbody>${rows}</tbody></table></div>
    <h1>Completed frameworks</h1><div class="card"><table id="completed-frameworks-table">${head}<tbody>${done}</tbody></table></div>`);
}

function frameworkDetail(id) {
  const done = M.completedFrameworks.has(id);
  const f = M.frameworks.get(id) || M.completedFrameworks.get(id);
  if (!f) return setView(`<h1>Framework ${esc(id)}</h1><p class="error">Unknown framework.</p>`);
  const fi = f.framework_info;
  const { used, offered } = frameworkUsed(id, f);
  const tasks = [...M.tasks.values()].filter(t => idv(t.framework_id) === id);
  const offers = (f.offers || []).map(o => `<tr><td class="mono">${esc(idv(o.id))}</td><td>${esc(agentName(idv(o.agent_id)))}</td>` +
    `<td>${esc(o.allocation_info ? o.allocation_info.role : '')}</td>` +
    `<td>${SCALARS.map(k => k + ' ' + fmtRes(k, scalars(o.resources)[k])).join(', ')}</td></tr>`).join('') ||
    '<tr><td colspan="4" class="muted">no outstanding offers</td></tr>';
  setView(`<h1>Framework ${esc(fi.name)} ${stateBadge(done ? 'completed' : f.active ? 'active' : 'inactive')}</h1>
    <div class="grid">
      <div class="card"><table class="kv"><tbody>
        <tr><td>id</td><td class="mono">${esc(id)}</td></tr>
        <tr><td>user</td><td>${esc(fi.user)}</td></tr>
        <tr><td>roles</td><td>${esc(fwRoles(f))}</td></tr>
        <tr><td>principal</td><td>${esc(fi.principal || '-')}</td></tr>
        <tr><td>capabilities</td><td>${esc((fi.capabilities || []).map(c => c.type).join(', ') || '-')}</td></tr>
        <tr><td>registered</td><td>${esc(fmtTime(nanos(f.registered_time)))}</td></tr>
        <tr><td>dominant share</td><td>${(dominantShare(used) * 100).toFixed(1)}%</td></tr>
      </tbody></table>
      ${done ? '' : `<p><button class="secondary" id="teardown" data-id="${esc(id)}">Tear down</button> <span id="teardown-msg"></span></p>`}</div>
      <div class="card"><h2>Resources</h2><table><thead><tr><th></th><th class="num">used</th><th class="num">offered</th></tr></thead><tbody>
        ${SCALARS.map(k => `<tr><td>${k}</td><td class="num">${fmtRes(k, used[k])}</td><td class="num">${fmtRes(k, offered[k])}</td></tr>`).join('')}
      </tbody></table></div>
    </div>
    <div class="card"><h2>Offers</h2><table><thead><tr><th>offer</th><th>agent</th><th>role</th><th>resources</th></tr></thead><tbody>${offers}</tbody></table></div>
    <div class="card" style="margin-top:14px"><h2>Tasks</h2>${taskTable(tasks, 'framework-tasks')}</div>`);
  const btn = document.getElementById('teardown');
  if (btn) btn.onclick = async () => {
    if (!confirm(`Tear down framework ${fi.name} (${id})? Its tasks are killed.`)) return;
    try {
      await operatorCall({ type: 'TEARDOWN', teardown: { framework_id: { value: id } } });
      setPart('teardown-msg', '<span class="ok">torn down</span>');
    } catch (e) { setPart('teardown-msg', `<span class="error">${esc(e.message)}</span>`); }
  };
}

/* --------------------------------------------------------------- tasks */

function taskRow(t, short) {
  const fid = idv(t.framework_id), aid = idv(t.agent_id), tid = idv(t.task_id);
  const { first, last } = taskTimes(t);
  const link = `#/sandbox/${enc(aid)}/${enc(fid)}/${enc(tid)}`;
  if (short) {
    return `<tr data-task-id="${esc(tid)}" data-state="${esc(t.state)}"><td><a href="${link}">${esc(tid)}</a></td><td>${stateBadge(t.state)}</td>` +
      `<td>${esc(frameworkName(fid))}</td><td>${esc(agentName(aid))}</td><td title="${esc(fmtTime(last))}">${esc(ago(last))}</td></tr>`;
  }
  const res = scalars(t.resources);
  return `<tr data-task-id="${esc(tid)}" data-state="${esc(t.state)}"><td class="mono"><a href="${link}">${esc(tid)}</a></td><td>${esc(t.name)}</td>` +
    `<td>${stateBadge(t.state)}</td><td><a href="#/frameworks/${enc(fid)}">${esc(frameworkName(fid))}</a></td>` +
    `<td><a href="#/agents/${enc(aid)}">${esc(agentName(aid))}</a></td><td class="num">${fmtRes('cpus', res.cpus)}</td>` +
    `<td class="num">${fmtRes('mem', res.mem)}</td><td>${esc(fmtTime(first))}</td><td title="${esc(fmtTime(last))}">${esc(ago(last))}</td>` +
    `<td><a href="${link}">sandbox</a></td></tr>`;
}

function taskTable(list, id) {
  const sorted = list.slice().sort((a, b) => taskTimes(b).first - taskTimes(a).first);
  const rows = sorted.map(t => taskRow(t, false)).join('') || '<tr><td colspan="10" class="muted">no tasks</td></tr>';
  return `<table id="${id}"><thead><tr><th>id</th><th>name</th><th>state</th><th>framework</th><th>agent</th>` +
    `<th class="num">cpus</th><th class="num">mem</th><th>started</th><th>updated</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

let taskQuery = '';
function tasks(args, routeChanged) {
  if (!document.getElementById('task-search') || routeChanged) {
    setView(`<h1>Tasks</h1><div class="toolbar"><input type="search" id="task-search" placeholder="search id, name, state, framework, agent" value="${esc(taskQuery)}">` +
      `<label><input type="checkbox" id="task-live"> live only</label><span class="muted" id="task-count"></span></div><div class="card" id="tasks-body"></div>`);
    const input = document.getElementById('task-search');
    input.oninput = () => { taskQuery = input.value; renderTaskList(); };
    document.getElementById('task-live').onchange = renderTaskList;
  }
  renderTaskList();
}

function renderTaskList() {
  const q = taskQuery.trim().toLowerCase();
  const liveOnly = document.getElementById('task-live') && document.getElementById('task-live').checked;
  const all = [...M.tasks.values()];
  const list = all.filter(t => {
    if (liveOnly && TERMINAL.has(t.state)) return false;
    if (!q) return true;
    const hay = [idv(t.task_id), t.name, t.state, idv(t.framework_id), frameworkName(idv(t.framework_id)), idv(t.agent_id),
      agentName(idv(t.agent_id))].join(' ').toLowerCase();
    return q.split(/\s+/).every(w => hay.includes(w));
  });
  setPart('tasks-body', taskTable(list, 'tasks-table'));
  setPart('task-count', `${list.length} of ${all.length}`);
}

/* ------------------------------------------------------------- sandbox */

/* Finds the executor directory of a task in the agent's /state (through the master's proxy). */
async function findSandbox(aid, fid, tid) {
  const st = await getJSON(`/agent/${enc(aid)}/state`);
  let found = null;
  for (const fk of ['frameworks', 'completed_frameworks']) {
    for (const f of st[fk] || []) {
      if (f.id !== fid) continue;
      for (const ek of ['executors', 'completed_executors']) {
        for (const ex of f[ek] || []) {
          const ts = [].concat(ex.tasks || [], ex.queued_tasks || [], ex.completed_tasks || []);
          if (ts.some(t => t.id === tid) || ex.id === tid) {
            if (!found || ek === 'executors') found = ex.directory;
          }
        }
      }
    }
  }
  return found;
}

function sandboxMeta(aid, fid) {
  return `framework <a href="#/frameworks/${enc(fid)}">${esc(frameworkName(fid))}</a> · agent <a href="#/agents/${enc(aid)}">${esc(agentName(aid))}</a>`;
}

function sandbox(args, routeChanged) {
  if (!routeChanged && document.getElementById('sandbox')) {
    const [aid, fid, tid] = args;
    const t = M.tasks.get(fid + '/' + tid);
    if (t) setPart('sandbox-state', stateBadge(t.state));
    setPart('sandbox-meta', sandboxMeta(aid, fid));
    return;
  }
  const [aid, fid, tid] = args;
  const gen = viewGen;
  const t = M.tasks.get(fid + '/' + tid);
  setView(`<h1>Sandbox of task <span class="mono">${esc(tid)}</span> <span id="sandbox-state">${t ? stateBadge(t.state) : ''}</span></h1>
    <p class="muted" id="sandbox-meta">${sandboxMeta(aid, fid)}</p>
    <div id="sandbox"><p class="muted">looking up the sandbox on the agent…</p></div>`);
  findSandbox(aid, fid, tid).then(dir => {
    if (gen !== viewGen) return;
    if (!dir) return setPart('sandbox', '<p class="error">The agent does not know this task\'s sandbox.</p>');
    setPart('sandbox', `
      <div class="grid">
        <div class="card"><h2>stdout <span class="muted mono" id="stdout-size"></span></h2><pre class="log" id="stdout-log"></pre></div>
        <div class="card"><h2>stderr <span class="muted mono" id="stderr-size"></span></h2><pre class="log" id="stderr-log"></pre></div>
      </div>
      <div class="card"><h2>Files <span class="breadcrumbs mono" id="crumbs"></span></h2><table id="files"><tbody></tbody></table>
      <div id="file-view"></div></div>`);
    tail(aid, dir + '/stdout', 'stdout', gen);
    tail(aid, dir + '/stderr', 'stderr', gen);
    browse(aid, dir, dir, gen);
  }).catch(e => { if (gen === viewGen) setPart('sandbox', `<p class="error">${esc(e.message)}</p>`); });
}

async function browse(aid, root, dir, gen) {
  const crumbs = [];
  let p = root;
  crumbs.push(`<a href="#" data-dir="${esc(root)}">sandbox</a>`);
  for (const part of dir.slice(root.length).split('/').filter(Boolean)) {
    p += '/' + part;
    crumbs.push(`/ <a href="#" data-dir="${esc(p)}">${esc(part)}</a>`);
  }
  setPart('crumbs', crumbs.join(' '));
  try {
    const entries = await getJSON(`/agent/${enc(aid)}/files/browse?path=${enc(dir)}`);
    if (gen !== viewGen) return;
    entries.sort((a, b) => a.path.localeCompare(b.path));
    /* Downloads come from the agent itself, as in Mesos's UI: the master does not carry files. */
    const info = (M.agents.get(aid) || M.removedAgents.get(aid) || {}).agent_info;
    const dl = info && info.hostname ? `//${info.hostname}:${info.port || 5051}/files/download?path=` : null;
    const rows = entries.map(e => {
      const name = e.path.split('/').pop();
      const isDir = String(e.mode || '').startsWith('d');
      const get = !isDir && dl ? `<a class="download" href="${esc(dl + enc(e.path))}" download="${esc(name)}">download</a>` : '';
      return `<tr><td class="mono">${esc(e.mode)}</td><td class="num">${esc(e.size)}</td><td>${esc(fmtTime(e.mtime))}</td>` +
        `<td><a href="#" class="mono" data-${isDir ? 'dir' : 'file'}="${esc(e.path)}">${esc(name)}${isDir ? '/' : ''}</a></td><td>${get}</td></tr>`;
    }).join('') || '<tr><td class="muted">empty directory</td></tr>';
    setPart('files', `<thead><tr><th>mode</th><th class="num">size</th><th>modified</th><th>name</th><th></th></tr></thead><tbody>${rows}</tbody>`);
  } catch (e) {
    setPart('files', `<tbody><tr><td class="error">${esc(e.message)}</td></tr></tbody>`);
  }
  const onClick = ev => {
    const a = ev.target.closest('a[data-dir], a[data-file]');
    if (!a) return;
    ev.preventDefault();
    if (a.dataset.dir) browse(aid, root, a.dataset.dir, gen);
    else {
      const name = a.dataset.file.split('/').pop();
      setPart('file-view', `<h2 style="margin-top:12px">${esc(name)} <span class="muted mono" id="viewer-size"></span></h2><pre class="log" id="viewer-log"></pre>`);
      tail(aid, a.dataset.file, 'viewer', gen);
    }
  };
  document.getElementById('files').onclick = onClick;
  document.getElementById('crumbs').onclick = onClick;
}

const tails = {}; /* pane name -> token of the tail writing into it */

/* Follows a file of an agent (through the master's proxy). */
function tail(aid, path, pane, gen) { return tailURL(`/agent/${enc(aid)}/files/read?path=${enc(path)}`, pane, gen); }

/* Follows the file that base (a /files/read URL) names: first its last TAIL_CHUNK bytes,
 * then whatever is appended, every TAIL_MS. */
async function tailURL(base, pane, gen) {
  const token = {};
  tails[pane] = token;
  let offset = -1;
  while (gen === viewGen && tails[pane] === token) {
    const el = document.getElementById(pane + '-log');
    if (!el) return;
    try {
      if (offset < 0) {
        const size = (await getJSON(base + '&offset=-1')).offset || 0;
        offset = Math.max(0, size - TAIL_CHUNK);
      }
      for (;;) {
        const r = await getJSON(`${base}&offset=${offset}&length=${TAIL_CHUNK}`);
        if (gen !== viewGen || tails[pane] !== token) return;
        const data = r.data || '';
        if (!data.length) break;
        const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
        el.textContent = (el.textContent + data).slice(-TAIL_KEEP);
        if (atBottom) el.scrollTop = el.scrollHeight;
        offset += new TextEncoder().encode(data).length;
        if (data.length < TAIL_CHUNK / 2) break;
      }
      setPart(pane + '-size', `${offset} bytes`);
    } catch (e) {
      setPart(pane + '-size', `<span class="error">${esc(e.message.slice(0, 200))}</span>`);
    }
    await new Promise(res => setTimeout(res, TAIL_MS));
  }
}

/* --------------------------------------------------------------- logs */

/* #/log/master or #/log/agent/<id>: the master's or an agent's log file (Mesos's /master/log
 * and /slave/log, served when the daemon runs with --log_dir), followed live. */
function logView(args, routeChanged) {
  if (!routeChanged && document.getElementById('logview-log')) return;
  const [who, aid] = args;
  const agent = who === 'agent' && aid;
  const what = agent ? '/slave/log' : '/master/log';
  setView(`<h1>${agent ? `Log of agent <a href="#/agents/${enc(aid)}">${esc(agentName(aid))}</a>` : 'Log of the master'}</h1>
    <div class="card"><h2 class="mono">${what} <span class="muted" id="logview-size"></span></h2><pre class="log" id="logview-log"></pre></div>`);
  tailURL(agent ? `/agent/${enc(aid)}/files/read?path=${enc(what)}` : `/files/read?path=${enc(what)}`, 'logview', viewGen);
}

/* --------------------------------------------------------------- roles */

function roles(args, routeChanged) {
  if (routeChanged || !document.getElementById('roles-body')) {
    setView(`<h1>Roles, weights and quota</h1><div class="card" id="roles-body"><p class="muted">loading…</p></div>
      <div class="grid" style="margin-top:14px">
        <div class="card"><h2>Set a weight</h2><form id="weight-form" class="toolbar">
          <input type="text" name="role" placeholder="role" required> <input type="number" name="weight" step="any" placeholder="weight" required>
          <button>Update</button></form><div id="weight-msg"></div></div>
        <div class="card"><h2>Set a quota</h2><form id="quota-form" class="toolbar">
          <input type="text" name="role" placeholder="role" required>
          <input type="number" name="cpus" step="any" placeholder="cpus"> <input type="number" name="mem" step="any" placeholder="mem (MB)">
          <label><input type="checkbox" name="force"> force</label><button>Update</button></form>
          <p class="muted">Sets the guarantee and the limit to the same figures; empty fields are left out; no figure clears the quota.</p><div id="quota-msg"></div></div>
      </div>`);
    document.getElementById('weight-form').onsubmit = async ev => {
      ev.preventDefault();
      const f = ev.target;
      try {
        await operatorCall({ type: 'UPDATE_WEIGHTS', update_weights: { weight_infos: [{ role: f.role.value, weight: Number(f.weight.value) }] } });
        setPart('weight-msg', '<span class="ok">updated</span>');
        refreshRoles();
      } catch (e) { setPart('weight-msg', `<span class="error">${esc(e.message)}</span>`); }
    };
    document.getElementById('quota-form').onsubmit = async ev => {
      ev.preventDefault();
      const f = ev.target, g = {};
      for (const k of ['cpus', 'mem']) if (f[k].value !== '') g[k] = { value: Number(f[k].value) };
      try {
        await operatorCall({ type: 'UPDATE_QUOTA', update_quota: { force: f.force.checked, quota_configs: [{ role: f.role.value, guarantees: g, limits: g }] } });
        setPart('quota-msg', '<span class="ok">updated</span>');
        refreshRoles();
      } catch (e) { setPart('quota-msg', `<span class="error">${esc(e.message)}</span>`); }
    };
    refreshRoles();
  }
  renderRoles();
}

async function refreshRoles() {
  try { M.roles = await getJSON('/master/roles'); renderRoles(); } catch (e) { setPart('roles-body', `<p class="error">${esc(e.message)}</p>`); }
}

function resText(o) {
  const parts = Object.keys(o || {}).filter(k => k !== 'ports' && o[k]).map(k => `${k} ${fmtRes(k, o[k])}`);
  return parts.join(', ') || '-';
}

function renderRoles() {
  if (!M.roles) return;
  const rows = (M.roles.roles || []).map(r => `<tr data-role="${esc(r.name)}"><td>${esc(r.name)}</td><td class="num">${esc(r.weight)}</td>` +
    `<td>${(r.frameworks || []).map(id => `<a href="#/frameworks/${enc(id)}">${esc(frameworkName(id))}</a>`).join(', ') || '-'}</td>` +
    `<td>${esc(resText(r.allocated))}</td><td>${esc(resText(r.offered))}</td><td>${esc(resText(r.reserved))}</td>` +
    `<td>${esc(resText(r.quota && r.quota.guarantee))}</td><td>${esc(resText(r.quota && r.quota.limit))}</td></tr>`).join('') ||
    '<tr><td colspan="8" class="muted">no roles yet (a role appears with its first framework, weight or quota)</td></tr>';
  setPart('roles-body', `<table id="roles-table"><thead><tr><th>role</th><th class="num">weight</th><th>frameworks</th><th>allocated</th>` +
    `<th>offered</th><th>reserved</th><th>quota guarantee</th><th>quota limit</th></tr></thead><tbody>${rows}</tbody></table>`);
}

/* ---------------------------------------------------------- maintenance */

/* The schedule and each scheduled machine's mode (DRAINING / DOWN) with the
 * frameworks' inverse offer answers; fetched when the view opens and every 2 s
 * while it is open (maintenance has no event on the operator stream). */
let maintTimer = null;

function maintenance(args, routeChanged) {
  if (routeChanged || !document.getElementById('maint-body')) {
    setView(`<h1>Maintenance</h1><div class="card" id="maint-body"><p class="muted">loading…</p></div>`);
    refreshMaintenance();
    if (!maintTimer) maintTimer = setInterval(() => {
      if (route().name === 'maintenance') refreshMaintenance(); else { clearInterval(maintTimer); maintTimer = null; }
    }, 2000);
  }
}

async function refreshMaintenance() {
  try {
    const [sched, st] = await Promise.all([getJSON('/master/maintenance/schedule'), getJSON('/master/maintenance/status')]);
    renderMaintenance(sched, st);
  } catch (e) { setPart('maint-body', `<p class="error">${esc(e.message)}</p>`); }
}

function renderMaintenance(sched, st) {
  const key = id => `${(id.hostname || '').toLowerCase()}|${id.ip || ''}`;
  const modes = {}, answers = {};
  for (const d of st.draining_machines || []) {
    modes[key(d.id)] = 'DRAINING';
    answers[key(d.id)] = (d.statuses || []).map(s => `${frameworkName(s.framework_id.value)}: ${s.status}`).join(', ');
  }
  for (const id of st.down_machines || []) modes[key(id)] = 'DOWN';
  const when = t => t && t.nanoseconds !== undefined ? new Date(Number(t.nanoseconds) / 1e6).toISOString().replace('.000', '') : '-';
  const dur = d => d && d.nanoseconds !== undefined ? `${(Number(d.nanoseconds) / 3.6e12).toFixed(2)} h` : '-';
  const rows = [];
  for (const w of sched.windows || []) {
    for (const id of w.machine_ids || []) {
      const mode = modes[key(id)] || 'DRAINING';
      rows.push(`<tr data-machine="${esc(key(id))}"><td>${esc(id.hostname || '-')}</td><td>${esc(id.ip || '-')}</td>` +
        `<td><span class="state ${mode === 'DOWN' ? 'state-removed' : 'state-draining'}">${mode}</span></td>` +
        `<td>${esc(when(w.unavailability && w.unavailability.start))}</td><td>${esc(dur(w.unavailability && w.unavailability.duration))}</td>` +
        `<td>${esc(answers[key(id)] || '-')}</td></tr>`);
    }
  }
  setPart('maint-body', `<table id="maint-table"><thead><tr><th>hostname</th><th>ip</th><th>mode</th><th>unavailable from</th>` +
    `<th>for</th><th>inverse offer answers</th></tr></thead><tbody>${rows.join('') ||
    '<tr><td colspan="6" class="muted">no maintenance scheduled</td></tr>'}</tbody></table>` +
    '<p class="muted">Schedule with <code>mezzo maintenance schedule --file=F</code>; <code>mezzo maintenance down|up MACHINE</code>.</p>');
}

/* ---------------------------------------------------------------- start */

window.addEventListener('hashchange', () => { viewGen++; render(true); });
window.addEventListener('resize', drawCharts);
window.mezzo = M; /* for debugging in the console and for the browser tests */
render(true);
subscribe();
sample();
setInterval(sample, SAMPLE_MS);

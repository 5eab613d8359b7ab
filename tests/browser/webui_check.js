/* Browser checks of the mezzo web UI, run by tests/system/test_webui.py:
 *   node webui_check.js SCENARIO MASTER_URL OUT_DIR [ARGS...]
 * Headless Debian chromium (/usr/bin/chromium, or $CHROMIUM) driven by
 * playwright-core from ./node_modules. Talks to the pytest wrapper over
 * stdout ("READY", "SEEN <ms>", "OK") and stdin (lines the scenario waits
 * for); exits non-zero with a message on stderr when a check fails. Every
 * scenario saves screenshots into OUT_DIR and fails on any page error.
 *
 * Scenarios:
 *   live AGENT_ID      overview shows the agent; then, for each "TASK <id>" line
 *                      on stdin, the task must show as RUNNING within 2 s
 *                      without a reload.
 *   sandbox AGENT_ID FRAMEWORK_ID TASK_ID TEXT
 *                      the task's sandbox page shows TEXT in stdout, then the
 *                      stdout pane grows while the page stays open, and the
 *                      listing's download link of stdout gives the file.
 *   pages AGENT_ID FRAMEWORK_ID TASK_ID
 *                      every page renders (agents, frameworks, tasks with a
 *                      search, roles, the master's and the agent's logs), each
 *                      with a screenshot. */
'use strict';
const path = require('path');
const readline = require('readline');
const { chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core'));

const [scenario, url, outDir, ...args] = process.argv.slice(2);
const LIVE_LIMIT_MS = 2000;

function fail(msg) {
  process.stderr.write('FAIL: ' + msg + '\n');
  process.exit(1);
}

const lines = [];
let lineWaiter = null;
readline.createInterface({ input: process.stdin }).on('line', l => {
  if (lineWaiter) { const w = lineWaiter; lineWaiter = null; w(l); } else lines.push(l);
});
function nextLine() {
  return lines.length ? Promise.resolve(lines.shift()) : new Promise(res => { lineWaiter = res; });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(outDir, name + '.png'), fullPage: true });
}

async function live(page) {
  const [agentId] = args;
  await page.goto(url + '/#/', { waitUntil: 'load' });
  await page.waitForSelector(`#overview-agents tr[data-agent-id="${agentId}"]`, { timeout: 30000 });
  await page.waitForSelector('#conn.conn-up', { timeout: 30000 });
  await page.evaluate(() => { window.__noReload = 'still here'; });
  await shot(page, 'overview-before');
  process.stdout.write('READY\n');
  for (;;) {
    const line = await nextLine();
    if (line === 'DONE') break;
    const tid = line.replace(/^TASK /, '');
    const t0 = Date.now();
    try {
      await page.waitForSelector(`#recent-tasks tr[data-task-id="${tid}"][data-state="TASK_RUNNING"]`, { timeout: LIVE_LIMIT_MS });
    } catch (e) {
      await shot(page, 'overview-late');
      fail(`task ${tid} not shown as RUNNING on the overview within ${LIVE_LIMIT_MS} ms of its launch`);
    }
    const ms = Date.now() - t0;
    const marker = await page.evaluate(() => window.__noReload);
    if (marker !== 'still here') fail('the page was reloaded');
    const running = await page.textContent('#task-states');
    if (!/RUNNING/.test(running)) fail('the tasks-by-state table does not count the running task: ' + running);
    await shot(page, 'overview-task-' + tid);
    process.stdout.write(`SEEN ${ms}\n`);
  }
}

async function sandbox(page) {
  const [agentId, frameworkId, taskId, text] = args;
  await page.goto(`${url}/#/sandbox/${encodeURIComponent(agentId)}/${encodeURIComponent(frameworkId)}/${encodeURIComponent(taskId)}`);
  try {
    await page.waitForFunction(t => (document.getElementById('stdout-log') || {}).textContent?.includes(t), text, { timeout: 30000 });
  } catch (e) {
    await shot(page, 'sandbox-missing');
    fail(`stdout of ${taskId} never showed '${text}': ${await page.textContent('#view')}`);
  }
  const before = (await page.textContent('#stdout-log')).length;
  try {
    await page.waitForFunction(n => document.getElementById('stdout-log').textContent.length > n, before, { timeout: 30000 });
  } catch (e) {
    await shot(page, 'sandbox-stale');
    fail('the stdout pane did not grow while the task kept writing');
  }
  await page.waitForSelector('#files a[data-file]', { timeout: 30000 });
  const names = await page.$$eval('#files a[data-file]', as => as.map(a => a.textContent));
  if (!names.includes('stdout') || !names.includes('stderr')) fail('sandbox listing lacks stdout/stderr: ' + names);
  /* Each file's download link is the agent's /files/download of that file. */
  const href = await page.$eval('#files a[data-file$="/stdout"]', a => a.closest('tr').querySelector('a.download')?.href);
  if (!href || !href.includes('/files/download?path=')) fail('no download link for stdout: ' + href);
  const got = await fetch(href);
  const body = await got.text();
  if (got.status !== 200 || !body.includes(text) || !(got.headers.get('content-disposition') || '').includes('filename=stdout'))
    fail(`the stdout download link ${href} gave ${got.status} ${got.headers.get('content-disposition')}: ${body.slice(0, 200)}`);
  await page.click('#files a[data-file$="/stderr"]');
  await page.waitForSelector('#viewer-log', { timeout: 10000 });
  await shot(page, 'sandbox');
  process.stdout.write('OK\n');
}

async function drained(page) {
  const [agentId] = args;
  await page.goto(url + '/#/agents');
  const row = `#agents-table tr[data-agent-id="${agentId}"]`;
  await page.waitForSelector(row, { timeout: 30000 });
  process.stdout.write('READY\n');
  await nextLine(); /* the test drained the agent */
  try {
    await page.waitForFunction(sel => /draining/.test(document.querySelector(sel).textContent), row, { timeout: 15000 });
  } catch (e) {
    await shot(page, 'agents-not-draining');
    fail('the drained agent is not shown as draining: ' + await page.textContent(row));
  }
  await shot(page, 'agents-draining');
  process.stdout.write('OK\n');
}

async function pages(page) {
  const [agentId, frameworkId, taskId] = args;
  await page.goto(url + '/#/agents');
  await page.waitForSelector(`#agents-table tr[data-agent-id="${agentId}"]`, { timeout: 30000 });
  const row = await page.textContent(`#agents-table tr[data-agent-id="${agentId}"]`);
  if (!/active/.test(row)) fail('agent row does not say active: ' + row);
  await shot(page, 'agents');
  await page.click(`#agents-table tr[data-agent-id="${agentId}"] a`);
  await page.waitForSelector(`#agent-tasks tr[data-task-id="${taskId}"]`, { timeout: 10000 });
  await shot(page, 'agent');

  await page.goto(url + '/#/frameworks');
  await page.waitForSelector(`#frameworks-table tr[data-framework-id="${frameworkId}"]`, { timeout: 30000 });
  const fw = await page.textContent(`#frameworks-table tr[data-framework-id="${frameworkId}"]`);
  if (!/web/.test(fw)) fail('framework row does not show its role: ' + fw);
  await shot(page, 'frameworks');
  await page.click(`#frameworks-table tr[data-framework-id="${frameworkId}"] a`);
  await page.waitForSelector(`#framework-tasks tr[data-task-id="${taskId}"]`, { timeout: 10000 });
  await shot(page, 'framework');

  await page.goto(url + '/#/tasks');
  await page.waitForSelector(`#tasks-table tr[data-task-id="${taskId}"]`, { timeout: 30000 });
  await page.fill('#task-search', 'no-such-task-anywhere');
  await page.waitForSelector(`#tasks-table tr[data-task-id="${taskId}"]`, { state: 'detached', timeout: 5000 });
  await page.fill('#task-search', taskId);
  await page.waitForSelector(`#tasks-table tr[data-task-id="${taskId}"]`, { timeout: 5000 });
  await shot(page, 'tasks');

  await page.goto(url + '/#/roles');
  await page.waitForSelector('#roles-table tr[data-role="web"]', { timeout: 30000 });
  await page.fill('#weight-form input[name=role]', 'web');
  await page.fill('#weight-form input[name=weight]', '2.5');
  await page.click('#weight-form button');
  await page.waitForFunction(() => /2\.5/.test(document.querySelector('#roles-table tr[data-role="web"]').textContent), null, { timeout: 10000 });
  await page.fill('#quota-form input[name=role]', 'web');
  await page.fill('#quota-form input[name=cpus]', '-1');
  await page.click('#quota-form button');
  await page.waitForSelector('#quota-msg .error', { timeout: 10000 });
  await shot(page, 'roles');

  /* The logs (the test runs both daemons with --log_dir): the master's from the nav bar,
   * the agent's from its page. */
  const logShows = async (name) => {
    try {
      await page.waitForFunction(() => /INFO/.test((document.getElementById('logview-log') || {}).textContent || ''),
                                 null, { timeout: 15000 });
    } catch (e) {
      await shot(page, name + '-missing');
      fail(`the ${name} page shows no log: ${await page.textContent('#view')}`);
    }
    await shot(page, name);
  };
  await page.click('header nav a[data-nav="log"]');
  await logShows('log-master');
  await page.goto(url + `/#/agents/${encodeURIComponent(agentId)}`);
  await page.waitForSelector('#agent-log-link', { timeout: 10000 });
  await page.click('#agent-log-link');
  await logShows('log-agent');
  process.stdout.write('OK\n');
}

/* maintenance DRAINING_HOST DOWN_HOST: the maintenance view shows both machines in their modes. */
async function maintenance(page) {
  const [draining, down] = args;
  await page.goto(url + '/#/maintenance');
  for (const [host, mode] of [[draining, 'DRAINING'], [down, 'DOWN']]) {
    const row = `#maint-table tr[data-machine="${host}|"]`;
    await page.waitForSelector(row, { timeout: 30000 });
    const text = await page.textContent(row);
    if (!text.includes(mode)) { await shot(page, 'maintenance-wrong'); fail(`machine ${host} is not shown ${mode}: ${text}`); }
  }
  await shot(page, 'maintenance');
  process.stdout.write('OK\n');
}

(async () => {
  const scenarios = { live, sandbox, pages, drained, maintenance };
  if (!scenarios[scenario] || !url || !outDir) fail('usage: node webui_check.js live|sandbox|pages|drained|maintenance MASTER_URL OUT_DIR ARGS...');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
  try {
    await scenarios[scenario](page);
    if (errors.length) fail('errors in the page: ' + errors.join(' | '));
  } finally {
    await browser.close();
  }
  process.exit(0);
})().catch(e => fail(e && e.stack || String(e)));

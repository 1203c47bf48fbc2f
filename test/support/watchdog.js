#!/usr/bin/env node
// Started detached by test/support/processes.ts: `node watchdog.js <ownerPid> <runDir>`.
// When the owner (the jest process) dies without its global teardown, this kills every daemon
// recorded in <runDir>/pids (by pid, after checking /proc/<pid>/comm), removes the containers
// listed in <runDir>/containers and the run folder. It exits once the run folder is gone.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ownerPid = Number(process.argv[2]);
const dir = process.argv[3];
for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM']) process.on(signal, () => undefined);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// the comm of a live (non-zombie) process, else undefined
function comm(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return undefined;
  }
}

function stopSignal(name) {
  if (name === 'postgres') return 'SIGQUIT';
  if (name.startsWith('ceph-') || name === 'radosgw') return 'SIGKILL';
  return 'SIGTERM';
}

function lines(file) {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function cleanUp() {
  const containers = lines('containers').filter((l) => /^[0-9a-f]{12,64}$/.test(l));
  if (containers.length) {
    try {
      execFileSync('podman', ['rm', '--force', '--time', '0', '--ignore', ...containers], { stdio: 'ignore', timeout: 60000 });
    } catch {
      /* best effort */
    }
  }
  const images = lines('images').filter((l) => /^localhost\/vault-test-[a-z0-9-]+(:[a-z0-9.-]+)?$/.test(l));
  if (images.length) {
    try {
      execFileSync('podman', ['rmi', '--force', '--ignore', ...images], { stdio: 'ignore', timeout: 60000 });
    } catch {
      /* best effort */
    }
  }
  const daemons = lines('pids')
    .map((l) => l.split(' '))
    .map(([pid, name]) => ({ pid: Number(pid), name }))
    .filter((d) => d.pid && d.pid !== process.pid && comm(d.pid) === d.name);
  for (const d of daemons) {
    try {
      process.kill(d.pid, stopSignal(d.name));
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && daemons.some((d) => comm(d.pid) === d.name)) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  for (const d of daemons) {
    if (comm(d.pid) !== d.name) continue;
    try {
      process.kill(d.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const extra of lines('extra-dirs')) {
    if (extra.startsWith(os.tmpdir() + path.sep)) fs.rmSync(extra, { recursive: true, force: true });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

const timer = setInterval(() => {
  if (!fs.existsSync(dir)) {
    clearInterval(timer);
    process.exit(0);
  }
  if (!alive(ownerPid)) {
    clearInterval(timer);
    cleanUp();
    process.exit(0);
  }
}, 500);

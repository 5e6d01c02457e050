import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import type { Requirements } from '../config.js';
import { HOST_SCRIPTS, type InfraCheck } from './types.js';

// Host capacity and the kernel settings a proxy needs. Read-only: every value comes from os, statfs and
// /proc; the fixes point at the idempotent scripts under docker/host/.

const GB = 1024 ** 3;

/** Reads one sysctl through /proc/sys (net.core.somaxconn → /proc/sys/net/core/somaxconn). */
export async function readSysctl(name: string, procRoot = '/proc'): Promise<string | null> {
  try {
    return (await readFile(`${procRoot}/sys/${name.replaceAll('.', '/')}`, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** The soft open-files limit of this process (what a gateway started the same way gets). */
export async function openFilesLimit(procRoot = '/proc'): Promise<number | null> {
  try {
    const text = await readFile(`${procRoot}/self/limits`, 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return null;
    return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return null;
  }
}

function atLeast(name: string, measured: number | null, min: number, unit: string, fix: string): InfraCheck {
  const ok = measured !== null && measured >= min;
  return {
    name,
    ok,
    measured:
      measured === null ? null : Number.isFinite(measured) ? Number(measured.toFixed(1)) : 'unlimited',
    wanted: `>= ${min}${unit}`,
    ...(unit && measured !== null && Number.isFinite(measured) ? { unit } : {}),
    ...(ok ? {} : { fix }),
  };
}

export async function hostChecks(req: Requirements, procRoot = '/proc'): Promise<InfraCheck[]> {
  const checks: InfraCheck[] = [];
  checks.push(
    atLeast(
      'host.cpus',
      availableParallelism(),
      req.cpus,
      ' CPUs',
      `give the host at least ${req.cpus} CPUs`,
    ),
  );
  checks.push(
    atLeast(
      'host.memory',
      totalmem() / GB,
      req.memoryGb,
      ' GB',
      `give the host at least ${req.memoryGb} GB of memory`,
    ),
  );
  let freeGb: number | null = null;
  try {
    const fs = await statfs(req.diskPath);
    freeGb = (fs.bavail * fs.bsize) / GB;
  } catch {
    // Missing path: measured null, reported as a failure with the fix.
  }
  checks.push(
    atLeast(
      `host.disk_free(${req.diskPath})`,
      freeGb,
      req.diskGb,
      ' GB',
      `free or add disk space on ${req.diskPath} (Docker images, the Redis volume, logs)`,
    ),
  );
  checks.push(
    atLeast(
      'host.fd_limit',
      await openFilesLimit(procRoot),
      req.fdLimit,
      '',
      `raise the open-files limit: sudo bash ${HOST_SCRIPTS}/sysctl.sh (sets nofile ${req.fdLimit} for the service user and Docker)`,
    ),
  );
  const sysctl = `sudo bash ${HOST_SCRIPTS}/sysctl.sh`;
  const somaxconn = await readSysctl('net.core.somaxconn', procRoot);
  checks.push(
    atLeast(
      'kernel.net.core.somaxconn',
      somaxconn === null ? null : Number(somaxconn),
      req.somaxconn,
      '',
      `${sysctl} (net.core.somaxconn = ${req.somaxconn})`,
    ),
  );
  const range = await readSysctl('net.ipv4.ip_local_port_range', procRoot);
  const [low, high] = (range ?? '').split(/\s+/).map(Number);
  const span = low !== undefined && high !== undefined && high > low ? high - low + 1 : null;
  checks.push({
    ...atLeast(
      'kernel.net.ipv4.ip_local_port_range',
      span,
      req.localPortRangeSpan,
      ' ports',
      `${sysctl} (net.ipv4.ip_local_port_range = 1024 65535)`,
    ),
    measured: range === null ? null : `${range.replace(/\s+/, '-')} (${span ?? 0} ports)`,
  });
  const fileMax = await readSysctl('fs.file-max', procRoot);
  checks.push(
    atLeast(
      'kernel.fs.file-max',
      fileMax === null ? null : Number(fileMax),
      req.fileMax,
      '',
      `${sysctl} (fs.file-max = ${req.fileMax})`,
    ),
  );
  return checks;
}

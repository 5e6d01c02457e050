import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HOST_SCRIPTS, type InfraCheck } from './types.js';

const DAY_MS = 86_400_000;

/** The certificate parses, matches its key, covers every host name, and is valid for minValidDays more. */
export async function tlsChecks(
  certFile: string,
  keyFile: string,
  hosts: readonly string[],
  minValidDays: number,
  now = Date.now(),
): Promise<InfraCheck[]> {
  const renew = `sudo bash ${HOST_SCRIPTS}/cert-renew.sh (or for a test host: acgs-gateway tls self-signed --host ${hosts[0] ?? 'NAME'} --out <dir>)`;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(certFile));
  } catch (error) {
    return [
      {
        name: 'tls.certificate',
        ok: false,
        measured: `unreadable: ${(error as Error).message}`,
        wanted: `a PEM certificate at ${certFile}`,
        fix: renew,
      },
    ];
  }
  const checks: InfraCheck[] = [
    { name: 'tls.certificate', ok: true, measured: cert.subject.replace(/\n/g, ', '), wanted: 'parses' },
  ];
  let keyOk = false;
  let keyDetail = 'matches';
  try {
    keyOk = cert.checkPrivateKey(createPrivateKey(await readFile(keyFile)));
    if (!keyOk) keyDetail = 'a different key';
  } catch (error) {
    keyDetail = `unreadable: ${(error as Error).message}`;
  }
  checks.push({
    name: 'tls.key_matches',
    ok: keyOk,
    measured: keyDetail,
    wanted: `the private key of the certificate at ${keyFile}`,
    ...(keyOk ? {} : { fix: `put the certificate's own key at ${keyFile}, or reissue both: ${renew}` }),
  });
  if (hosts.length === 0) {
    checks.push({
      name: 'tls.hosts',
      ok: false,
      measured: 'none configured',
      wanted: 'the host names clients use',
      fix: 'list them in the config: pipeline.<environment>.hosts: [api.example.org]',
    });
  }
  for (const host of hosts) {
    const ok = cert.checkHost(host) !== undefined;
    checks.push({
      name: `tls.covers(${host})`,
      ok,
      measured: cert.subjectAltName ?? cert.subject.replace(/\n/g, ', '),
      wanted: `a subject alternative name for ${host}`,
      ...(ok ? {} : { fix: `reissue the certificate with ${host} in its names: ${renew}` }),
    });
  }
  const validTo = Date.parse(cert.validTo);
  const daysLeft = (validTo - now) / DAY_MS;
  const notYet = Date.parse(cert.validFrom) > now;
  const ok = daysLeft >= minValidDays && !notYet;
  checks.push({
    name: 'tls.expiry',
    ok,
    measured: notYet
      ? `not valid before ${cert.validFrom}`
      : `${daysLeft.toFixed(1)} days left (${cert.validTo})`,
    wanted: `>= ${minValidDays} days left`,
    ...(ok ? {} : { fix: `renew the certificate: ${renew}` }),
  });
  return checks;
}

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages } from './DebianPackages.ts';

export interface SelfSignedCert {
  /** PEM files in `dir`: the certificate is its own CA (what a client trusts). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * A fresh P-256 certificate for 127.0.0.1 (CN and IP SAN, as libvncclient's GnuTLS and Node check
 * the address), valid for a day, made by Debian's openssl in `dir` under `name`.pem/`name`-key.pem.
 */
export function selfSignedCert(dir: string, name = 'vnc'): SelfSignedCert {
  ensurePackages(['openssl']);
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl req: ${r.stderr}`);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

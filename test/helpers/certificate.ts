/** A self-signed certificate for localhost and 127.0.0.1, made by openssl for one test file. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export interface Certificate {
  key: Buffer;
  cert: Buffer;
  /** The certificate's PEM file (for a CLI's --ca). */
  certFile: string;
}

/** Filled in before the file's tests run; the files are removed after them. */
export function useCertificate(): Certificate {
  const made = { key: Buffer.alloc(0), cert: Buffer.alloc(0), certFile: '' };
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rfc6455-cert-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { cwd: dir, stdio: 'ignore' },
    );
    made.key = readFileSync(join(dir, 'k.pem'));
    made.cert = readFileSync(join(dir, 'c.pem'));
    made.certFile = join(dir, 'c.pem');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return made;
}

import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A self-signed certificate and its key, as PEM text and as files. */
export interface LocalCertificate {
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface CertificateOptions {
  /** Validity in days; default 1 (the sandbox makes a new one at every start). */
  readonly days?: number;
  /** File names inside the directory; default `cert.pem` and `key.pem`. */
  readonly certName?: string;
  readonly keyName?: string;
}

/**
 * Makes a self-signed EC P-256 certificate for `localhost` and `127.0.0.1` (subjectAltName
 * `DNS:localhost,IP:127.0.0.1`) with the `openssl` CLI, written into `dir` (created if missing). The
 * fakes serve TLS with it; a client trusts it through `NODE_EXTRA_CA_CERTS` (Node and local workerd)
 * or the `ca` option of the HTTP/2 transport, never by turning verification off.
 */
export async function createLocalCertificate(dir: string, options: CertificateOptions = {}): Promise<LocalCertificate> {
  await mkdir(dir, { recursive: true });
  const certPath = join(dir, options.certName ?? "cert.pem");
  const keyPath = join(dir, options.keyName ?? "key.pem");
  // biome-ignore format: one openssl flag and its value per line
  await run("openssl", [
    "req", "-x509",
    "-newkey", "ec",
    "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days", String(options.days ?? 1),
    "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", keyPath,
    "-out", certPath,
  ]);
  const [cert, key] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
  return { cert, key, certPath, keyPath };
}

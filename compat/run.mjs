// Runs the Auth0 Node SDK and Deploy CLI compatibility suite against a real `usher serve` over HTTPS.
// Usage (from the repo root): npm ci --prefix compat && node compat/run.mjs
// Set USHER_BIN to test a prebuilt binary instead of building ./cmd/usher.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUsher } from './server.mjs';

const compatDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(compatDir, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'usher-compat-'));
const logFile = path.join(tmp, 'server', 'usher.log');
let usher;

function cleanup() {
  if (usher && usher.server.exitCode === null && usher.server.signalCode === null) {
    try { process.kill(usher.server.pid, 'SIGKILL'); } catch {}
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

function fail(msg) {
  console.error(`compat: ${msg}`);
  if (fs.existsSync(logFile)) console.error(`--- usher log ---\n${fs.readFileSync(logFile, 'utf8')}--- end of usher log ---`);
  cleanup();
  process.exit(1);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fail(`interrupted by ${sig}`));

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', timeout: 10 * 60_000, ...opts });
  if (r.error) fail(`${cmd} failed: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}\n${r.stderr ?? ''}`);
}

// 1. The server binary.
let bin = process.env.USHER_BIN;
if (!bin) {
  bin = path.join(tmp, 'usher');
  console.log('compat: building ./cmd/usher');
  run('go', ['build', '-o', bin, './cmd/usher'], { cwd: repoRoot });
}

// 2. A self-signed certificate for 127.0.0.1, trusted by the tests via NODE_EXTRA_CA_CERTS.
const certFile = path.join(tmp, 'cert.pem');
const keyFile = path.join(tmp, 'key.pem');
run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile,
  '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
{ stdio: 'pipe', encoding: 'utf8' });

// 3. Start the server and wait for its readiness (bounded).
try {
  usher = await startUsher({ bin, dir: path.join(tmp, 'server'), certFile, keyFile });
} catch (err) {
  fail(err.message);
}
const { domain, clientId, clientSecret } = usher;

// 4. Run the tests. One file at a time: the connection tests change the shared database connection.
// A second spec report goes to a file so that its summary can be repeated after the server log.
const report = path.join(tmp, 'report.txt');
const tests = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=60000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=spec', `--test-reporter-destination=${report}`,
  path.join(compatDir, 'tests')], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: {
    ...process.env,
    NODE_EXTRA_CA_CERTS: certFile,
    USHER_DOMAIN: domain,
    USHER_CLIENT_ID: clientId,
    USHER_CLIENT_SECRET: clientSecret,
    // For the tests that start a server of their own.
    USHER_BIN: bin,
    USHER_COMPAT_CERT_FILE: certFile,
    USHER_COMPAT_KEY_FILE: keyFile,
  },
});
const killTimer = setTimeout(() => {
  console.error('compat: test run exceeded 10 minutes, killing it');
  tests.kill('SIGKILL');
}, 10 * 60_000);
const code = await new Promise((resolve) => tests.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
clearTimeout(killTimer);

// 5. Stop the server and report.
await usher.stop();
if (code !== 0) {
  console.error(`--- usher log ---\n${fs.readFileSync(logFile, 'utf8')}--- end of usher log ---`);
  const summary = fs.existsSync(report) ? fs.readFileSync(report, 'utf8').split('\n').filter((l) => l.startsWith('ℹ ')) : [];
  console.log(summary.join('\n'));
}
cleanup();
process.exit(code);

// Runs the Auth0 Node SDK compatibility suite against a real `usher serve` over HTTPS.
// Usage (from the repo root): npm ci --prefix compat && node compat/run.mjs
// Set USHER_BIN to test a prebuilt binary instead of building ./cmd/usher.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const compatDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(compatDir, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'usher-compat-'));
const logFile = path.join(tmp, 'usher.log');
let server;

function cleanup() {
  if (server && server.exitCode === null && server.signalCode === null) {
    try { process.kill(server.pid, 'SIGKILL'); } catch {}
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

function alnum(n) {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(n), (b) => chars[b % chars.length]).join('');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function readyzStatus(port, ca) {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/readyz', ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
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
const ca = fs.readFileSync(certFile);

// 3. Start the server.
const port = await freePort();
const domain = `127.0.0.1:${port}`;
const clientId = alnum(32);
const clientSecret = alnum(64);
const log = fs.openSync(logFile, 'w');
server = spawn(bin, ['serve'], {
  cwd: tmp,
  stdio: ['ignore', log, log],
  env: {
    ...process.env,
    USHER_ADDR: domain,
    USHER_PUBLIC_URL: `https://${domain}`,
    USHER_DB: `sqlite:${path.join(tmp, 'usher.db')}`,
    USHER_TLS_CERT_FILE: certFile,
    USHER_TLS_KEY_FILE: keyFile,
    USHER_BOOTSTRAP_CLIENT_ID: clientId,
    USHER_BOOTSTRAP_CLIENT_SECRET: clientSecret,
  },
});
server.on('error', (err) => fail(`cannot start ${bin}: ${err.message}`));

// 4. Wait for readiness (bounded).
const deadline = Date.now() + 20_000;
while ((await readyzStatus(port, ca)) !== 200) {
  if (server.exitCode !== null || server.signalCode !== null) fail(`usher exited early (${server.exitCode ?? server.signalCode})`);
  if (Date.now() > deadline) fail(`GET https://${domain}/readyz did not answer 200 within 20 s`);
  await new Promise((r) => setTimeout(r, 250));
}

// 5. Run the tests. One file at a time: the connection tests change the shared database connection.
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
  },
});
const killTimer = setTimeout(() => {
  console.error('compat: test run exceeded 10 minutes, killing it');
  tests.kill('SIGKILL');
}, 10 * 60_000);
const code = await new Promise((resolve) => tests.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
clearTimeout(killTimer);

// 6. Stop the server and report.
if (server.exitCode === null && server.signalCode === null) {
  process.kill(server.pid, 'SIGTERM');
  await Promise.race([
    new Promise((r) => server.once('exit', r)),
    new Promise((r) => setTimeout(r, 5000)),
  ]);
}
if (code !== 0) {
  console.error(`--- usher log ---\n${fs.readFileSync(logFile, 'utf8')}--- end of usher log ---`);
  const summary = fs.existsSync(report) ? fs.readFileSync(report, 'utf8').split('\n').filter((l) => l.startsWith('ℹ ')) : [];
  console.log(summary.join('\n'));
}
cleanup();
process.exit(code);

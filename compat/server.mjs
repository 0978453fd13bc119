// Starts and stops a real `usher serve` over HTTPS, for run.mjs and for the tests that need a
// server of their own (the Deploy CLI test imports into a second, empty one).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';

export function alnum(n) {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(n), (b) => chars[b % chars.length]).join('');
}

export function freePort() {
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

// startUsher runs `bin serve` on a free port of 127.0.0.1 over HTTPS, with its SQLite database and
// log in dir and a bootstrap client of its own, and waits (20 s at most) until /readyz answers 200.
// It resolves to {domain, clientId, clientSecret, logFile, server, stop}; stop() ends the server.
export async function startUsher({ bin, dir, certFile, keyFile }) {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const domain = `127.0.0.1:${port}`;
  const clientId = alnum(32);
  const clientSecret = alnum(64);
  const logFile = path.join(dir, 'usher.log');
  const log = fs.openSync(logFile, 'w');
  const server = spawn(bin, ['serve'], {
    cwd: dir,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      USHER_ADDR: domain,
      USHER_PUBLIC_URL: `https://${domain}`,
      USHER_DB: `sqlite:${path.join(dir, 'usher.db')}`,
      USHER_TLS_CERT_FILE: certFile,
      USHER_TLS_KEY_FILE: keyFile,
      USHER_BOOTSTRAP_CLIENT_ID: clientId,
      USHER_BOOTSTRAP_CLIENT_SECRET: clientSecret,
    },
  });
  fs.closeSync(log);
  let spawnError;
  server.on('error', (err) => { spawnError = err; });
  const exited = () => server.exitCode !== null || server.signalCode !== null;
  const stop = async () => {
    if (exited()) return;
    server.kill('SIGTERM');
    const gone = await Promise.race([
      new Promise((r) => server.once('exit', () => r(true))),
      new Promise((r) => setTimeout(() => r(false), 5000)),
    ]);
    if (!gone) server.kill('SIGKILL');
  };

  const ca = fs.readFileSync(certFile);
  const deadline = Date.now() + 20_000;
  while ((await readyzStatus(port, ca)) !== 200) {
    if (spawnError) throw new Error(`cannot start ${bin}: ${spawnError.message}`);
    if (exited()) throw new Error(`usher exited early (${server.exitCode ?? server.signalCode}); its log is ${logFile}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`GET https://${domain}/readyz did not answer 200 within 20 s; the log is ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { domain, clientId, clientSecret, logFile, server, stop };
}

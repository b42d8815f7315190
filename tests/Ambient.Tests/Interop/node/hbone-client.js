'use strict';
// An HBONE client built only from Node's own TLS and HTTP/2 stacks, to check our HboneServer against an
// independent implementation. Usage: node hbone-client.js '<json config>'
//   url               https://127.0.0.1:PORT of the HBONE server
//   ca, cert, key     PEM files: mesh root, client chain, client key
//   expectedServerId  SPIFFE id the server certificate must carry as a URI SAN
//   mode              "connect": plain CONNECT tunnels; "get": one GET request (must be refused)
//   authority         :authority to send (ip:port of the tunnel target)
//   streams, bytes    concurrent CONNECT streams, bytes sent (and expected back) on each
//   timeoutMs         overall deadline
// Prints one JSON line: { ok, tls: {protocol, alpn, peerSan}, sessionError, socketError, socketEndedByPeer, goaway,
// streams: [...] } and exits 0 when ok (1 when the exchange failed, 2 on a script error, 3 on timeout).
const http2 = require('node:http2');
const fs = require('node:fs');
const crypto = require('node:crypto');

const cfg = JSON.parse(process.argv[2]);
const result = { ok: false, mode: cfg.mode, tls: null, sessionError: null, socketError: null, socketEndedByPeer: false, goaway: null, streams: [] };

function describe(err) {
  if (!err) return null;
  return { code: err.code || null, message: String(err.message || err), reason: err.reason || null };
}

function finish(exitCode) {
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(exitCode));
}

const deadline = setTimeout(() => {
  result.sessionError = result.sessionError || { code: 'TIMEOUT', message: `no result within ${cfg.timeoutMs} ms` };
  finish(3);
}, cfg.timeoutMs);

// Identity check in place of host name verification: the chain is verified against `ca` by OpenSSL,
// then the single URI SAN must be the expected SPIFFE id (no DNS/IP SAN is involved in HBONE).
function checkServerIdentity(_host, cert) {
  const uris = (cert.subjectaltname || '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  if (uris.length === 1 && uris[0] === cfg.expectedServerId) return undefined;
  const err = new Error(`server identity ${JSON.stringify(uris)} is not ${cfg.expectedServerId}`);
  err.code = 'ERR_SPIFFE_ID_MISMATCH';
  return err;
}

const session = http2.connect(cfg.url, {
  ca: fs.readFileSync(cfg.ca),
  cert: fs.readFileSync(cfg.cert),
  key: fs.readFileSync(cfg.key),
  ALPNProtocols: ['h2'],
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  rejectUnauthorized: true,
  checkServerIdentity,
});
const sessionClosed = new Promise((resolve) => session.once('close', resolve));
session.on('error', (err) => { result.sessionError = result.sessionError || describe(err); });
session.on('connect', (s, socket) => {
  const peer = socket.getPeerCertificate();
  result.tls = { protocol: socket.getProtocol(), alpn: socket.alpnProtocol, peerSan: peer && peer.subjectaltname };
  // A TLS 1.3 server rejects a client certificate after the client's handshake has completed; depending on
  // the server's stack that arrives as an alert (socket error) or just as the connection closing.
  socket.on('error', (err) => { result.socketError = result.socketError || describe(err); });
  socket.on('end', () => { result.socketEndedByPeer = true; });
});
session.on('goaway', (code) => { result.goaway = code; });

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function connectStream(index) {
  return new Promise((resolve) => {
    const payload = crypto.randomBytes(cfg.bytes);
    const expected = sha256(payload);
    const hash = crypto.createHash('sha256');
    const entry = { index, status: null, sent: 0, received: 0, match: false, ended: false, error: null, rstCode: null };
    let done = false;
    const settle = () => { if (!done) { done = true; resolve(entry); } };
    const req = session.request({ ':method': 'CONNECT', ':authority': cfg.authority });
    req.on('response', (headers) => {
      entry.status = headers[':status'];
      if (entry.status === 200) {
        // Send everything, then half-close (END_STREAM): the echo comes back and ends with the server's END_STREAM.
        req.end(payload, () => { entry.sent = payload.length; });
      }
    });
    req.on('data', (chunk) => { hash.update(chunk); entry.received += chunk.length; });
    req.on('end', () => {
      entry.ended = true;
      entry.match = entry.received === payload.length && hash.digest('hex') === expected;
    });
    req.on('error', (err) => { entry.error = describe(err); });
    req.on('close', () => {
      entry.rstCode = req.rstCode;
      if (entry.status === null && !entry.error) {
        entry.error = { code: 'ERR_NO_RESPONSE', message: `stream closed without a response (rstCode ${req.rstCode})` };
      }
      settle();
    });
  });
}

function getRequest() {
  return new Promise((resolve) => {
    const entry = { index: 0, status: null, ended: false, error: null, rstCode: null };
    const req = session.request({ ':method': 'GET', ':scheme': 'https', ':path': '/', ':authority': cfg.authority });
    req.on('response', (headers) => { entry.status = headers[':status']; });
    req.on('data', () => {});
    req.on('end', () => { entry.ended = true; });
    req.on('error', (err) => { entry.error = describe(err); });
    req.on('close', () => {
      entry.rstCode = req.rstCode;
      if (entry.status === null && !entry.error) {
        entry.error = { code: 'ERR_NO_RESPONSE', message: `stream closed without a response (rstCode ${req.rstCode})` };
      }
      resolve(entry);
    });
    req.end();
  });
}

(async () => {
  const count = cfg.mode === 'get' ? 1 : cfg.streams;
  const work = [];
  for (let i = 0; i < count; i++) work.push(cfg.mode === 'get' ? getRequest() : connectStream(i));
  result.streams = await Promise.all(work);
  if (!session.destroyed) session.close();
  await sessionClosed;
  clearTimeout(deadline);
  result.ok = result.sessionError === null && result.socketError === null && result.tls !== null && result.streams.every((s) => !s.error && s.ended &&
    (cfg.mode === 'get' ? s.status !== null : s.status === 200 && s.match));
  finish(result.ok ? 0 : 1);
})().catch((err) => {
  result.sessionError = result.sessionError || describe(err);
  finish(2);
});

// SPDX-License-Identifier: BSD-2-Clause
// wsclient.js URL: node's ws (Debian's node-ws; NODE_PATH=/usr/share/nodejs)
// against a WebSocket server that echoes: a text message, a binary one,
// 70,000 bytes, a ping, then a close; prints what came back, a line each.
// wss:// URLs are not verified.
'use strict';
const WebSocket = require('ws');

const ws = new WebSocket(process.argv[2], { rejectUnauthorized: false });
const steps = [
  () => ws.send('hello'),
  () => ws.send(Buffer.from([0, 255, 98, 105, 110])),
  () => ws.send('y'.repeat(70000)),
  () => ws.ping('p'),
];
let step = 0;
const next = () => { if (step < steps.length) steps[step++](); else ws.close(1000); };
const timer = setTimeout(() => { console.log('timeout'); process.exit(2); }, 20000);
ws.on('open', next);
ws.on('message', (data, isBinary) => {
  if (isBinary) console.log('binary', data.toString('hex'));
  else if (data.length > 100) console.log('big', data.length);
  else console.log('text', data.toString());
  next();
});
ws.on('pong', () => { console.log('pong'); next(); });
ws.on('close', (code) => { console.log('close', code); clearTimeout(timer); });
ws.on('error', (e) => { console.log('error', e.message); process.exit(1); });

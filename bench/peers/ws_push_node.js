// A WebSocket push server with Node's `ws` (tests/integration/node), for
// bench/ws_push_vs_peers.sh: GET /ws/push subscribes; every EVERY_MS a
// binary message of SIZE bytes (8-byte big-endian sequence number from 1,
// 8-byte big-endian Unix ns, 'x' padding: what c1m serve --push-every
// sends) goes to every subscriber with ws's own send (its broadcast
// example: each client frames and writes it).
//     node ws_push_node.js PORT EVERY_MS SIZE
'use strict';
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '../../tests/integration/node/node_modules/ws'));
const port = +process.argv[2], every = +process.argv[3] || 100, size = Math.max(16, +process.argv[4] || 64);
const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws/push', perMessageDeflate: false,
                                  clientTracking: true, backlog: 4096 });
const buf = Buffer.alloc(size, 'x');
let seq = 0n;
const wall0 = BigInt(Date.now()) * 1000000n, hr0 = process.hrtime.bigint();
setInterval(() => {
    seq += 1n;
    buf.writeBigUInt64BE(seq, 0);
    buf.writeBigUInt64BE(wall0 + (process.hrtime.bigint() - hr0), 8); // ms-accurate wall clock
    for (const c of wss.clients)
        if (c.readyState === 1)
            c.send(buf, { binary: true });
}, every);

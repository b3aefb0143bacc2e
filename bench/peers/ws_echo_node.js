// A WebSocket echo server with Node's `ws` (tests/integration/node), for
// bench/ws_echo_vs_peers.sh: GET /ws upgrades, and every message goes back
// as it arrived (text or binary) with ws's own send, as in ws's README
// echo example.
//     node ws_echo_node.js PORT
'use strict';
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '../../tests/integration/node/node_modules/ws'));
const port = +process.argv[2];
const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws', perMessageDeflate: false,
                                  clientTracking: false, backlog: 4096 });
wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
});

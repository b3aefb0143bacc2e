// WebSocket checks against c1m serve --proto http with Node's `ws` package
// (installed by tests/integration/ws_node_setup.sh into node/node_modules).
//   node ws_peer.js PORT
// Prints "ok - ..." / "FAIL - ..." per check; exits 1 on any failure.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, 'node', 'node_modules', 'ws'));
const crypto = require('crypto');

const port = process.argv[2];
let fails = 0;
function check(what, cond, detail) {
    if (cond) console.log('ok   - node: ' + what);
    else { fails++; console.log('FAIL - node: ' + what + ' ' + (detail || '')); }
}

function open(p) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}${p}`, { maxPayload: 0 });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    });
}
function next(ws) {
    return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}

async function main() {
    const ws = await open('/ws');
    for (const n of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
        const t = 'a\u00e9'.repeat(Math.floor(n / 3));
        let r = next(ws);
        ws.send(t);
        let m = await r;
        check(`text of ${t.length} chars echoed`, !m.isBinary && m.data.toString() === t);
        const b = crypto.randomBytes(n);
        r = next(ws);
        ws.send(b);
        m = await r;
        check(`binary of ${n} bytes echoed`, m.isBinary && Buffer.compare(m.data, b) === 0);
    }
    // fragmentation: fin:false frames, then the last
    let r = next(ws);
    ws.send('frag', { fin: false });
    ws.send('men', { fin: false });
    ws.send('ted \u20ac', { fin: true });
    let m = await r;
    check('fragmented text echoed whole', m.data.toString() === 'fragmented \u20ac');
    // ping / pong
    const pong = new Promise((resolve) => ws.once('pong', (d) => resolve(d)));
    ws.ping(Buffer.from('node-ping'));
    const pd = await Promise.race([pong, new Promise((res) => setTimeout(() => res(null), 3000))]);
    check('ping answered with pong (same payload)', pd && pd.toString() === 'node-ping');
    // close handshake with a status
    const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve(code)));
    ws.close(4002, 'bye');
    const code = await closed;
    check('close 4002 answered with 4002', code === 4002, `(got ${code})`);

    // a bad frame: the server's close code reaches the library
    const ws2 = await open('/ws');
    const c2 = new Promise((resolve) => ws2.once('close', (code) => resolve(code)));
    ws2._socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // unmasked
    check('unmasked frame -> close 1002', (await c2) === 1002);

    // push: two subscribers get the same messages, in order
    const subs = await Promise.all([open('/ws/push'), open('/ws/push')]);
    const got = await Promise.all(subs.map((s) => new Promise((resolve) => {
        const seqs = [];
        s.on('message', (d) => {
            seqs.push(Number(d.readBigUInt64BE(0)));
            if (seqs.length === 3) { s.close(); resolve(seqs); }
        });
    })));
    check('push: both subscribers got 3 consecutive messages',
          got.every((s) => s[1] === s[0] + 1 && s[2] === s[1] + 1), JSON.stringify(got));
}

main().then(() => {
    console.log(`node peer: ${fails} failed`);
    process.exit(fails ? 1 : 0);
}, (e) => {
    console.log('FAIL - node: ' + e);
    process.exit(1);
});

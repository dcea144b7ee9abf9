'use strict';
// What `require('..')` (ws's index.js) and `require('../lib/stream')` resolve to while ws's
// public-API tests run: rfc6455's build. The export shape is already ws's (the WebSocket class,
// with WebSocket/WebSocketServer/Server/createWebSocketStream on it), so this only picks the build.
const path = require('node:path');

const dist = process.env.RFC6455_DIST || path.join(__dirname, '..', '..', 'dist', 'index.js');
module.exports = require(dist);

'use strict';
// What ws's `require('../lib/stream')` resolves to: rfc6455's createWebSocketStream.
module.exports = require('./ws-shim.cjs').createWebSocketStream;

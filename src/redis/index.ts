/**
 * `rfc6455/redis`: a broker over Redis pub/sub for servers in several processes. It takes client
 * instances you create (node-redis or ioredis); neither library is a dependency of this package.
 */
export { RedisBroker, type RedisBrokerOptions, type RedisBrokerEventMap } from './broker.js';
export type { RedisFlavor } from './clients.js';
export type { Broker, BrokerLink, BrokerSink } from '../node/broker.js';
export { PublishError, type Position, type HistoryOptions, type HistoryRead } from '../node/history.js';

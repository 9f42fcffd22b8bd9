export { defineRequest, REPLY_HEADERS } from './definition.js';
export type { RequestDefinition } from './definition.js';
export { createRequester } from './requester.js';
export type { Requester, RequesterOptions, RequestOptions } from './requester.js';
export { createEventWaiter } from './waiter.js';
export type { EventWaiter, EventWaiterOptions, Expectation, ExpectOptions } from './waiter.js';
export { replier } from './replier.js';
export type { Answer, ReplierOptions } from './replier.js';
export { ReplyErrors, ReplyErrorCodes } from './errors.js';

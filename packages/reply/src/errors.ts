import { defineErrorCodes } from '@herald/core';

/** The error codes request/reply adds to the core's. */
export const { specs: ReplyErrors, codes: ReplyErrorCodes } = defineErrorCodes({
  requestTimeout: {
    code: 'request-timeout',
    retriable: true,
    meaning: 'No reply to a request arrived within its timeoutMs; a reply arriving later is dropped and counted (reply-dropped), never handed to another caller. Over HTTP a 504.',
    action: 'Retry if the replier is idempotent for the request (it may have processed it); check that the replier runs and keeps up.',
  },
  replyInvalid: {
    code: 'reply-invalid',
    retriable: false,
    meaning:
      "The reply to a request cannot be used: its data does not match the reply's schema (details.issues lists the fields), it is another event type, or it is not an envelope (the cause says which). The replier is at fault, not the caller; over HTTP a 502.",
    action: "Fix the replier or the reply's schema; retrying gets the same answer while they disagree.",
  },
  requesterNotStarted: {
    code: 'requester-not-started',
    retriable: false,
    meaning: 'request() was called on a requester whose app has not started it, so nobody would read the reply. Over HTTP a 503.',
    action: 'Add the requester with app.use(requester) and call request() after app.start().',
  },
  requesterClosed: {
    code: 'requester-closed',
    retriable: true,
    meaning: 'The requester closed (its app is shutting down) before the request was sent (details.sent false: it never will be) or while it waited for its reply (details.sent true: it may have been sent, and the replier may process it). Over HTTP a 503.',
    action: 'Retry on a running instance when details.sent is false; when it is true, retry only if the replier is idempotent for the request.',
  },
  requestHeadersMissing: {
    code: 'request-headers-missing',
    retriable: false,
    meaning: 'A replier got a request without the herald-reply-to and herald-request-id headers, so there is nobody to answer (dead-lettered).',
    action: 'Send requests with request() from @herald/reply; discard the dead letter.',
  },
  waiterNotStarted: {
    code: 'waiter-not-started',
    retriable: false,
    meaning: 'expect() was called on an event waiter whose app has not started it, so nobody would read the awaited events.',
    action: 'Add the waiter with app.use(waiter) and call expect() after app.start().',
  },
  waiterClosed: {
    code: 'waiter-closed',
    retriable: true,
    meaning: 'The event waiter closed (its app is shutting down): waits end without their event.',
    action: 'Retry on a running instance; what the wait was for went on without it.',
  },
});
